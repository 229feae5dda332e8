//! LoRA pairs merged into a CLIP tower (`ClipTextModel::merge_lora`): the delta is
//! `scale · alpha / r · up · down` on exactly the named layer; kohya, PEFT with transformers 4
//! names and PEFT with transformers 5 names give the same weights; pairs for other models are
//! skipped; unmatched or mis-shaped pairs are one error and change nothing. Against diffusers'
//! `load_lora_weights` + `fuse_lora` end to end: `ultrares-cli`'s `generate` test
//! (`euler_lora_te`).

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, Golden, config};
use ultrares_nn::StateDict;
use ultrares_text::{ClipLoraTower, ClipTextModel};

/// Deterministic values in [−0.5, 0.5).
fn values(seed: u64, n: usize) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let x = (seed * 1_000_003 + i * 7919) % 1000;
            x as f32 / 1000.0 - 0.5
        })
        .collect()
}

fn tower() -> ClipTextModel<B> {
    let g = Golden::open("clip_encoders");
    config("te1")
        .load(&g.state_dict("te1"), DType::F32, &Default::default())
        .expect("load")
}

/// `[out, in]` weights (PyTorch layout) of layer 0's `q_proj` and `mlp.fc1`.
fn weights(m: &ClipTextModel<B>) -> (Vec<f32>, Vec<f32>) {
    let l = &m.text_model.encoder.layers[0];
    let w = |t: Tensor<B, 2>| t.transpose().into_data().to_vec::<f32>().expect("f32");
    (
        w(l.self_attn.q_proj.weight.val()),
        w(l.mlp.fc1.weight.val()),
    )
}

/// A file with a rank-2 pair on each `(module, [out, in])` in `layout` (`kohya` with alpha 1 when
/// `alpha`, `peft4`/`peft5`: PEFT with transformers 4/5 module names), plus tensors for the
/// other tower and the UNet.
fn file(pairs: &[(&str, [usize; 2])], layout: &str, alpha: bool) -> StateDict {
    let mut t = Vec::new();
    for (i, (module, [o, inp])) in pairs.iter().enumerate() {
        let down = TensorData::new(values(2 * i as u64 + 1, 2 * inp), [2, *inp]);
        let mut up = values(2 * i as u64 + 2, o * 2);
        let (d, u) = match layout {
            "kohya" => {
                let k = format!("lora_te1_{}", module.replace('.', "_"));
                if alpha {
                    t.push((format!("{k}.alpha"), TensorData::new(vec![1f32], [1])));
                }
                (
                    format!("{k}.lora_down.weight"),
                    format!("{k}.lora_up.weight"),
                )
            }
            _ => {
                // PEFT files carry no alpha: up pre-scaled by alpha / r = 1/2.
                up.iter_mut().for_each(|v| *v *= 0.5);
                let m = match layout {
                    "peft4" => module.to_string(),
                    _ => module.trim_start_matches("text_model.").to_string(),
                };
                (
                    format!("text_encoder.{m}.lora_A.weight"),
                    format!("text_encoder.{m}.lora_B.weight"),
                )
            }
        };
        t.push((d, down));
        t.push((u, TensorData::new(up, [*o, 2])));
    }
    for k in [
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight",
        "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
        "text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_A.weight",
        "unet.down_blocks.0.resnets.0.conv1.lora_A.weight",
    ] {
        t.push((k.into(), TensorData::new(vec![0f32; 4], [2, 2])));
    }
    StateDict::from_tensors(layout, t)
}

#[test]
fn clip_lora_merge_adds_the_scaled_product_in_every_layout() {
    let base = tower();
    let (q0, fc0) = weights(&base);
    let d = config("te1");
    let h = d.hidden_size;
    let q = "text_model.encoder.layers.0.self_attn.q_proj";
    let mut merged = Vec::new();
    for layout in ["kohya", "peft4", "peft5"] {
        let mut m = base.clone();
        let sd = file(&[(q, [h, h])], layout, true);
        let n = m.merge_lora(&sd, ClipLoraTower::First, 0.8).expect("merge");
        assert_eq!(n, 1, "{layout}");
        // The other tower's and the UNet's tensors (not even valid pairs) are not parsed.
        let (q1, fc1) = weights(&m);
        assert_eq!(fc1, fc0, "{layout}: another layer changed");
        merged.push(q1);
    }
    assert_eq!(merged[0], merged[1], "kohya vs PEFT (transformers 4 names)");
    assert_eq!(merged[0], merged[2], "kohya vs PEFT (transformers 5 names)");
    // W + 0.8 · (1/2) · up · down in f64.
    let (down, up) = (values(1, 2 * h), values(2, h * 2));
    let worst = (0..h * h)
        .map(|i| {
            let (o, k) = (i / h, i % h);
            let delta: f64 = (0..2)
                .map(|r| f64::from(up[o * 2 + r]) * f64::from(down[r * h + k]))
                .sum();
            (f64::from(merged[0][i]) - f64::from(q0[i]) - 0.4 * delta).abs()
        })
        .fold(0f64, f64::max);
    assert!(worst < 1e-6, "delta off by {worst:e}");
}

#[test]
fn clip_lora_errors_list_every_bad_pair_and_change_nothing() {
    let base = tower();
    let d = config("te1");
    let (h, ff) = (d.hidden_size, d.intermediate_size);
    let mut m = base.clone();
    let sd = file(
        &[
            ("text_model.encoder.layers.0.self_attn.q_proj", [h, h]),
            ("text_model.encoder.layers.9.self_attn.q_proj", [h, h]),
            ("text_model.encoder.layers.0.mlp.fc1", [ff + 1, h]),
        ],
        "kohya",
        false,
    );
    let e = m
        .merge_lora(&sd, ClipLoraTower::First, 1.0)
        .expect_err("bad pairs")
        .to_string();
    assert!(
        e.contains("1 LoRA module(s) match no text_encoder layer")
            && e.contains("layers_9_self_attn_q_proj")
            && e.contains("does not fit text_model.encoder.layers.0.mlp.fc1"),
        "{e}"
    );
    assert_eq!(weights(&m), weights(&base), "weights changed on error");
    // No pairs for the second tower in a first-tower-only file: nothing to do.
    let k = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj";
    let sd = StateDict::from_tensors(
        "te1 only",
        [
            (
                format!("{k}.lora_down.weight"),
                TensorData::new(values(1, 2 * h), [2, h]),
            ),
            (
                format!("{k}.lora_up.weight"),
                TensorData::new(values(2, 2 * h), [h, 2]),
            ),
        ],
    );
    assert_eq!(
        m.merge_lora(&sd, ClipLoraTower::Second, 1.0).expect("none"),
        0
    );
    assert_eq!(weights(&m), weights(&base));
}
