//! pytorch-fid 0.3.0's InceptionV3 (`tools/golden/gen_metrics.py`, fixture `inception.npz`):
//! pool3 features and fc logits with deterministic weights written by this test into a
//! safetensors file under PyTorch's key names and loaded through `InceptionV3::load_file`.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
use common::{astronaut, crop, fixtures, procedural, splitmix_uniform};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use ultrares_core::image::{ValueRange, rgb8_batch_to_tensor};
use ultrares_metrics::inception::resize_bilinear;
use ultrares_metrics::{Error, InceptionV3, InceptionV3Config};

type B = NdArray<f32>;

/// `det_weight` of gen_metrics.py.
fn det_weight(key: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let seed = key.bytes().map(u64::from).sum();
    splitmix_uniform(seed, n)
        .map(|u| {
            let v = if key.ends_with("conv.weight") {
                u * (6.0 / (n / shape[0]) as f64).sqrt()
            } else if key.ends_with("bn.weight") {
                1.0 + 0.1 * u
            } else if key.ends_with("bn.running_var") {
                1.0 + 0.25 * (u + 1.0)
            } else if key == "fc.weight" {
                u * (3.0 / shape[1] as f64).sqrt()
            } else {
                0.1 * u
            };
            v as f32
        })
        .collect()
}

/// Writes the deterministic weights as pytorch-fid's state dict would hold them (PyTorch names
/// and layouts, plus the batch norms' `num_batches_tracked`) minus the keys in `drop`.
fn write_weights(path: &Path, drop: &[&str]) {
    let model = InceptionV3Config::new().init::<B>(&Default::default());
    let snaps = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)> = Vec::new();
    for s in &snaps {
        let key = s.full_path();
        let shape: Vec<usize> = s.shape.iter().copied().collect();
        let bytes = det_weight(&key, &shape)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        if key.ends_with("bn.running_var") {
            let nbt = key.replace("running_var", "num_batches_tracked");
            tensors.push((
                nbt,
                vec![],
                0i64.to_le_bytes().to_vec(),
                safetensors::Dtype::I64,
            ));
        }
        tensors.push((key, shape, bytes, safetensors::Dtype::F32));
    }
    assert_eq!(
        tensors.len(),
        94 * 6 + 2,
        "pytorch-fid's state dict: 94 BasicConv2d (conv + 5 batch-norm tensors) + fc"
    );
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .filter(|(k, ..)| !drop.contains(&k.as_str()))
        .map(|(k, shape, bytes, dt)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(*dt, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-inception-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn load_fixture() -> HashMap<String, ArrayD<f32>> {
    let mut npz =
        NpzReader::new(std::fs::File::open(fixtures().join("inception.npz")).unwrap()).unwrap();
    let mut out = HashMap::new();
    for name in npz.names().unwrap() {
        let a = npz
            .by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&name)
            .unwrap();
        out.insert(name.trim_end_matches(".npy").to_string(), a);
    }
    out
}

/// Max |ours − ref| relative to max |ref|.
fn rel_err(ours: Tensor<B, 2>, reference: &ArrayD<f32>) -> f64 {
    let ours = ours.into_data().to_vec::<f32>().unwrap();
    assert_eq!(ours.len(), reference.len());
    let scale = reference
        .iter()
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max(f64::from(a - b).abs()));
    diff / scale
}

#[test]
fn features_and_logits_equal_pytorch_fid() {
    let device = Default::default();
    let path = tmp("det.safetensors");
    write_weights(&path, &[]);
    let model = InceptionV3::<B>::load_file(&path, &device).unwrap();
    let fx = load_fixture();
    let astro = astronaut();
    let batches = [
        (
            "astronaut_crops",
            vec![crop(&astro, 30, 100, 40, 50), crop(&astro, 150, 20, 40, 50)],
        ),
        ("procedural_320x400", vec![procedural(320, 400)]),
    ];
    for (name, imgs) in batches {
        let x = rgb8_batch_to_tensor::<B>(&imgs, ValueRange::ZeroOne, &device).unwrap();
        let pool = model.features(x).unwrap();
        let logits = model.logits(pool.clone());
        let (ep, el) = (
            rel_err(pool, &fx[&format!("{name}_pool3")]),
            rel_err(logits, &fx[&format!("{name}_logits")]),
        );
        println!("{name}: pool3 rel err {ep:.2e}, logits {el:.2e}");
        assert!(
            ep <= 1e-4 && el <= 1e-4,
            "{name}: pool3 {ep:e}, logits {el:e}"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn weight_files_are_checked() {
    let device = burn::backend::ndarray::NdArrayDevice::Cpu;
    let missing = tmp("missing.safetensors");
    write_weights(&missing, &["Mixed_6c.branch7x7_2.bn.running_mean"]);
    let err = InceptionV3::<B>::load_file(&missing, &device).unwrap_err();
    assert!(
        matches!(err, Error::Weights(_)) && err.to_string().contains("Mixed_6c.branch7x7_2.bn"),
        "{err}"
    );
    let none = tmp("none.safetensors");
    assert!(matches!(
        InceptionV3::<B>::load_file(&none, &device),
        Err(Error::Weights(_))
    ));
    let wrong_ext = tmp("weights.onnx");
    std::fs::write(&wrong_ext, b"x").unwrap();
    assert!(matches!(
        InceptionV3::<B>::load_file(&wrong_ext, &device),
        Err(Error::Weights(_))
    ));
    let bad_pth = tmp("garbage.pth");
    std::fs::write(&bad_pth, b"not a zip or pickle").unwrap();
    assert!(matches!(
        InceptionV3::<B>::load_file(&bad_pth, &device),
        Err(Error::Weights(_))
    ));
    let model = InceptionV3Config::new().init::<B>(&device);
    let gray = Tensor::<B, 4>::zeros([1, 1, 8, 8], &device);
    assert!(matches!(model.features(gray), Err(Error::Image(_))));
    for p in [missing, wrong_ext, bad_pth] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn resize_to_the_same_size_is_the_identity() {
    let device = Default::default();
    let x = Tensor::<B, 4>::random([1, 3, 7, 5], burn::tensor::Distribution::Default, &device);
    let y = resize_bilinear(x.clone(), 7, 5);
    assert_eq!(x.into_data(), y.into_data());
}

/// Half precision on burn-flex (CPU f16/bf16 tensors): `with_dtype` runs the network in f16 or
/// bf16 and returns f32 features within a few units of the dtype's rounding of pytorch-fid's
/// f32 features (the batch norms folded in f32, the resize and the average pool in f32; the
/// logits computed in f32 from them).
#[test]
fn half_precision_features_stay_within_their_rounding_of_pytorch_fid() {
    type F = burn_flex::Flex;
    let device = Default::default();
    let path = tmp("det_half.safetensors");
    write_weights(&path, &[]);
    let model = InceptionV3::<F>::load_file(&path, &device).unwrap();
    std::fs::remove_file(&path).unwrap();
    let fx = load_fixture();
    let imgs = [procedural(320, 400)];
    for (dtype, u) in [
        (burn::tensor::DType::F16, 2f64.powi(-11)),
        (burn::tensor::DType::BF16, 2f64.powi(-8)),
    ] {
        let m = model.clone().with_dtype(dtype);
        let x = rgb8_batch_to_tensor::<F>(&imgs, ValueRange::ZeroOne, &device).unwrap();
        let pool = m.features(x).unwrap();
        assert_eq!(pool.dtype(), burn::tensor::DType::F32);
        let logits = m.logits(pool.clone());
        let rel = |t: Tensor<F, 2>, r: &ArrayD<f32>| {
            let ours = t.into_data().to_vec::<f32>().unwrap();
            let scale = r.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
            ours.iter()
                .zip(r.iter())
                .fold(0f64, |m, (&a, &b)| m.max(f64::from(a - b).abs()))
                / scale
        };
        let (ep, el) = (
            rel(pool, &fx["procedural_320x400_pool3"]),
            rel(logits, &fx["procedural_320x400_logits"]),
        );
        println!(
            "{dtype:?}: pool3 rel err {ep:.2e} ({:.1} u), logits {el:.2e} ({:.1} u)",
            ep / u,
            el / u
        );
        assert!(
            ep <= 8.0 * u && el <= 8.0 * u,
            "{dtype:?}: pool3 {ep:e}, logits {el:e}"
        );
        assert!(
            ep > 0.1 * u,
            "{dtype:?}: {ep:e} is too small to have run in half precision"
        );
    }
}
