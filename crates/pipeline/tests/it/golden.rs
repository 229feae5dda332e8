//! ultrares-pipeline against the official LSRNA-DemoFusion pipeline (3587jjh/LSRNA@eebd4b4) run
//! with stand-in networks (fixtures: tools/golden/gen_pipeline.py).

use crate::common;

use std::collections::VecDeque;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{
    B, DiffusersTiled, Fixed, Fixture, Keep, Replay, StandIn, StandInCond, check, det_gaussian,
    hashed, sub, tiny_vae_config,
};
use ndarray::ArrayD;
use ultrares_core::image::{ValueRange, tensor_to_rgb8};
use ultrares_core::{LatentCodec, LatentUpsampler};
use ultrares_pipeline::{
    BicubicUpsampler, DecodeMode, Guided, GuidedCond, HighResConfig, HighResOutput, HighResPipeline,
};
use ultrares_rna::RegionNoiseConfig;
use ultrares_schedulers::{Ddim, SchedulerConfig};

fn cond() -> GuidedCond<StandInCond> {
    let c = |pooled| StandInCond {
        pooled,
        sizes: Vec::new(),
    };
    GuidedCond::new(c(0.7), c(-0.3), 7.5)
}

fn config() -> HighResConfig {
    HighResConfig {
        view_batch_size: 2,
        decode: DecodeMode::Full,
        ..HighResConfig::lsrna_demofusion(1024, 2048)
    }
}

fn codec() -> DiffusersTiled<B> {
    DiffusersTiled(hashed::<B>(&tiny_vae_config()))
}

fn run<U: LatentUpsampler<B>>(
    fx: &mut Fixture,
    upsampler: &U,
    config: &HighResConfig,
) -> (HighResOutput<B>, Keep) {
    run_with(fx, &codec(), upsampler, config)
}

fn run_with<C: LatentCodec<B>, U: LatentUpsampler<B>>(
    fx: &mut Fixture,
    vae: &C,
    upsampler: &U,
    config: &HighResConfig,
) -> (HighResOutput<B>, Keep) {
    let denoiser = Guided { inner: StandIn };
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).expect("ddim");
    let mut pipe = HighResPipeline::new(&denoiser, vae, upsampler, ddim);
    let mut rng = Replay {
        jitter: VecDeque::from(fx.ints("jitter")),
        ..Replay::default()
    };
    let mut keep = Keep::default();
    let out = pipe
        .generate(config, &cond(), &Default::default(), &mut rng, &mut keep)
        .expect("generate");
    assert!(
        rng.jitter.is_empty(),
        "{} jitter draws left",
        rng.jitter.len()
    );
    (out, keep)
}

#[test]
fn reference_phase_and_call_counts_match_the_official_pipeline() {
    let mut fx = Fixture::open();
    let (out, keep) = run(&mut fx, &BicubicUpsampler, &config());
    check(
        "reference latent after step 9",
        &keep.0["ReferenceStep(9)"],
        &fx.tensor("ref_step_9"),
        1e-4,
    );
    let reference = out.reference_latent.expect("reference");
    check(
        "reference latent",
        &reference,
        &fx.tensor("ref_latent"),
        1e-4,
    );
    let ref_image = out.reference_image.expect("reference image");
    check(
        "reference image end to end (every 8th px)",
        &sub::<8>(&ref_image),
        &fx.tensor("ref_image_f32_sub"),
        1e-4,
    );
    let decoded = codec().0.decode(fx.tensor("ref_latent")).expect("decode");
    check(
        "reference image from the same latent",
        &sub::<8>(&decoded),
        &fx.tensor("ref_image_f32_sub"),
        1e-4,
    );
    let theirs = fx.image("ref_image_u8");
    for (name, img) in [("end to end", ref_image), ("same latent", decoded)] {
        let ours = &tensor_to_rgb8(img, ValueRange::MinusOneOne).expect("rgb")[0];
        let off = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        let worst = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .map(|(&a, &b)| a.abs_diff(b))
            .max();
        println!(
            "reference uint8 ({name}): {off} of {} values differ, by at most {worst:?}",
            ours.as_raw().len()
        );
        assert!(
            worst <= Some(1),
            "uint8 reference off by more than rounding"
        );
    }
    // Official: 170 UNet calls with 520 latents (CFG doubles the batch).
    assert_eq!(out.denoiser_calls, 170);
    assert_eq!(
        2 * out.denoiser_evaluations,
        fx.ints("unet_calls")[1] as usize
    );
    assert_eq!(out.denoiser_calls as i64, fx.ints("unet_calls")[0]);
}

#[test]
fn upsampling_and_region_noise_match_given_the_reference() {
    let mut fx = Fixture::open();
    let reference: Tensor<B, 4> = fx.tensor("ref_latent");
    let image = fx.image("ref_image_u8");
    let up = BicubicUpsampler
        .resize(reference, [128, 256])
        .expect("bicubic");
    let eps = Tensor::from_data(
        TensorData::new(det_gaussian(1000, 4 * 128 * 256), [1, 4, 128, 256]),
        &Default::default(),
    );
    let guided = RegionNoiseConfig::demofusion()
        .apply_with_noise(up, &image, eps)
        .expect("rna");
    check("LSR (bicubic) + RNA", &guided, &fx.tensor("guided"), 1e-4);
}

#[test]
fn high_res_denoising_and_decode_match_given_the_guide() {
    let mut fx = Fixture::open();
    let guide = Fixed(fx.tensor("guided"));
    let config = HighResConfig {
        rna: None,
        ..config()
    };
    let (out, keep) = run(&mut fx, &guide, &config);
    for (key, name) in [
        ("HighResStep { phase: 2, i: 20 }", "step_20"),
        ("HighResStep { phase: 2, i: 49 }", "step_49"),
    ] {
        check(name, &keep.0[key], &fx.tensor(name), 1e-4);
    }
    check(
        "final latent",
        &out.latent,
        &fx.tensor("final_latent"),
        1e-4,
    );
    check(
        "final image end to end (every 16th px)",
        &sub::<16>(&out.image),
        &fx.tensor("final_image_sub"),
        1e-4,
    );
    let decoded = codec().decode(fx.tensor("final_latent")).expect("decode");
    check(
        "final image from the same latent (every 16th px)",
        &sub::<16>(&decoded),
        &fx.tensor("final_image_sub"),
        1e-4,
    );
    let crop = decoded
        .slice([0..1, 0..3, 736..800, 640..896])
        .reshape([3, 64, 256]);
    check(
        "final image across a tile seam",
        &crop,
        &fx.tensor("final_image_crop"),
        1e-4,
    );
}

#[test]
fn demofusion_matches_the_official_pipeline() {
    let mut fx = Fixture::named("demofusion.npz");
    let config = HighResConfig {
        view_batch_size: 2,
        sigma: 0.8,
        decode: DecodeMode::Full,
        ..HighResConfig::demofusion(1024, 2048)
    };
    let vae = hashed::<B>(&tiny_vae_config());
    let (out, keep) = run_with(&mut fx, &vae, &BicubicUpsampler, &config);
    check(
        "reference latent after step 9",
        &keep.0["ReferenceStep(9)"],
        &fx.tensor("ref_step_9"),
        1e-4,
    );
    check(
        "reference latent",
        &out.reference_latent.expect("reference"),
        &fx.tensor("ref_latent"),
        1e-4,
    );
    let ref_image = out.reference_image.expect("reference image");
    check(
        "reference image (every 8th px)",
        &sub::<8>(&ref_image),
        &fx.tensor("ref_image_f32_sub"),
        1e-4,
    );
    for (key, name) in [
        ("HighResStep { phase: 2, i: 0 }", "step_0"),
        ("HighResStep { phase: 2, i: 49 }", "step_49"),
    ] {
        check(name, &keep.0[key], &fx.tensor(name), 1e-4);
    }
    check(
        "final latent",
        &out.latent,
        &fx.tensor("final_latent"),
        1e-4,
    );
    let decoded = vae.decode(fx.tensor("final_latent")).expect("decode");
    check(
        "final image from the same latent (every 16th px)",
        &sub::<16>(&decoded),
        &fx.tensor("final_image_sub"),
        1e-4,
    );
    check(
        "final image (every 16th px)",
        &sub::<16>(&out.image),
        &fx.tensor("final_image_sub"),
        1e-4,
    );
    // Official: 250 UNet calls with 800 latents (CFG doubles the batch).
    assert_eq!(out.denoiser_calls as i64, fx.ints("unet_calls")[0]);
    assert_eq!(
        2 * out.denoiser_evaluations as i64,
        fx.ints("unet_calls")[1]
    );
}

#[test]
fn pixelsmith_patch_sampler_matches_the_official_pipeline() {
    let mut fx = Fixture::named("pixelsmith.npz");
    let guide = Tensor::<B, 4>::from_data(
        TensorData::new(det_gaussian(980, 4 * 128 * 256), [1, 4, 128, 256]),
        &Default::default(),
    );
    let rand: ArrayD<f64> = fx.0.by_name("rand").expect("rand");
    let mut rng = Replay {
        perm: VecDeque::from(fx.ints("randperm")),
        rand: rand.iter().copied().collect(),
        half_inversion: true,
        ..Replay::default()
    };
    // generate_image: DDIMScheduler.from_config(sdxl, set_alpha_to_one=True).
    let ddim = Ddim::new(
        SchedulerConfig {
            set_alpha_to_one: true,
            ..SchedulerConfig::sdxl()
        },
        50,
    )
    .expect("ddim");
    let vae = codec();
    let denoiser = Guided { inner: StandIn };
    let mut pipe = HighResPipeline::new(&denoiser, &vae, &BicubicUpsampler, ddim);
    let mut keep = Keep::default();
    let config = HighResConfig::pixelsmith(1024, 2048);
    let z = pipe
        .refine_with_guide(&config, guide, 0, 20, &cond(), &mut rng, &mut keep)
        .expect("pixelsmith");
    assert!(
        rng.perm.is_empty() && rng.rand.is_empty(),
        "draws left: the patch count differs"
    );
    check(
        "patch 0 after the denoiser and DDIM step",
        &keep.0["PixelsmithStep(0)"],
        &fx.tensor("patch_output_0"),
        1e-4,
    );
    for k in 0..2 {
        let key = format!("PixelsmithPatch({k})");
        check(
            &format!("patch input {k}"),
            &keep.0[&key],
            &fx.tensor(&format!("patch_input_{k}")),
            1e-4,
        );
    }
    check("final latent", &z, &fx.tensor("final_latent"), 1e-4);
    let calls = fx.ints("unet_calls");
    assert_eq!(
        keep.0
            .keys()
            .filter(|k| k.starts_with("PixelsmithPatch"))
            .count() as i64,
        calls[0]
    );
}
