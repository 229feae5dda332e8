//! `ultrares clip-score` on a CLIPModel folder built from ultrares-metrics' torchmetrics
//! fixtures (`tools/golden/gen_clip_vision.py`): the same 8 pairs give torchmetrics' scores; bad
//! input is one clear error.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares::text::{ClipPad, write_openai_folder};

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn metrics_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../metrics/tests/fixtures")
        .join(name)
}

/// The model folder, 8 PNGs and the prompts file in `dir`; returns the golden scores.
fn setup(dir: &Path) -> Vec<f32> {
    let model = dir.join("clip");
    let keys = common::json(&metrics_fixture("clip_score_keys.json"));
    common::write_det_safetensors(
        &model.join("model.safetensors"),
        keys.as_object().expect("keys"),
    );
    for f in ["clip_score_config.json", "preprocessor_config.json"] {
        let to = if f.starts_with("clip_score") {
            "config.json"
        } else {
            f
        };
        std::fs::copy(metrics_fixture(f), model.join(to)).expect("copy");
    }
    write_openai_folder(&model, ClipPad::EndOfText).expect("tokenizer");
    let mut npz =
        NpzReader::new(std::fs::File::open(metrics_fixture("clip_score.npz")).expect("npz"))
            .expect("npz");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    for i in 0..8 {
        let a: ArrayD<u8> = npz.by_name(&format!("image_{i}")).expect("image");
        let (h, w) = (a.shape()[0] as u32, a.shape()[1] as u32);
        image::RgbImage::from_raw(w, h, a.iter().copied().collect())
            .expect("rgb")
            .save(images.join(format!("{i}.png")))
            .expect("png");
    }
    let captions: Vec<String> =
        serde_json::from_value(common::json(&metrics_fixture("clip_score_captions.json")))
            .expect("captions");
    std::fs::write(dir.join("prompts.txt"), captions.join("\n") + "\n").expect("prompts");
    let scores: ArrayD<f32> = npz.by_name("scores").expect("scores");
    scores.iter().copied().collect()
}

#[test]
fn clip_score_cli_matches_torchmetrics() {
    let dir = std::env::temp_dir().join(format!("ultrares-clip-score-{}", std::process::id()));
    let want = setup(&dir);
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let (images, prompts, model) = (
        s(&dir.join("images")),
        s(&dir.join("prompts.txt")),
        s(&dir.join("clip")),
    );
    let o = ultrares(&[
        "clip-score",
        &images,
        "--prompts",
        &prompts,
        "--model",
        &model,
        "--batch",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let pairs = v["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 8);
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (p, w) in pairs.iter().zip(&want) {
        let got = p["score"].as_f64().expect("score") as f32;
        assert!((got - w).abs() <= 1e-4 * scale, "{p}: want {w}");
    }
    let mean = want.iter().sum::<f32>() / 8.0;
    assert!((v["clip_score"].as_f64().expect("metric") as f32 - mean.max(0.0)).abs() <= 1e-3);
    // Text output.
    let o = ultrares(&[
        "clip-score",
        &images,
        "--prompts",
        &prompts,
        "--model",
        &model,
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("CLIPScore "),
        "{o:?}"
    );
    // Counts that differ, an unreadable prompts file, a folder that is not a CLIP model.
    let one = dir.join("one.txt");
    std::fs::write(&one, "a photo of a cat\n").expect("write");
    for (args, what) in [
        (
            vec![
                "clip-score",
                &images,
                "--prompts",
                &s(&one),
                "--model",
                &model,
            ],
            "8 images but 1 prompts",
        ),
        (
            vec![
                "clip-score",
                &images,
                "--prompts",
                "/no/such/prompts.txt",
                "--model",
                &model,
            ],
            "prompts.txt",
        ),
        (
            vec![
                "clip-score",
                &images,
                "--prompts",
                &prompts,
                "--model",
                &images,
            ],
            "config.json",
        ),
    ] {
        let o = ultrares(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: ") && err.contains(what),
            "{what}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
