//! T5 encoder against transformers 5.24 `T5EncoderModel` (fixtures: `tools/golden/gen_text.py`)
//! with `det_weight` weights on ids from the fixture T5 tokenizer (128 positions, relative
//! distances past `relative_attention_max_distance`): a tiny config always, T5-XXL's widths at
//! 2 blocks with `ULTRARES_BIG_TESTS=1` (≈ 2 GB of weights).

use crate::common;

use burn::prelude::*;
use burn::tensor::DType;
use common::{B, Golden, fixture, rel_err};
use ultrares_nn::ConfigJson;
use ultrares_text::{T5EncoderConfig, T5EncoderModel};

fn load(name: &str) -> (Golden, T5EncoderModel<B>, T5EncoderConfig) {
    let g = Golden::open(name);
    let cfg = T5EncoderConfig::from_config_json(
        &ConfigJson::read(fixture(&format!("{name}_config.json"))).expect("config"),
    )
    .expect("T5 config");
    let model = cfg
        .load(&g.state_dict(name), DType::F32, &Default::default())
        .expect("load");
    (g, model, cfg)
}

#[test]
fn tiny_t5_encoder_equals_transformers() {
    let (mut g, model, cfg) = load("t5_tiny");
    let out = model.forward(g.ids("ids"), true).expect("forward");
    assert_eq!(out.hidden_states.len(), cfg.num_layers + 1);
    let hidden = g.f32("hidden");
    for (i, h) in out.hidden_states.iter().enumerate() {
        let want = hidden.index_axis(ndarray::Axis(0), i).to_owned().into_dyn();
        let e = rel_err(h.clone(), &want, "t5");
        assert!(e <= 1e-5, "hidden_states[{i}]: relative error {e:.2e}");
    }
    let e = rel_err(out.last_hidden_state, &g.f32("last"), "t5");
    assert!(e <= 1e-5, "last_hidden_state: relative error {e:.2e}");
    eprintln!("t5_tiny last_hidden_state relative error {e:.2e}");
}

#[test]
fn t5_xxl_widths_equal_transformers() {
    if std::env::var_os("ULTRARES_BIG_TESTS").is_none() {
        eprintln!("skipped: set ULTRARES_BIG_TESTS=1 (T5-XXL widths, 2 blocks, ≈ 2 GB)");
        return;
    }
    let (mut g, model, _) = load("t5_xxl2");
    let last = model
        .forward(g.ids("ids"), false)
        .expect("forward")
        .last_hidden_state;
    let [n, l, d] = last.dims();
    let rows = last
        .reshape([n, l / 8, 8, d])
        .slice([0..n, 0..l / 8, 0..1, 0..d])
        .reshape([n, l / 8, d]);
    let e = rel_err(rows, &g.f32("last_every_8th"), "t5_xxl2");
    eprintln!("t5_xxl2 last_hidden_state relative error {e:.2e}");
    assert!(e <= 1e-4, "relative error {e:.2e}");
}

#[test]
fn t5_bad_config_and_ids_are_named() {
    let cfg = ConfigJson::parse("config.json", r#"{"architectures": ["T5EncoderModel"], "feed_forward_proj": "relu", "vocab_size": 8, "d_model": 8, "d_kv": 2, "d_ff": 8, "num_layers": 1, "num_heads": 4}"#).expect("json");
    let msg = T5EncoderConfig::from_config_json(&cfg)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("feed_forward_proj") && msg.contains("gated-gelu"),
        "{msg}"
    );
    let (_, model, _) = load("t5_tiny");
    let ids = Tensor::<B, 2, Int>::from_data(
        burn::tensor::TensorData::new(vec![5i64, 700], [1, 2]),
        &Default::default(),
    );
    let msg = model
        .forward(ids, false)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("700") && msg.contains("0..700"), "{msg}");
}
