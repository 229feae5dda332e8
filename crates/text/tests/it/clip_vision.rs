//! CLIP's image tower against transformers 5.24.0 (fixtures: `tools/golden/gen_clip_vision.py`):
//! a tiny `CLIPVisionModelWithProjection` with `det_weight` weights recomputed here from the keys
//! and shapes transformers lists; every hidden state, the last state and the image embeddings.

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, Golden, fixture, rel_err};
use ultrares_nn::ConfigJson;
use ultrares_text::{ClipVisionConfig, ClipVisionModel, TextError};

fn config() -> ClipVisionConfig {
    let cfg = ConfigJson::read(fixture("clip_vision_config.json")).expect("config");
    ClipVisionConfig::from_config_json(&cfg).expect("vision config")
}

fn pixels(g: &mut Golden) -> Tensor<B, 4> {
    let a = g.f32("pixel_values");
    let shape: [usize; 4] = a.shape().try_into().expect("rank 4");
    Tensor::from_data(
        TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
        &Default::default(),
    )
}

#[test]
fn vision_tower_matches_transformers() {
    let mut g = Golden::open("clip_vision");
    let cfg = config();
    assert_eq!(
        (cfg.image_size, cfg.patch_size, cfg.projection_dim),
        (32, 8, Some(24))
    );
    let model: ClipVisionModel<B> = cfg
        .load(&g.state_dict("vision"), DType::F32, &Default::default())
        .expect("load");
    let out = model.forward(pixels(&mut g), true).expect("forward");
    assert_eq!(out.hidden_states.len(), 4);
    let hidden = g.f32("hidden");
    let mut errs = Vec::new();
    for (i, h) in out.hidden_states.iter().enumerate() {
        let want = hidden.index_axis(ndarray::Axis(0), i).to_owned().into_dyn();
        errs.push((
            format!("hidden_states[{i}]"),
            rel_err(h.clone(), &want, "h"),
        ));
    }
    errs.push((
        "last_hidden_state".into(),
        rel_err(out.last_hidden_state, &g.f32("last"), "last"),
    ));
    errs.push((
        "image_embeds".into(),
        rel_err(
            out.image_embeds.expect("projection"),
            &g.f32("image_embeds"),
            "embeds",
        ),
    ));
    for (what, e) in &errs {
        assert!(*e <= 1e-5, "{what}: relative error {e:.2e}");
    }
    println!("{errs:?}");
}

#[test]
fn bad_vision_inputs_and_configs() {
    let g = Golden::open("clip_vision");
    let model: ClipVisionModel<B> = config()
        .load(&g.state_dict("vision"), DType::F32, &Default::default())
        .expect("load");
    let wrong = Tensor::<B, 4>::zeros([1, 3, 30, 32], &Default::default());
    let e = model.forward(wrong, false).expect_err("size");
    assert!(
        matches!(e, TextError::Input(ref m) if m.contains("[N ≥ 1, 3, 32, 32]")),
        "{e}"
    );
    let cfg = ConfigJson::parse(
        "config.json",
        r#"{"architectures": ["CLIPTextModel"], "hidden_size": 32}"#,
    )
    .expect("json");
    let e = ClipVisionConfig::from_config_json(&cfg).expect_err("class");
    assert!(e.to_string().contains("CLIPTextModel"), "{e}");
    let cfg = ConfigJson::parse(
        "config.json",
        r#"{"_class_name": "CLIPVisionModel", "image_size": 30, "patch_size": 8}"#,
    )
    .expect("json");
    let e = ClipVisionConfig::from_config_json(&cfg).expect_err("patch");
    assert!(e.to_string().contains("patch_size"), "{e}");
    // A missing tensor is named.
    let sd = g.state_dict("vision");
    let sd = sd
        .renamed(|k| (k != "vision_model.post_layernorm.weight").then(|| k.to_string()))
        .expect("rename");
    let e = config()
        .load::<B>(&sd, DType::F32, &Default::default())
        .expect_err("missing");
    assert!(e.to_string().contains("post_layernorm"), "{e}");
}

/// Opt-in (`ULTRARES_BIG_TESTS=1`): OpenAI ViT-B/16 and ViT-L/14 image towers at their real
/// sizes with `det_weight` weights against transformers (`gen_clip_vision.py --big`).
#[test]
fn real_vision_towers_match_transformers() {
    if std::env::var("ULTRARES_BIG_TESTS").is_err() {
        eprintln!("skipped: set ULTRARES_BIG_TESTS=1");
        return;
    }
    let mut g = Golden::open("clip_vision_real");
    let x: Vec<f32> = ultrares_core::testing::det_weight("pixel_values_real", &[1, 3, 224, 224])
        .iter()
        .map(|v| v * 2.0)
        .collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(x, [1, 3, 224, 224]), &Default::default());
    for name in ["b16", "l14"] {
        let cfg = ClipVisionConfig::from_config_json(
            &ConfigJson::read(fixture(&format!("clip_vision_{name}_config.json"))).expect("config"),
        )
        .expect("vision config");
        let preset = if name == "b16" {
            ClipVisionConfig::vit_b16()
        } else {
            ClipVisionConfig::vit_l14()
        };
        assert_eq!(
            cfg, preset,
            "{name}: the preset equals transformers' config"
        );
        let model: ClipVisionModel<B> = cfg
            .load(&g.state_dict(name), DType::F32, &Default::default())
            .expect("load");
        let out = model.forward(x.clone(), false).expect("forward");
        let t = out.last_hidden_state.dims()[1];
        let idx: Vec<i64> = (0..t as i64).step_by(16).collect();
        let every16 = out.last_hidden_state.select(
            1,
            Tensor::from_data(
                TensorData::new(idx.clone(), [idx.len()]),
                &Default::default(),
            ),
        );
        let errs = [
            (
                "image_embeds",
                rel_err(
                    out.image_embeds.expect("proj"),
                    &g.f32(&format!("{name}_image_embeds")),
                    name,
                ),
            ),
            (
                "pooled",
                rel_err(out.pooler_output, &g.f32(&format!("{name}_pooled")), name),
            ),
            (
                "last_hidden_state",
                rel_err(every16, &g.f32(&format!("{name}_last_every16")), name),
            ),
        ];
        for (what, e) in errs {
            assert!(e <= 1e-4, "{name} {what}: relative error {e:.2e}");
            println!("{name} {what}: {e:.2e}");
        }
    }
}
