//! `UNet2DConditionModel` against diffusers 0.36 (`tools/golden/gen_unet.py`) with `det_weight`
//! weights built from diffusers' own key list: every intermediate of a tiny SDXL-style UNet
//! (several transformer layers per block, cross-attention at two levels, `text_time`), the
//! `upsample_size` path of an 18×26 latent, and an SD 1.5-style UNet (1×1-conv projections, no
//! added conditioning).

use crate::common;

use common::{B, Golden, model, rel_err};
use ultrares_unet::AddedCond;

/// Relative tolerance of every tap: f32 end to end, 30+ layers deep.
const TOL: f64 = 1e-5;

#[test]
fn tiny_sdxl_unet_equals_diffusers_at_every_tap() {
    let unet = model("unet_tiny", "tiny");
    let mut g = Golden::open("unet_tiny");
    let added = AddedCond {
        text_embeds: g.tensor("a_text_embeds"),
        time_ids: g.tensor("a_time_ids"),
    };
    let (out, taps) = unet
        .forward_traced(
            g.tensor("a_sample"),
            g.tensor("a_t"),
            g.tensor("a_ehs"),
            Some(added),
        )
        .expect("forward");
    assert_eq!(
        taps.len(),
        10,
        "taps: {:?}",
        taps.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (name, tap) in taps {
        let reference = g.array(&format!("a_{name}"));
        let tap = if name == "emb" {
            let [n, d, _, _] = tap.dims();
            rel_err::<2>(tap.reshape([n, d]), &reference, &name)
        } else {
            rel_err(tap, &reference, &name)
        };
        println!("{name}: {tap:.2e}");
        assert!(tap <= TOL, "{name}: relative error {tap:.3e} > {TOL:.0e}");
    }
    let e = rel_err(out, &g.array("a_out"), "out");
    assert!(e <= TOL, "out: {e:.3e}");
}

#[test]
fn odd_latent_takes_the_upsample_size_path() {
    let unet = model("unet_tiny", "tiny");
    let mut g = Golden::open("unet_tiny");
    let added = AddedCond {
        text_embeds: g.tensor("b_text_embeds"),
        time_ids: g.tensor("b_time_ids"),
    };
    let (_, taps) = unet
        .forward_traced(
            g.tensor("b_sample"),
            g.tensor("b_t"),
            g.tensor("b_ehs"),
            Some(added),
        )
        .expect("forward");
    let mut checked = 0;
    for (name, tap) in taps {
        if name.starts_with("up_blocks") || name == "out" {
            let e = rel_err(tap, &g.array(&format!("b_{name}")), &name);
            println!("{name}: {e:.2e}");
            assert!(e <= TOL, "{name}: relative error {e:.3e}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn sd15_style_unet_equals_diffusers() {
    let unet = model("unet_sd15_tiny", "sd15_tiny");
    let mut g = Golden::open("unet_sd15_tiny");
    let (out, taps) = unet
        .forward_traced(
            g.tensor("a_sample"),
            g.tensor("a_t"),
            g.tensor("a_ehs"),
            None,
        )
        .expect("forward");
    let mid = taps
        .into_iter()
        .find(|t| t.0 == "mid_block")
        .expect("mid tap")
        .1;
    let e = rel_err(mid, &g.array("a_mid_block"), "mid_block");
    assert!(e <= TOL, "mid_block: {e:.3e}");
    let e = rel_err(out, &g.array("a_out"), "out");
    assert!(e <= TOL, "out: {e:.3e}");
}

#[test]
fn batch_elements_are_independent() {
    let unet = model("unet_tiny", "tiny");
    let mut g = Golden::open("unet_tiny");
    let sample: burn::tensor::Tensor<B, 4> = g.tensor("a_sample");
    let t: burn::tensor::Tensor<B, 1> = g.tensor("a_t");
    let ehs: burn::tensor::Tensor<B, 3> = g.tensor("a_ehs");
    let te: burn::tensor::Tensor<B, 2> = g.tensor("a_text_embeds");
    let ids: burn::tensor::Tensor<B, 2> = g.tensor("a_time_ids");
    let both = unet
        .forward(
            sample.clone(),
            t.clone(),
            ehs.clone(),
            Some(AddedCond {
                text_embeds: te.clone(),
                time_ids: ids.clone(),
            }),
        )
        .expect("batch");
    let second = unet
        .forward(
            sample.narrow(0, 1, 1),
            t.narrow(0, 1, 1),
            ehs.narrow(0, 1, 1),
            Some(AddedCond {
                text_embeds: te.narrow(0, 1, 1),
                time_ids: ids.narrow(0, 1, 1),
            }),
        )
        .expect("single");
    let diff: f32 = (both.narrow(0, 1, 1) - second).abs().max().into_scalar();
    assert!(
        diff < 1e-5,
        "batch row 1 differs from a batch of one by {diff}"
    );
}
