//! The LAION aesthetic predictor against upstream's MLP and `normalized()` (fixtures:
//! `tools/golden/gen_clip_vision.py`): `det_weight` weights always; the real
//! `sac+logos+ava1-l14-linearMSE.pth` when `ULTRARES_AESTHETIC_PTH` names it (Diffusion-4K's
//! repository has a copy; not bundled). Also the `clip` package's image preprocessing.

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use image::RgbImage;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_metrics::{AestheticPredictor, ClipImageProcessor};
use ultrares_nn::StateDict;

type B = NdArray<f32>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npz(name: &str) -> NpzReader<std::fs::File> {
    NpzReader::new(std::fs::File::open(fixture(name)).expect("npz")).expect("npz")
}

fn embeddings(z: &mut NpzReader<std::fs::File>) -> Tensor<B, 2> {
    let e: ArrayD<f32> = z.by_name("embeddings").expect("embeddings");
    Tensor::from_data(
        TensorData::new(
            e.iter().copied().collect::<Vec<_>>(),
            [e.shape()[0], e.shape()[1]],
        ),
        &Default::default(),
    )
}

fn check(ours: &[f32], want: &ArrayD<f32>, tol: f32) {
    assert_eq!(ours.len(), want.len());
    for (a, b) in ours.iter().zip(want.iter()) {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{ours:?} vs {want:?}"
        );
    }
}

#[test]
fn aesthetic_mlp_matches_upstream() {
    let keys: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("aesthetics_keys.json")).expect("keys"),
    )
    .expect("JSON");
    let sd = StateDict::from_tensors(
        "mlp",
        keys.iter().map(|(k, shape)| {
            let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
            (k.clone(), TensorData::new(det_weight(k, &shape), shape))
        }),
    );
    let mlp = AestheticPredictor::<B>::from_state_dict(&sd, &Default::default()).expect("load");
    let mut z = npz("aesthetics.npz");
    let scores = mlp.score_embeddings(embeddings(&mut z)).expect("scores");
    check(&scores, &z.by_name("scores_det").expect("scores"), 1e-5);
    // Wrong width; a missing layer.
    let e = mlp
        .score_embeddings(Tensor::zeros([2, 512], &Default::default()))
        .expect_err("width");
    assert!(e.to_string().contains("768"), "{e}");
    let sd = sd
        .renamed(|k| (!k.starts_with("layers.7")).then(|| k.to_string()))
        .expect("rename");
    let e = AestheticPredictor::<B>::from_state_dict(&sd, &Default::default()).expect_err("key");
    assert!(e.to_string().contains("layers.7.weight"), "{e}");
}

/// Opt-in: `ULTRARES_AESTHETIC_PTH=…/sac+logos+ava1-l14-linearMSE.pth`.
#[test]
fn aesthetic_real_weights_match_upstream() {
    let Ok(path) = std::env::var("ULTRARES_AESTHETIC_PTH") else {
        eprintln!("skipped: set ULTRARES_AESTHETIC_PTH to the real predictor");
        return;
    };
    let mlp = AestheticPredictor::<B>::from_file(path, &Default::default()).expect("load");
    let mut z = npz("aesthetics.npz");
    let scores = mlp.score_embeddings(embeddings(&mut z)).expect("scores");
    check(&scores, &z.by_name("scores_real").expect("scores"), 1e-5);
    println!("real aesthetic scores {scores:?}");
}

#[test]
fn openai_clip_preprocessing_matches_torchvision_on_pil() {
    let mut images_npz = npz("clip_score.npz");
    let images: Vec<RgbImage> = (0..8)
        .map(|i| {
            let a: ArrayD<u8> = images_npz.by_name(&format!("image_{i}")).expect("image");
            let (h, w) = (a.shape()[0] as u32, a.shape()[1] as u32);
            RgbImage::from_raw(w, h, a.iter().copied().collect()).expect("rgb")
        })
        .collect();
    let ours = ClipImageProcessor::openai_clip()
        .preprocess::<B>(&images, &Default::default())
        .expect("preprocess");
    let ours: Vec<f32> = ours.into_data().into_vec().expect("f32");
    let want: ArrayD<f32> = npz("aesthetics.npz")
        .by_name("pixel_values_pil_every7")
        .expect("pixels");
    let err = ours
        .iter()
        .step_by(7)
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert_eq!(ours.iter().step_by(7).count(), want.len());
    assert!(err <= 1e-5, "max abs error {err:.2e}");
}
