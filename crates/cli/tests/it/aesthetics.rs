//! `ultrares aesthetics` end to end on a tiny CLIP image tower with a 768-wide projection and
//! the aesthetic MLP (`det_weight` weights): the CLI prints what the library computes (each
//! part is checked against upstream in ultrares-metrics' tests); bad input is one clear error.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::backend::NdArray;
use serde_json::json;
use ultrares::metrics::AestheticPredictor;

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

/// A CLIPVisionModelWithProjection folder: 32 wide, 1 layer, 224² in 32² patches, projection 768.
fn tiny_clip(dir: &Path) {
    let (d, ff) = (32usize, 37usize);
    let mut keys = serde_json::Map::new();
    let mut add = |k: &str, shape: &[usize]| {
        keys.insert(k.to_string(), json!(shape));
    };
    let e = "vision_model.embeddings";
    add(&format!("{e}.class_embedding"), &[d]);
    add(&format!("{e}.patch_embedding.weight"), &[d, 3, 32, 32]);
    add(&format!("{e}.position_embedding.weight"), &[50, d]);
    for n in ["pre_layrnorm", "post_layernorm"] {
        add(&format!("vision_model.{n}.weight"), &[d]);
        add(&format!("vision_model.{n}.bias"), &[d]);
    }
    let l = "vision_model.encoder.layers.0";
    for p in ["q_proj", "k_proj", "v_proj", "out_proj"] {
        add(&format!("{l}.self_attn.{p}.weight"), &[d, d]);
        add(&format!("{l}.self_attn.{p}.bias"), &[d]);
    }
    for n in ["layer_norm1", "layer_norm2"] {
        add(&format!("{l}.{n}.weight"), &[d]);
        add(&format!("{l}.{n}.bias"), &[d]);
    }
    add(&format!("{l}.mlp.fc1.weight"), &[ff, d]);
    add(&format!("{l}.mlp.fc1.bias"), &[ff]);
    add(&format!("{l}.mlp.fc2.weight"), &[d, ff]);
    add(&format!("{l}.mlp.fc2.bias"), &[d]);
    add("visual_projection.weight", &[768, d]);
    common::write_det_safetensors(&dir.join("model.safetensors"), &keys);
    let config = json!({"architectures": ["CLIPVisionModelWithProjection"], "model_type": "clip_vision_model",
        "hidden_size": d, "intermediate_size": ff, "num_hidden_layers": 1, "num_attention_heads": 4,
        "image_size": 224, "patch_size": 32, "projection_dim": 768, "hidden_act": "quick_gelu"});
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config");
}

#[test]
fn aesthetics_cli_equals_the_library() {
    let dir = std::env::temp_dir().join(format!("ultrares-aesthetics-{}", std::process::id()));
    let clip = dir.join("clip");
    tiny_clip(&clip);
    let mlp_keys = common::json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../metrics/tests/fixtures/aesthetics_keys.json"),
    );
    let predictor = dir.join("predictor.safetensors");
    common::write_det_safetensors(&predictor, mlp_keys.as_object().expect("keys"));
    let images: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = dir.join(format!("img{i}.png"));
            image::RgbImage::from_fn(200 + 40 * i, 300 - 30 * i, |x, y| {
                image::Rgb([(x * 3 + y) as u8, (y * 5) as u8, (x ^ y) as u8])
            })
            .save(&p)
            .expect("png");
            p
        })
        .collect();
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let mut args = vec!["aesthetics".to_string()];
    args.extend(images.iter().map(|p| s(p)));
    args.extend([
        "--clip".into(),
        s(&clip),
        "--predictor".into(),
        s(&predictor),
        "--batch".into(),
        "2".into(),
        "--json".into(),
    ]);
    let o = ultrares(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    type B = NdArray<f32>;
    let device = Default::default();
    let tower = AestheticPredictor::<B>::clip_from_dir(&clip, burn::tensor::DType::F32, &device)
        .expect("clip");
    let mlp = AestheticPredictor::<B>::from_file(&predictor, &device).expect("mlp");
    let imgs: Vec<_> = images
        .iter()
        .map(|p| image::open(p).expect("img").into_rgb8())
        .collect();
    let want = mlp.score_images(&tower, &imgs, &device).expect("scores");
    let got: Vec<f32> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|x| x["score"].as_f64().expect("score") as f32)
        .collect();
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
    // A predictor file that is not one; a CLIP folder without weights.
    let img = s(&images[0]);
    for (args, what) in [
        (
            vec![
                "aesthetics",
                &img,
                "--clip",
                &s(&clip),
                "--predictor",
                &s(&clip.join("config.json")),
            ],
            "config.json",
        ),
        (
            vec![
                "aesthetics",
                &img,
                "--clip",
                &s(&dir),
                "--predictor",
                &s(&predictor),
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
