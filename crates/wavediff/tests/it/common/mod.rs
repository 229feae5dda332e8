//! Helpers shared by the WaveDiff tests: fixtures, `det_weight` state dicts from the official
//! key lists, relative errors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::StateDict;

/// The test backend.
pub type B = NdArray<f32>;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `(name, shape)` per line of a `keys_*.txt` fixture (`name d0,d1,…`).
pub fn key_list(name: &str) -> Vec<(String, Vec<usize>)> {
    let text = std::fs::read_to_string(fixture(name)).expect("key list");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, s) = l.split_once(' ').expect("`name shape`");
            let shape = s
                .trim()
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.trim().parse().expect("dimension"))
                .collect();
            (k.to_string(), shape)
        })
        .collect()
}

/// `det_weight` for every key of an official key list (optionally prefixed).
pub fn det_state_dict(name: &str, prefix: &str) -> StateDict {
    StateDict::from_tensors(
        name,
        key_list(name).into_iter().map(|(k, shape)| {
            let data = TensorData::new(det_weight(&k, &shape), shape);
            (format!("{prefix}{k}"), data)
        }),
    )
}

pub struct Golden(NpzReader<std::fs::File>);

impl Golden {
    pub fn open(name: &str) -> Self {
        let f = std::fs::File::open(fixture(name)).expect("fixture");
        Self(NpzReader::new(f).expect("npz"))
    }

    pub fn array(&mut self, key: &str) -> ArrayD<f32> {
        self.0.by_name(key).expect(key)
    }

    pub fn tensor<const D: usize>(&mut self, key: &str) -> Tensor<B, D> {
        let a = self.array(key);
        let shape = a.shape().to_vec();
        let data = TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape);
        Tensor::from_data(data, &Default::default())
    }

    pub fn ints(&mut self, key: &str) -> Tensor<B, 1, Int> {
        let a: ArrayD<i64> = self.0.by_name(key).expect(key);
        let v: Vec<i64> = a.iter().copied().collect();
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), &Default::default())
    }

    pub fn has(&mut self, key: &str) -> bool {
        self.0
            .names()
            .expect("names")
            .iter()
            .any(|n| n == key || n == &format!("{key}.npy"))
    }
}

/// `max |a − b| / max |b|`.
pub fn rel_err<const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes");
    let scale = b.clone().abs().max().into_scalar() as f64;
    let diff = (a - b).abs().max().into_scalar() as f64;
    diff / scale.max(1e-30)
}

/// The model of a fixture's official argparse namespace (`<name>.json` → `args`).
pub fn official(name: &str) -> ultrares_wavediff::OfficialArgs {
    let path = fixture(&format!("{name}.json"));
    let cfg = ultrares_nn::ConfigJson::read(&path).expect("json");
    ultrares_wavediff::OfficialArgs::from_json(&cfg).expect("args")
}
