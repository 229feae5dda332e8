//! CLIP text towers against transformers 5.24.0 (fixtures: `tools/golden/gen_text.py`), with
//! `det_weight` weights recomputed here from the keys and shapes transformers lists, on
//! real-vocabulary ids. Tiny configs (sdxl.md §10.3) always; the real L/14 and bigG topologies
//! with `ULTRARES_BIG_TESTS=1` (bigG: 695 M parameters, ≈ 6 GB peak).

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::{ConfigJson, StateDict};
use ultrares_text::{ClipTextConfig, ClipTextModel, TextError};

type B = NdArray<f32>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Golden {
    npz: NpzReader<std::fs::File>,
    keys: serde_json::Value,
}

impl Golden {
    fn open(stem: &str) -> Self {
        let npz =
            NpzReader::new(std::fs::File::open(fixture(&format!("{stem}.npz"))).expect("npz"))
                .expect("npz");
        let keys = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("{stem}_keys.json"))).expect("keys"),
        )
        .expect("keys JSON");
        Self { npz, keys }
    }

    fn f32(&mut self, name: &str) -> ArrayD<f32> {
        self.npz
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn ids(&mut self, name: &str) -> Tensor<B, 2, Int> {
        let a: ArrayD<i64> = self.npz.by_name(name).expect("ids");
        let shape = [a.shape()[0], a.shape()[1]];
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
            &Default::default(),
        )
    }

    /// `det_weight` for every key transformers' `state_dict()` has (no `text_model.` prefix for a
    /// `CLIPTextModel` in transformers 5; with it for `CLIPTextModelWithProjection`).
    fn state_dict(&self, model: &str) -> StateDict {
        let keys = self.keys[model].as_object().expect("model keys");
        StateDict::from_tensors(
            model,
            keys.iter().map(|(k, shape)| {
                let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
                (k.clone(), TensorData::new(det_weight(k, &shape), shape))
            }),
        )
    }
}

fn config(name: &str) -> ClipTextConfig {
    let cfg = ConfigJson::read(fixture(&format!("clip_{name}_config.json"))).expect("config");
    ClipTextConfig::from_config_json(&cfg).expect("CLIP text config")
}

/// max |a − b| / max |b| (relative to the reference's scale).
fn rel_err<const D: usize>(ours: Tensor<B, D>, reference: &ArrayD<f32>, what: &str) -> f64 {
    assert_eq!(
        ours.dims().to_vec(),
        reference.shape().to_vec(),
        "{what}: shape"
    );
    let ours: Vec<f32> = ours.into_data().convert::<f32>().into_vec().expect("f32");
    let scale = reference.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    diff / scale
}

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
