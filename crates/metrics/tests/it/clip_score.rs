//! CLIPScore against torchmetrics 1.9.0 with transformers 5.24.0 (fixtures:
//! `tools/golden/gen_clip_vision.py`): a tiny random `CLIPModel` (weights `det_weight` over the
//! listed keys), the real OpenAI tokenizer and image processor settings, 8 images of assorted
//! sizes (resized up and down, cropped) and 8 captions, one longer than 77 tokens.

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::tensor::{DType, TensorData};
use image::RgbImage;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_metrics::{ClipImageProcessor, ClipScorer, Error, clip_score};
use ultrares_nn::{ConfigJson, NnBackend, StateDict};
use ultrares_text::{ClipPad, ClipTokenizer};

type B = NdArray<f32>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scorer() -> ClipScorer<B> {
    scorer_in(DType::F32)
}

fn scorer_in<Bk: NnBackend>(dtype: DType) -> ClipScorer<Bk> {
    let keys: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("clip_score_keys.json")).expect("keys"),
    )
    .expect("keys JSON");
    let sd = StateDict::from_tensors(
        "clip",
        keys.iter().map(|(k, shape)| {
            let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
            (k.clone(), TensorData::new(det_weight(k, &shape), shape))
        }),
    );
    let config = ConfigJson::read(fixture("clip_score_config.json")).expect("config");
    let processor = ClipImageProcessor::from_config_json(
        &ConfigJson::read(fixture("preprocessor_config.json")).expect("preprocessor"),
    )
    .expect("processor");
    assert_eq!(processor, ClipImageProcessor::default());
    let tokenizer = ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer");
    ClipScorer::from_state_dict(
        &config,
        &sd,
        tokenizer,
        processor,
        dtype,
        &Default::default(),
    )
    .expect("load")
}

fn inputs() -> (NpzReader<std::fs::File>, Vec<RgbImage>, Vec<String>) {
    let mut npz =
        NpzReader::new(std::fs::File::open(fixture("clip_score.npz")).expect("npz")).expect("npz");
    let images = (0..8)
        .map(|i| {
            let a: ArrayD<u8> = npz.by_name(&format!("image_{i}")).expect("image");
            let (h, w) = (a.shape()[0] as u32, a.shape()[1] as u32);
            RgbImage::from_raw(w, h, a.iter().copied().collect()).expect("rgb")
        })
        .collect();
    let captions: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(fixture("clip_score_captions.json")).expect("captions"),
    )
    .expect("captions JSON");
    (npz, images, captions)
}

fn max_rel(ours: &[f32], want: &[f32]) -> f64 {
    let scale = want.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    ours.iter()
        .zip(want)
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()))
        / scale
}

#[test]
fn clip_score_matches_torchmetrics() {
    let (mut npz, images, captions) = inputs();
    let s = scorer();
    let device = Default::default();
    // Preprocessing: PIL bicubic resize, centre crop, normalisation.
    let pixels: ArrayD<f32> = npz.by_name("pixel_values").expect("pixels");
    let ours = s
        .processor
        .preprocess::<B>(&images, &device)
        .expect("preprocess");
    assert_eq!(ours.dims().to_vec(), pixels.shape().to_vec());
    let ours: Vec<f32> = ours.into_data().into_vec().expect("f32");
    let want: Vec<f32> = pixels.iter().copied().collect();
    let err = ours
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-5, "pixel_values: max abs error {err:.2e}");
    // Tokens: cut at 77, the long caption without its end-of-text.
    let ids: ArrayD<i64> = npz.by_name("input_ids").expect("ids");
    for (r, c) in captions.iter().enumerate() {
        let mut row = s.tokenizer.encode_untruncated(c).expect("tokens");
        row.truncate(77);
        let want: Vec<u32> = ids
            .index_axis(ndarray::Axis(0), r)
            .iter()
            .take(row.len())
            .map(|&v| v as u32)
            .collect();
        assert_eq!(row, want, "caption {r}");
    }
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let scores = s.scores(&images, &refs, &device).expect("scores");
    let want: ArrayD<f32> = npz.by_name("scores").expect("scores");
    let want: Vec<f32> = want.iter().copied().collect();
    let err = max_rel(&scores, &want);
    assert!(
        err <= 1e-4,
        "scores: relative error {err:.2e}: {scores:?} vs {want:?}"
    );
    let metric: ArrayD<f32> = npz.by_name("metric").expect("metric");
    assert!(
        (clip_score(&scores) - metric.iter().next().copied().unwrap_or(f32::NAN)).abs() <= 1e-4
    );
    // A subset with a positive mean, through torchmetrics' own aggregate.
    let subset: ArrayD<i64> = npz.by_name("subset").expect("subset");
    let subset: Vec<usize> = subset.iter().map(|&i| i as usize).collect();
    let metric: ArrayD<f32> = npz.by_name("metric_subset").expect("metric");
    let metric = metric.iter().next().copied().unwrap_or(f32::NAN);
    let ours = clip_score(&subset.iter().map(|&i| scores[i]).collect::<Vec<_>>());
    assert!(
        metric > 1.0 && (ours - metric).abs() <= 1e-4 * metric,
        "{ours} vs {metric}"
    );
    println!("CLIPScore pairs: relative error {err:.2e}; subset metric {ours} vs {metric}");
}

#[test]
fn clip_score_bad_inputs() {
    let (_, images, captions) = inputs();
    let s = scorer();
    let device = Default::default();
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let e = s.scores(&images[..3], &refs, &device).expect_err("counts");
    assert!(
        matches!(e, Error::Argument(ref m) if m.contains("one caption per image")),
        "{e}"
    );
    let e = s.scores(&[], &[], &device).expect_err("empty");
    assert!(e.to_string().contains("at least one image"), "{e}");
    let bad = ConfigJson::parse("preprocessor_config.json", r#"{"resample": 2}"#).expect("json");
    let e = ClipImageProcessor::from_config_json(&bad).expect_err("resample");
    assert!(e.to_string().contains("resample"), "{e}");
    let bad = ConfigJson::parse(
        "preprocessor_config.json",
        r#"{"size": 200, "crop_size": 224}"#,
    )
    .expect("json");
    let e = ClipImageProcessor::from_config_json(&bad).expect_err("crop");
    assert!(e.to_string().contains("crop_size"), "{e}");
    let e =
        ClipScorer::<B>::from_dir(fixture("no-such-clip"), DType::F32, &device).expect_err("dir");
    assert!(e.to_string().contains("config.json"), "{e}");
}

/// Half precision on burn-flex: the towers' linear and embedding weights in f16 or bf16
/// (LayerNorms and softmax in f32) give scores within a few units of the dtype's rounding of
/// torchmetrics' f32 scores.
#[test]
fn half_precision_scores_stay_within_their_rounding_of_torchmetrics() {
    type F = burn_flex::Flex;
    let (mut npz, images, captions) = inputs();
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let want: ArrayD<f32> = npz.by_name("scores").expect("scores");
    let want: Vec<f32> = want.iter().copied().collect();
    for (dtype, u) in [(DType::F16, 2f64.powi(-11)), (DType::BF16, 2f64.powi(-8))] {
        let s = scorer_in::<F>(dtype);
        let scores = s
            .scores(&images, &refs, &Default::default())
            .expect("scores");
        let err = max_rel(&scores, &want);
        println!(
            "{dtype:?}: scores relative error {err:.2e} ({:.1} u)",
            err / u
        );
        assert!(err <= 8.0 * u, "{dtype:?}: relative error {err:.2e}");
        assert!(
            err > 0.01 * u,
            "{dtype:?}: {err:.2e} is too small to have run in half precision"
        );
    }
}
