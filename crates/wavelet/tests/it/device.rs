//! The CubeCL Haar kernels on a GPU runtime (opt-in: `cargo test -p ultrares-wavelet --features
//! wgpu,ndarray device::`, Mesa's lavapipe is enough; or `--features cuda,ndarray` on an
//! NVIDIA GPU) equal the generic tensor-op path on the same device and the CPU kernel.
#![cfg(any(feature = "wgpu", feature = "cuda"))]
use crate::common;

use burn::tensor::{Tensor, TensorData};
use common::B;
use ultrares_wavelet::{Coeffs2, Mode, Wavelet, dwt2, fast, idwt2};

#[cfg(feature = "cuda")]
type W = burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u32>;
#[cfg(not(feature = "cuda"))]
type W = burn_cubecl::CubeBackend<cubecl::wgpu::WgpuRuntime, f32, i32, u32>;

fn host(t: &Tensor<W, 4>) -> Vec<f32> {
    t.to_data().convert::<f32>().to_vec::<f32>().unwrap()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn cube_haar_equals_generic_and_cpu() {
    let device = Default::default();
    let haar = Wavelet::haar();
    for shape in [
        [1, 1, 2, 2],
        [2, 3, 8, 6],
        [1, 4, 64, 130],
        [1, 3, 256, 512],
    ] {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        let x = Tensor::<W, 4>::from_data(TensorData::new(values.clone(), shape), &device);
        let kernel = fast::dwt2(x.clone(), &haar, Mode::Zero).unwrap();
        let generic = dwt2(x.clone(), &haar, Mode::Zero).unwrap();
        let cpu = fast::dwt2(
            Tensor::<B, 4>::from_data(TensorData::new(values.clone(), shape), &Default::default()),
            &haar,
            Mode::Zero,
        )
        .unwrap();
        let (k, g, c) = (
            kernel.clone().into_array(),
            generic.into_array(),
            cpu.into_array(),
        );
        for i in 0..4 {
            let kv = host(&k[i]);
            assert!(
                max_abs(&kv, &host(&g[i])) <= 1e-5,
                "{shape:?} band {i} vs generic"
            );
            let cv = c[i].to_data().to_vec::<f32>().unwrap();
            assert!(max_abs(&kv, &cv) <= 1e-6, "{shape:?} band {i} vs cpu");
        }
        let back = fast::idwt2(kernel.clone(), &haar, Mode::Zero).unwrap();
        let got = host(&back);
        assert!(
            max_abs(&got, &values) <= 1e-5,
            "{shape:?} round trip: {:?}… want {:?}…",
            &got[..got.len().min(8)],
            &values[..values.len().min(8)]
        );
        let back_generic = idwt2(Coeffs2::from_array(k), &haar, Mode::Zero).unwrap();
        assert!(
            max_abs(&host(&back), &host(&back_generic)) <= 1e-5,
            "{shape:?} inverse vs generic"
        );
    }
}

/// The inverse kernel alone, on bands uploaded from the host (not produced by the forward kernel).
#[test]
fn cube_haar_inverse_of_uploaded_bands() {
    let device = Default::default();
    let haar = Wavelet::haar();
    for shape in [[1, 1, 1, 1], [1, 2, 3, 5], [2, 3, 16, 9]] {
        let n: usize = shape.iter().product();
        let band = |b: usize| {
            let v: Vec<f32> = (0..n)
                .map(|i| ((i * 31 + b * 17) % 23) as f32 - 11.0)
                .collect();
            Tensor::<W, 4>::from_data(TensorData::new(v, shape), &device)
        };
        let coeffs = Coeffs2::from_array([band(0), band(1), band(2), band(3)]);
        let kernel = host(&fast::idwt2(coeffs.clone(), &haar, Mode::Zero).unwrap());
        let generic = host(&idwt2(coeffs, &haar, Mode::Zero).unwrap());
        assert!(
            max_abs(&kernel, &generic) <= 1e-5,
            "{shape:?}: {:?}… want {:?}…",
            &kernel[..kernel.len().min(8)],
            &generic[..generic.len().min(8)]
        );
    }
}

#[test]
fn cube_backend_falls_back_for_other_wavelets() {
    let device = Default::default();
    let db2 = Wavelet::new("db2").unwrap();
    let values: Vec<f32> = (0..2 * 9 * 7).map(|i| (i % 13) as f32 - 6.0).collect();
    let x = Tensor::<W, 4>::from_data(TensorData::new(values.clone(), [1, 2, 9, 7]), &device);
    let k = fast::dwt2(x.clone(), &db2, Mode::Symmetric).unwrap();
    let g = dwt2(x, &db2, Mode::Symmetric).unwrap();
    assert!(max_abs(&host(&k.d), &host(&g.d)) <= 1e-6);
}

/// The kernel takes the dtype at launch: f16 runs where the device supports it.
#[test]
fn cube_haar_f16() {
    use burn::tensor::DType;
    let device = Default::default();
    let haar = Wavelet::haar();
    let shape = [1, 2, 16, 24];
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 64) as f32 / 16.0) - 2.0)
        .collect();
    let x = Tensor::<W, 4>::from_data(TensorData::new(values.clone(), shape), &device);
    let x16 = x.clone().cast(DType::F16);
    let k = fast::dwt2(x16, &haar, Mode::Zero).unwrap();
    assert_eq!(k.a.dtype(), DType::F16);
    let f32_bands = fast::dwt2(x, &haar, Mode::Zero).unwrap().into_array();
    for (b16, b32) in k.clone().into_array().iter().zip(f32_bands.iter()) {
        let g = host(&b16.clone().cast(DType::F32));
        assert!(max_abs(&g, &host(b32)) <= 4e-3, "f16 band");
    }
    let back = fast::idwt2(k, &haar, Mode::Zero).unwrap().cast(DType::F32);
    assert!(max_abs(&host(&back), &values) <= 8e-3);
}
