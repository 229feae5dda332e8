//! Helpers shared by the DiT tests: fixtures, `det_weight` state dicts from diffusers' key
//! lists (`dit_keys.json`), relative errors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::{ConfigJson, StateDict};

/// The test backend.
pub type B = NdArray<f32>;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `dit_keys.json`: `{model: {"parameters": n, "keys": {key: shape}}}` from diffusers.
pub fn keys() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("dit_keys.json")).expect("keys"))
        .expect("keys JSON")
}

/// `det_weight` for every key of diffusers' `state_dict()` of `model` in `dit_keys.json`.
pub fn det_state_dict(model: &str) -> StateDict {
    let keys = keys();
    let keys = keys[model]["keys"].as_object().expect("model keys").clone();
    StateDict::from_tensors(
        model,
        keys.into_iter().map(|(k, shape)| {
            let shape: Vec<usize> = serde_json::from_value(shape).expect("shape");
            let data = TensorData::new(det_weight(&k, &shape), shape);
            (k, data)
        }),
    )
}

pub fn config(name: &str) -> ConfigJson {
    ConfigJson::read(fixture(&format!("{name}_config.json"))).expect("config")
}

pub struct Golden(pub NpzReader<std::fs::File>);

impl Golden {
    pub fn open(stem: &str) -> Self {
        Self(
            NpzReader::new(std::fs::File::open(fixture(&format!("{stem}.npz"))).expect("npz"))
                .expect("npz"),
        )
    }

    pub fn array(&mut self, name: &str) -> ArrayD<f32> {
        self.0
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn tensor<const D: usize>(&mut self, name: &str) -> Tensor<B, D> {
        let a = self.array(name);
        let shape: [usize; D] = a.shape().try_into().expect("rank");
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
            &Default::default(),
        )
    }
}

/// max |a − b| / max |b| (relative to the reference's scale).
pub fn rel_err<const D: usize>(ours: Tensor<B, D>, reference: &ArrayD<f32>, what: &str) -> f64 {
    assert_eq!(
        ours.dims().to_vec(),
        reference.shape().to_vec(),
        "{what}: shape"
    );
    let ours: Vec<f32> = ours.into_data().convert::<f32>().to_vec().expect("f32");
    assert!(ours.iter().all(|v| v.is_finite()), "{what}: non-finite");
    let scale = reference
        .iter()
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max(f64::from(a - b).abs()));
    diff / scale.max(1e-30)
}
