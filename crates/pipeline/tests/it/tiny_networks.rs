//! LSRNA-DemoFusion and Pixelsmith with real networks: the official pipelines
//! (3587jjh/LSRNA@eebd4b4, Thanos-DB/Pixelsmith) run by `tools/golden/gen_pipeline_unet.py` with
//! the tiny SDXL-style UNet of ultrares-unet's goldens (`det_weight` weights), the tiny official
//! LSR checkpoint of ultrares-lsr's goldens (`lsr_tiny.safetensors`), the hashed tiny VAE and
//! fixed `det_gaussian` prompt embeddings; every intermediate is compared (≤ 1e-4 relative to
//! its largest magnitude).

use crate::common;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{
    B, DiffusersTiled, Fixed, Fixture, Keep, Replay, check_rel, det_gaussian, hashed, sub,
};
use ndarray::ArrayD;
use ultrares_core::image::{GrayImage, ValueRange, tensor_to_rgb8};
use ultrares_core::{GuidedCond, LatentUpsampler, PredictionType};
use ultrares_lsr::Liif;
use ultrares_nn::ConfigJson;
use ultrares_nn::testing::DetInit;
use ultrares_pipeline::{DecodeMode, HighResConfig, HighResPipeline};
use ultrares_rna::RegionNoiseConfig;
use ultrares_schedulers::{Ddim, SchedulerConfig};
use ultrares_unet::{TextCond, UNet2DConditionConfig, UnetDenoiser};

/// A fixture of another crate of the workspace.
fn sibling(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// `gen_unet.TINY` with `det_weight` weights (gen_pipeline_unet.py builds it with
/// `sample_size = 32`, which only sets diffusers' default size).
fn unet() -> UnetDenoiser<B> {
    let cfg =
        ConfigJson::read(sibling("unet/tests/fixtures/unet_tiny_config.json")).expect("config");
    let cfg = UNet2DConditionConfig::from_config_json(&cfg).expect("UNet config");
    let mut unet = cfg.init::<B>(&Default::default()).expect("init");
    unet.walk(&mut DetInit {
        device: &Default::default(),
    });
    UnetDenoiser {
        unet,
        prediction_type: PredictionType::Epsilon,
    }
}

fn gaussian<const D: usize>(seed: u64, shape: [usize; D]) -> Tensor<B, D> {
    let n = shape.iter().product();
    Tensor::from_data(
        TensorData::new(det_gaussian(seed, n), shape),
        &Default::default(),
    )
}

/// The prompt embeddings passed to the official pipelines: `det_gaussian` seeds 701–704.
fn cond() -> GuidedCond<TextCond<B>> {
    let text = |embeds, pooled| {
        TextCond::sdxl(gaussian(embeds, [1, 77, 96]), gaussian(pooled, [1, 40])).expect("cond")
    };
    GuidedCond::new(text(701, 703), text(702, 704), 7.5)
}

fn lsr() -> Liif<B> {
    Liif::from_checkpoint(
        sibling("lsr/tests/fixtures/lsr_tiny.safetensors"),
        &Default::default(),
    )
    .expect("LSR")
}

fn vae() -> DiffusersTiled<B> {
    DiffusersTiled(hashed::<B>(&common::tiny_vae_config()))
}

/// 384×2048 px from a 192×1024 reference (the official code's scale is `max(h, w) // 1024`, a
/// literal), windows of the tiny UNet's 32 latents, stride 16.
fn lsrna_config() -> HighResConfig {
    HighResConfig {
        view_batch_size: 2,
        window: 32,
        stride: 16,
        decode: DecodeMode::Full,
        ..HighResConfig::lsrna_demofusion(384, 2048)
    }
}

/// The reference phase, the LSR, RNA and the high-resolution phase against the official run.
///
/// RNA starts from Canny edges of the decoded reference rounded to uint8: a value a rounding
/// step away from a threshold flips an edge pixel, and one flipped pixel moves σ of its 4×4 latent
/// cell (3e-3 of the guide here; the official code run in float64 flips the same way against its
/// own float32 run). So RNA is checked on the official edges (`ref_edges`), our Canny of our
/// reference against those edges pixel by pixel, and the high-resolution phase from the official
/// guide.
#[test]
fn lsrna_demofusion_with_a_tiny_unet_and_lsr_matches_the_official_pipeline() {
    let mut fx = Fixture::named("lsrna_demofusion_unet.npz");
    let denoiser = unet();
    let (vae, lsr) = (vae(), lsr());
    let rna = RegionNoiseConfig::demofusion();
    // LSR on the official reference latent.
    let lsr_out: Tensor<B, 4> = fx.tensor("lsr_out");
    let [_, _, h, w] = lsr_out.dims();
    let up = lsr.upsample(fx.tensor("ref_latent"), [h, w]).expect("LSR");
    check_rel("LSR output", &up, &lsr_out, 1e-4);
    // RNA on the official edges: guide = LSR output + σ(edges)·ε.
    let edges: ArrayD<u8> = fx.0.by_name("ref_edges").expect("edges");
    let (eh, ew) = (edges.shape()[0], edges.shape()[1]);
    let edges =
        GrayImage::from_raw(ew as u32, eh as u32, edges.iter().copied().collect()).expect("edges");
    let sigma = rna.std_map_from_edges(&edges, [h, w]).expect("σ");
    let sigma =
        Tensor::<B, 4>::from_data(TensorData::new(sigma, [1, 1, h, w]), &Default::default());
    let guide = lsr_out + gaussian(1000, [1, 4, h, w]) * sigma;
    check_rel("LSR + RNA guide", &guide, &fx.tensor("guided"), 1e-4);
    // The pipeline: the reference phase, then the high-resolution phase from the official guide.
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).expect("ddim");
    let fixed = Fixed(fx.tensor("guided"));
    let mut pipe = HighResPipeline::new(&denoiser, &vae, &fixed, ddim);
    let mut rng = Replay {
        jitter: VecDeque::from(fx.ints("jitter")),
        ..Replay::default()
    };
    let mut keep = Keep::default();
    let config = HighResConfig {
        rna: None,
        ..lsrna_config()
    };
    let out = pipe
        .generate(&config, &cond(), &Default::default(), &mut rng, &mut keep)
        .expect("generate");
    assert!(
        rng.jitter.is_empty(),
        "{} jitter draws left",
        rng.jitter.len()
    );
    check_rel(
        "reference latent after step 9",
        &keep.0["ReferenceStep(9)"],
        &fx.tensor("ref_step_9"),
        1e-4,
    );
    check_rel(
        "reference latent",
        &out.reference_latent.expect("reference"),
        &fx.tensor("ref_latent"),
        1e-4,
    );
    let reference = out.reference_image.expect("reference image");
    check_rel(
        "reference image (every 4th px)",
        &sub::<4>(&reference),
        &fx.tensor("ref_image_sub"),
        1e-4,
    );
    let ours = rna
        .edge_map(&tensor_to_rgb8(reference, ValueRange::MinusOneOne).expect("rgb")[0])
        .expect("edges");
    let flipped = ours
        .as_raw()
        .iter()
        .zip(edges.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    println!(
        "Canny of our reference: {flipped} of {} edge pixels differ",
        eh * ew
    );
    assert!(
        flipped <= 4,
        "{flipped} edge pixels differ from the official Canny"
    );
    for (key, name) in [
        ("HighResStep { phase: 2, i: 20 }", "step_20"),
        ("HighResStep { phase: 2, i: 49 }", "step_49"),
    ] {
        check_rel(name, &keep.0[key], &fx.tensor(name), 1e-4);
    }
    check_rel(
        "final latent",
        &out.latent,
        &fx.tensor("final_latent"),
        1e-4,
    );
    check_rel(
        "final image (every 8th px)",
        &sub::<8>(&out.image),
        &fx.tensor("final_image_sub"),
        1e-4,
    );
    let calls = fx.ints("unet_calls");
    assert_eq!(out.denoiser_calls as i64, calls[0]);
    assert_eq!(2 * out.denoiser_evaluations as i64, calls[1]);
}

#[test]
fn pixelsmith_with_a_tiny_unet_matches_the_official_pipeline() {
    let mut fx = Fixture::named("pixelsmith_unet.npz");
    // Upstream's patch size is a literal 128: the smallest guide is one 128² patch.
    let guide: Tensor<B, 4> = gaussian(980, [1, 4, 128, 128]);
    let rand: ArrayD<f64> = fx.0.by_name("rand").expect("rand");
    let mut rng = Replay {
        perm: VecDeque::from(fx.ints("randperm")),
        rand: rand.iter().copied().collect(),
        half_inversion: true,
        ..Replay::default()
    };
    // gen_pipeline_unet.py's shortened Pixelsmith schedule: 10 steps, Slider 4.
    let ddim = Ddim::new(
        SchedulerConfig {
            set_alpha_to_one: true,
            ..SchedulerConfig::sdxl()
        },
        10,
    )
    .expect("ddim");
    let denoiser = unet();
    let (vae, lsr) = (vae(), lsr());
    let mut pipe = HighResPipeline::new(&denoiser, &vae, &lsr, ddim);
    let mut keep = Keep::default();
    let config = HighResConfig::pixelsmith(1024, 1024);
    let z = pipe
        .refine_with_guide(&config, guide, 0, 4, &cond(), &mut rng, &mut keep)
        .expect("pixelsmith");
    assert!(
        rng.perm.is_empty() && rng.rand.is_empty(),
        "draws left: the patch count differs"
    );
    check_rel(
        "patch 0 after the UNet and DDIM step",
        &keep.0["PixelsmithStep(0)"],
        &fx.tensor("patch_output_0"),
        1e-4,
    );
    for k in 0..2 {
        check_rel(
            &format!("patch input {k}"),
            &keep.0[&format!("PixelsmithPatch({k})")],
            &fx.tensor(&format!("patch_input_{k}")),
            1e-4,
        );
    }
    check_rel("final latent", &z, &fx.tensor("final_latent"), 1e-4);
}
