//! CLIP's image tower against transformers 5.24.0 (fixtures: `tools/golden/gen_clip_vision.py`):
//! a tiny `CLIPVisionModelWithProjection` with `det_weight` weights recomputed here from the keys
//! and shapes transformers lists; every hidden state, the last state and the image embeddings.

mod common;

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
