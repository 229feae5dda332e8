//! Helpers shared by the encoder tests: fixtures, `det_weight` state dicts, relative errors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::{ConfigJson, StateDict};
use ultrares_text::ClipTextConfig;

/// The test backend.
pub type B = NdArray<f32>;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub struct Golden {
    pub npz: NpzReader<std::fs::File>,
    pub keys: serde_json::Value,
}

impl Golden {
    pub fn open(stem: &str) -> Self {
        let npz =
            NpzReader::new(std::fs::File::open(fixture(&format!("{stem}.npz"))).expect("npz"))
                .expect("npz");
        let keys = std::fs::read_to_string(fixture(&format!("{stem}_keys.json")))
            .map(|t| serde_json::from_str(&t).expect("keys JSON"))
            .unwrap_or(serde_json::Value::Null);
        Self { npz, keys }
    }

    pub fn f32(&mut self, name: &str) -> ArrayD<f32> {
        self.npz
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn ids(&mut self, name: &str) -> Tensor<B, 2, Int> {
        let a: ArrayD<i64> = self.npz.by_name(name).expect("ids");
        let shape = [a.shape()[0], a.shape()[1]];
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
            &Default::default(),
        )
    }

    /// `det_weight` for every key transformers' `state_dict()` has (no `text_model.` prefix for a
    /// `CLIPTextModel` in transformers 5; with it for `CLIPTextModelWithProjection`).
    pub fn state_dict(&self, model: &str) -> StateDict {
        let keys = self.keys[model].as_object().expect("model keys");
        StateDict::from_tensors(
            model,
            keys.iter().map(|(k, shape)| {
                let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
                (k.clone(), TensorData::new(det_weight(k, &shape), shape))
            }),
        )
    }
}

pub fn config(name: &str) -> ClipTextConfig {
    let cfg = ConfigJson::read(fixture(&format!("clip_{name}_config.json"))).expect("config");
    ClipTextConfig::from_config_json(&cfg).expect("CLIP text config")
}

/// max |a − b| / max |b| (relative to the reference's scale).
pub fn rel_err<const D: usize>(ours: Tensor<B, D>, reference: &ArrayD<f32>, what: &str) -> f64 {
    assert_eq!(
        ours.dims().to_vec(),
        reference.shape().to_vec(),
        "{what}: shape"
    );
    let ours: Vec<f32> = ours.into_data().convert::<f32>().into_vec().expect("f32");
    let scale = reference.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    diff / scale
}
