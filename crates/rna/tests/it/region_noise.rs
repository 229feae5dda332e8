//! Adaptive pooling against PyTorch and the RNA noise-scale map against LSRNA's code path
//! (cv2 gray + Canny, torch AdaptiveAvgPool2d, min-max), fixtures from `tools/golden/gen_rna.py`.

use std::path::PathBuf;

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::{Array2, Array4};
use ndarray_npy::read_npy;
use ultrares_core::image::{RgbImage, read_rgb8};
use ultrares_rna::pool::{adaptive_avg_pool2d, adaptive_bin};
use ultrares_rna::{Error, RegionNoiseConfig};

type B = NdArray<f32>;

fn fx(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn pooling_equals_pytorch() {
    let x: Array2<f32> = read_npy(fx("pool_input_37x53.npy")).unwrap();
    let src = x.as_slice().unwrap();
    for (oh, ow) in [(5, 7), (37, 53), (20, 31), (1, 1), (36, 2), (9, 53)] {
        let want: Array2<f32> = read_npy(fx(&format!("pool_37x53_to_{oh}x{ow}.npy"))).unwrap();
        let got = adaptive_avg_pool2d(src, [37, 53], [oh, ow]).unwrap();
        let e = max_abs(&got, want.as_slice().unwrap());
        assert!(e <= 1e-6, "{oh}x{ow}: {e}");
    }
}

#[test]
fn bins_are_pytorchs() {
    // 1024 → 384: overlapping 3- or 4-wide windows (spec lsrna.md §3).
    let widths: Vec<usize> = (0..384)
        .map(|i| adaptive_bin(i, 1024, 384))
        .map(|(a, b)| b - a)
        .collect();
    assert!(widths.iter().all(|&w| w == 3 || w == 4));
    assert_eq!(adaptive_bin(0, 1024, 256), (0, 4));
    assert_eq!(adaptive_bin(255, 1024, 256), (1020, 1024));
    assert_eq!(adaptive_bin(1, 10, 3), (3, 7));
}

fn reference() -> RgbImage {
    read_rgb8(fx("astronaut_rgb.png")).unwrap()
}

#[test]
fn std_map_equals_lsrna() {
    let img = reference();
    for (h, w) in [(32, 32), (96, 96), (48, 80), (131, 67), (256, 256)] {
        for (preset, cfg) in [
            ("demofusion", RegionNoiseConfig::demofusion()),
            ("pixelsmith", RegionNoiseConfig::pixelsmith()),
        ] {
            let want: Array2<f32> = read_npy(fx(&format!("rna_std_{preset}_{h}x{w}.npy"))).unwrap();
            let got = cfg.std_map(&img, [h, w]).unwrap();
            let e = max_abs(&got, want.as_slice().unwrap());
            assert!(e <= 1e-6, "{preset} {h}x{w}: {e}");
            let (lo, hi) = got
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert!((lo - cfg.e_min).abs() < 1e-6 && (hi - cfg.e_max).abs() < 1e-6);
        }
    }
}

#[test]
fn noise_addition_equals_lsrna_with_the_same_noise() {
    let dev = Default::default();
    let load = |n: &str| {
        let a: Array4<f32> = read_npy(fx(n)).unwrap();
        Tensor::<B, 4>::from_data(
            TensorData::new(a.as_slice().unwrap().to_vec(), [1, 4, 48, 80]),
            &dev,
        )
    };
    let out = RegionNoiseConfig::demofusion()
        .apply_with_noise(
            load("rna_latent_1x4x48x80.npy"),
            &reference(),
            load("rna_eps_1x4x48x80.npy"),
        )
        .unwrap();
    let want = load("rna_out_demofusion_1x4x48x80.npy");
    let e = (out - want).abs().max().into_scalar();
    assert!(e <= 1e-6, "{e}");
}

#[test]
fn seeded_application_is_reproducible() {
    let dev = Default::default();
    let z = Tensor::<B, 4>::zeros([1, 4, 32, 32], &dev);
    let cfg = RegionNoiseConfig::demofusion();
    let a = cfg.apply(z.clone(), &reference(), 5).unwrap().into_data();
    let b = cfg.apply(z.clone(), &reference(), 5).unwrap().into_data();
    let c = cfg.apply(z, &reference(), 6).unwrap().into_data();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn flat_reference_gives_e_min_not_nan() {
    let flat = RgbImage::from_pixel(64, 48, ultrares_core::image::Rgb([90, 90, 90]));
    for cfg in [
        RegionNoiseConfig::demofusion(),
        RegionNoiseConfig::pixelsmith(),
    ] {
        let m = cfg.std_map(&flat, [8, 6]).unwrap();
        assert!(m.iter().all(|&v| v == cfg.e_min), "{m:?}");
    }
}

#[test]
fn bad_input_is_an_error() {
    let dev = Default::default();
    let img = reference();
    let z = Tensor::<B, 4>::zeros([1, 4, 32, 32], &dev);
    let bad = RegionNoiseConfig {
        e_min: 1.0,
        e_max: 0.5,
        ..RegionNoiseConfig::demofusion()
    };
    assert!(matches!(
        bad.std_map(&img, [8, 8]),
        Err(Error::Argument {
            arg: "e_min, e_max",
            ..
        })
    ));
    let nan = RegionNoiseConfig {
        e_max: f32::NAN,
        ..RegionNoiseConfig::demofusion()
    };
    assert!(matches!(
        nan.apply(z.clone(), &img, 0),
        Err(Error::Argument { .. })
    ));
    let cfg = RegionNoiseConfig::demofusion();
    assert!(matches!(
        cfg.std_map(&img, [257, 8]),
        Err(Error::Argument { arg: "size", .. })
    ));
    assert!(matches!(
        cfg.std_map(&img, [0, 8]),
        Err(Error::Argument { arg: "size", .. })
    ));
    assert!(matches!(
        cfg.std_map(&RgbImage::new(0, 0), [1, 1]),
        Err(Error::Argument { arg: "size", .. })
    ));
    let mut v = vec![0f32; 4 * 32 * 32];
    v[17] = f32::NAN;
    v[99] = f32::INFINITY;
    let zn = Tensor::<B, 4>::from_data(TensorData::new(v, [1, 4, 32, 32]), &dev);
    let e = cfg.apply(zn, &img, 0).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Core(ultrares_core::Error::NonFinite { count: 2, .. })
        ),
        "{e}"
    );
    let e = cfg
        .apply_with_noise(z, &img, Tensor::zeros([1, 4, 32, 31], &dev))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Core(ultrares_core::Error::Shape { arg: "noise", .. })
        ),
        "{e}"
    );
    assert!(matches!(
        adaptive_avg_pool2d(&[1.0; 6], [2, 3], [0, 1]),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        adaptive_avg_pool2d(&[1.0; 5], [2, 3], [1, 1]),
        Err(Error::Argument { arg: "src", .. })
    ));
}
