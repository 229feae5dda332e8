//! Fixture loading for the PyWavelets goldens (`tools/golden/gen_wavelet.py`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use burn::backend::NdArray;
use burn::tensor::{Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;

pub type B = NdArray<f32>;
pub type B64 = NdArray<f64>;

/// All arrays of one `.npz` fixture, as f64, by key (without `.npy`).
pub struct Npz(pub HashMap<String, ArrayD<f64>>);

impl Npz {
    pub fn open(name: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let mut npz = NpzReader::new(File::open(&path).expect("fixture")).expect("npz");
        let mut map = HashMap::new();
        for entry in npz.names().expect("names") {
            let key = entry.trim_end_matches(".npy").to_string();
            let arr: ArrayD<f64> = match npz.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&entry) {
                Ok(a) => a,
                Err(_) => npz
                    .by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&entry)
                    .expect("f32 or f64 array")
                    .mapv(f64::from),
            };
            map.insert(key, arr);
        }
        Self(map)
    }

    pub fn get(&self, key: &str) -> &ArrayD<f64> {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("fixture key {key}"))
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn keys_with_suffix(&self, suffix: &str) -> Vec<String> {
        let mut k: Vec<String> = self
            .0
            .keys()
            .filter_map(|k| k.strip_suffix(suffix).map(str::to_string))
            .collect();
        k.sort();
        k
    }

    pub fn tensor<const D: usize>(&self, key: &str) -> Tensor<B, D> {
        to_tensor(self.get(key))
    }

    pub fn tensor64<const D: usize>(&self, key: &str) -> Tensor<B64, D> {
        to_tensor(self.get(key))
    }
}

pub fn to_tensor<Bk: burn::tensor::backend::Backend, const D: usize>(
    a: &ArrayD<f64>,
) -> Tensor<Bk, D> {
    let data = TensorData::new(a.iter().copied().collect::<Vec<f64>>(), a.shape().to_vec());
    Tensor::from_data(data, &Default::default())
}

/// Max abs difference between a tensor and a reference array; panics on shape mismatch.
pub fn max_err<Bk: burn::tensor::backend::Backend, const D: usize>(
    t: &Tensor<Bk, D>,
    want: &ArrayD<f64>,
    what: &str,
) -> f64 {
    assert_eq!(t.dims().to_vec(), want.shape().to_vec(), "{what}: shape");
    let got = t
        .to_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data");
    got.iter()
        .zip(want.iter())
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
}

pub fn max_diff<Bk: burn::tensor::backend::Backend, const D: usize>(
    a: &Tensor<Bk, D>,
    b: &Tensor<Bk, D>,
) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes");
    a.clone()
        .sub(b.clone())
        .abs()
        .max()
        .into_scalar()
        .to_f64_lossy()
}

trait Lossy {
    fn to_f64_lossy(self) -> f64;
}
impl<E: burn::tensor::ElementConversion> Lossy for E {
    fn to_f64_lossy(self) -> f64 {
        self.elem()
    }
}
