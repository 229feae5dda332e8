//! Opt-in (`ULTRARES_BIG_TESTS=1`, ≈ 11 GB of memory): the real SDXL base UNet (2,567,463,684
//! parameters) and the SD 1.5 UNet with `det_weight` weights — generated tensor by tensor from
//! the key names by the same formula as `tools/golden/gen_unet.py --big`, never stored — equal
//! diffusers 0.36 on a 16² latent, N = 2, 77 text tokens (≤ 1e-4 relative).

use crate::common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{B, Golden, rel_err};
use ultrares_core::testing::splitmix_uniform;
use ultrares_nn::testing::DetInit;
use ultrares_unet::{AddedCond, UNet2DConditionConfig};

fn uniform<const D: usize>(seed: u64, shape: [usize; D], scale: f64) -> Tensor<B, D> {
    let n = shape.iter().product();
    let v: Vec<f32> = splitmix_uniform(seed, n)
        .map(|u| (u * scale) as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn check(name: &str, cfg: UNet2DConditionConfig, ctx: usize) {
    let mut unet = cfg.init::<B>(&Default::default()).expect("init");
    unet.walk(&mut DetInit {
        device: &Default::default(),
    });
    let t = Tensor::<B, 1>::from_data(
        TensorData::new(vec![999f32, 21.0], [2]),
        &Default::default(),
    );
    let added = unet.takes_added_cond().then(|| AddedCond {
        text_embeds: uniform(303, [2, 1280], 1.0),
        time_ids: Tensor::from_data(
            TensorData::new(
                vec![
                    1024f32, 1024., 0., 0., 1024., 1024., 4096., 4096., 512., 1024., 4096., 4096.,
                ],
                [2, 6],
            ),
            &Default::default(),
        ),
    });
    let start = std::time::Instant::now();
    let (out, taps) = unet
        .forward_traced(
            uniform(301, [2, 4, 16, 16], 2.0),
            t,
            uniform(302, [2, 77, ctx], 1.0),
            added,
        )
        .expect("forward");
    println!("{name}: forward {:.1} s", start.elapsed().as_secs_f64());
    let mut g = Golden::open("unet_real");
    let mid = taps
        .into_iter()
        .find(|t| t.0 == "mid_block")
        .expect("mid")
        .1;
    let e_mid = rel_err(mid, &g.array(&format!("{name}_mid_block")), "mid_block");
    let e_out = rel_err(out, &g.array(&format!("{name}_out")), "out");
    println!("{name}: mid_block {e_mid:.2e}, out {e_out:.2e}");
    assert!(
        e_mid <= 1e-4 && e_out <= 1e-4,
        "{name}: mid {e_mid:.2e}, out {e_out:.2e}"
    );
}

fn big() -> bool {
    let on = std::env::var("ULTRARES_BIG_TESTS").is_ok();
    if !on {
        eprintln!("skipped: set ULTRARES_BIG_TESTS=1 to run the real-topology UNet tests");
    }
    on
}

#[test]
fn real_sdxl_base_equals_diffusers() {
    if big() {
        check("sdxl", UNet2DConditionConfig::sdxl_base(), 2048);
    }
}

#[test]
fn real_sd15_equals_diffusers() {
    if big() {
        check("sd15", UNet2DConditionConfig::sd15(), 768);
    }
}
