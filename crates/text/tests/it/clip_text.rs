//! CLIP text towers against transformers 5.24.0 (fixtures: `tools/golden/gen_text.py`), with
//! `det_weight` weights recomputed here from the keys and shapes transformers lists, on
//! real-vocabulary ids. Tiny configs (sdxl.md §10.3) always; the real L/14 and bigG topologies
//! with `ULTRARES_BIG_TESTS=1` (bigG: 695 M parameters, ≈ 6 GB peak).

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, Golden, config, rel_err};
use ultrares_nn::ConfigJson;
use ultrares_text::{ClipTextConfig, ClipTextModel, TextError};

fn check(g: &mut Golden, name: &str, ids: &str, all: bool, tol: f64) {
    let cfg = config(name);
    let device = Default::default();
    let model: ClipTextModel<B> = cfg
        .load(&g.state_dict(name), DType::F32, &device)
        .expect("load");
    let out = model.forward(g.ids(ids), true).expect("forward");
    assert_eq!(out.hidden_states.len(), cfg.num_hidden_layers + 1);
    let mut errs = Vec::new();
    if all {
        let hidden = g.f32(&format!("{name}_hidden"));
        for (i, h) in out.hidden_states.iter().enumerate() {
            let want = hidden.index_axis(ndarray::Axis(0), i).to_owned().into_dyn();
            errs.push((
                format!("hidden_states[{i}]"),
                rel_err(h.clone(), &want, name),
            ));
        }
        errs.push((
            "last_hidden_state".into(),
            rel_err(
                out.last_hidden_state.clone(),
                &g.f32(&format!("{name}_last")),
                name,
            ),
        ));
    } else {
        let n = out.hidden_states.len();
        let want = g.f32(&format!("{name}_penultimate"));
        errs.push((
            "hidden_states[-2]".into(),
            rel_err(out.hidden_states[n - 2].clone(), &want, name),
        ));
    }
    match out.text_embeds {
        Some(t) => errs.push((
            "text_embeds".into(),
            rel_err(t, &g.f32(&format!("{name}_text_embeds")), name),
        )),
        None => errs.push((
            "pooler_output".into(),
            rel_err(out.pooler_output, &g.f32(&format!("{name}_pooled")), name),
        )),
    }
    for (what, e) in &errs {
        assert!(
            *e <= tol,
            "{name} {what}: relative error {e:.2e} > {tol:.0e}"
        );
    }
    eprintln!(
        "{name}: worst relative error {:.2e}",
        errs.iter().map(|e| e.1).fold(0.0, f64::max)
    );
}

#[test]
fn tiny_text_towers_equal_transformers() {
    let mut g = Golden::open("clip_encoders");
    check(&mut g, "te1", "ids_1", true, 1e-5); // quick_gelu, legacy eos id 2: argmax pooling
    check(&mut g, "te1_eos", "ids_1", true, 1e-5); // eos id 49407: first-eos pooling
    check(&mut g, "te2", "ids_2", true, 1e-5); // gelu, text_projection 64 → 40
}

#[test]
fn real_topologies_equal_transformers() {
    if std::env::var_os("ULTRARES_BIG_TESTS").is_none() {
        eprintln!("skipped: set ULTRARES_BIG_TESTS=1 (L/14 and bigG at full size, ≈ 6 GB)");
        return;
    }
    let mut g = Golden::open("clip_encoders_real");
    check(&mut g, "l14", "ids_1", false, 1e-4);
    check(&mut g, "bigg", "ids_2", false, 1e-4);
}

#[test]
fn skipping_the_last_layer_gives_the_penultimate_state() {
    let g = Golden::open("clip_encoders");
    let cfg = config("te2");
    let model: ClipTextModel<B> = cfg
        .load(&g.state_dict("te2"), DType::F32, &Default::default())
        .expect("load");
    let ids = Tensor::<B, 2, Int>::from_data(
        TensorData::new(vec![49406i64, 320, 2368, 49407, 0, 0], [1, 6]),
        &Default::default(),
    );
    let full = model.forward(ids.clone(), true).expect("forward");
    let short = model
        .forward_to(ids, true, cfg.num_hidden_layers - 1)
        .expect("forward_to");
    assert_eq!(short.hidden_states.len(), cfg.num_hidden_layers);
    let a = full.hidden_states[cfg.num_hidden_layers - 1].clone();
    let b = short.hidden_states.last().expect("states").clone();
    a.into_data()
        .assert_approx_eq::<f32>(&b.into_data(), burn::tensor::Tolerance::absolute(0.0));
}

#[test]
fn bad_inputs_and_weights_give_clear_errors() {
    let g = Golden::open("clip_encoders");
    let cfg = config("te1");
    let device = Default::default();
    // A key missing and one mis-shaped: both listed.
    let sd = g.state_dict("te1");
    let sd = sd
        .renamed(|k| (k != "final_layer_norm.bias").then(|| k.to_string()))
        .expect("rename");
    let mut bad = cfg.clone();
    bad.intermediate_size = 38;
    let msg = match bad.load::<B>(&sd, DType::F32, &device) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert!(
        msg.contains("text_model.final_layer_norm.bias") && msg.contains("fc1"),
        "{msg}"
    );

    let model: ClipTextModel<B> = cfg
        .load(&g.state_dict("te1"), DType::F32, &device)
        .expect("load");
    let ids = |v: Vec<i64>, l| Tensor::<B, 2, Int>::from_data(TensorData::new(v, [1, l]), &device);
    let err = |r: Result<_, TextError>| {
        r.err()
            .map(|e: TextError| e.to_string())
            .unwrap_or_default()
    };
    let msg = err(model.forward(ids(vec![49406, 49408], 2), false).map(|_| ()));
    assert!(msg.contains("49408") && msg.contains("0..49408"), "{msg}");
    let msg = err(model.forward(ids(vec![1; 78], 78), false).map(|_| ()));
    assert!(msg.contains("78 tokens") && msg.contains("1..=77"), "{msg}");

    let wrong = ConfigJson::parse(
        "vae/config.json",
        r#"{"_class_name": "AutoencoderKL", "hidden_size": 8}"#,
    )
    .expect("json");
    let msg = ClipTextConfig::from_config_json(&wrong)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("AutoencoderKL") && msg.contains("CLIPTextModel"),
        "{msg}"
    );
}
