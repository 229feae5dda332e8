//! SDXL end to end through the library: a diffusers SDXL folder's text encoders, UNet and VAE,
//! LSRNA's LSR, and `HighResPipeline` — LSRNA-DemoFusion at 4096² with a `--lsr` checkpoint
//! (LSRNA's setting: DDIM, 50 steps, the last 30 at the target size, CFG 7.5), direct generation
//! at the UNet's native size without one.
//!
//! ```text
//! cargo run --release --example sdxl_generate -- --model sdxl-base --prompt "a lighthouse at dusk" \
//!     [--lsr swinir-liif-latent-sdxl.pth] [--size 4096x4096] [--steps 50] [--seed 0] [-o out.png]
//! ```
//!
//! The same run with every option (schedulers, LoRA, `--init-image`, latents in and out, GPU
//! backends) is `ultrares generate`. On the 2-core CPU backend one SDXL UNet call on a 128²
//! latent takes minutes: real generations are GPU jobs (`--features cuda`, `ultrares::backend`).

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::backend::NdArray;
use burn::tensor::DType;
use ultrares::core::image::{ValueRange, write_tensor};
use ultrares::core::{CodecTiling, LatentUpsampler, PredictionType};
use ultrares::lsr::Liif;
use ultrares::pipeline::{
    BicubicUpsampler, DecodeMode, GuidedCond, HighResConfig, HighResPipeline, Progress, ProgressFn,
    SeededRandomness,
};
use ultrares::schedulers::{Ddim, SchedulerConfig};
use ultrares::text::{SdxlPrompt, SdxlTextEncoders};
use ultrares::unet::{TextCond, UNet2DConditionModel, UnetDenoiser};
use ultrares::vae::from_diffusers_dir;

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: sdxl_generate --model SDXL_DIR --prompt TEXT [--lsr CKPT] [--size HxW] [--steps N] [--seed N] [-o out.png]";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut model, mut prompt, mut lsr, mut size) = (None::<PathBuf>, None, None::<PathBuf>, None);
    let (mut steps, mut seed, mut out) = (50usize, 0u64, PathBuf::from("sdxl.png"));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--model" => model = Some(value()?.into()),
            "--prompt" => prompt = Some(value()?),
            "--lsr" => lsr = Some(value()?.into()),
            "--steps" => steps = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            "-o" | "--output" => out = value()?.into(),
            "--size" => {
                let v = value()?;
                let (h, w) = v.split_once('x').ok_or(USAGE)?;
                size = Some([h.parse()?, w.parse()?]);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}").into()),
        }
    }
    let (model, prompt) = (model.ok_or(USAGE)?, prompt.ok_or(USAGE)?);
    let device = Default::default();

    // Text conditioning (both CLIP towers, diffusers' encode_prompt), then drop the towers.
    let encoders = SdxlTextEncoders::<B>::from_pipeline_dir(&model, None, DType::F32, &device)?;
    let e = encoders.encode(
        &SdxlPrompt {
            prompt: vec![prompt],
            prompt_2: None,
            negative_prompt: Some(vec![
                "blurry, ugly, duplicate, poorly drawn, deformed, mosaic".into(),
            ]),
            negative_prompt_2: None,
            clip_skip: None,
            guidance: true,
        },
        &device,
    )?;
    drop(encoders);
    let positive = TextCond::sdxl(e.prompt_embeds, e.pooled_prompt_embeds)?;
    let negative = match (e.negative_prompt_embeds, e.negative_pooled_prompt_embeds) {
        (Some(n), Some(p)) => TextCond::sdxl(n, p)?,
        _ => positive.clone(),
    };
    let cond = GuidedCond::new(positive, negative, 7.5);

    let (_, unet) = UNet2DConditionModel::<B>::from_diffusers_dir(
        &model.join("unet"),
        None,
        DType::F32,
        &device,
    )?;
    let denoiser = UnetDenoiser {
        unet,
        prediction_type: PredictionType::Epsilon,
    };
    let vae = from_diffusers_dir::<B>(&model, &device)?;
    let lsr = lsr
        .map(|p| Liif::<B>::from_checkpoint(p, &device))
        .transpose()?;
    let config = match (&lsr, size) {
        (Some(_), s) => {
            let [h, w] = s.unwrap_or([4096, 4096]);
            HighResConfig {
                decode: DecodeMode::Tiled(CodecTiling::default()),
                ..HighResConfig::lsrna_demofusion(h, w)
            }
        }
        (None, s) => {
            let [h, w] = s.unwrap_or([1024, 1024]);
            HighResConfig::direct(h, w)
        }
    };
    let ddim = Ddim::new(SchedulerConfig::sdxl(), steps)?;
    let mut observer = ProgressFn(|p: Progress| {
        eprint!("\r{:?}: {}/{}    ", p.stage, p.step, p.total);
        ControlFlow::Continue(())
    });
    let mut rng = SeededRandomness::new(seed);
    let output = match &lsr {
        Some(m) => run_with(
            &denoiser,
            &vae,
            m,
            ddim,
            &config,
            &cond,
            &mut rng,
            &mut observer,
        )?,
        None => run_with(
            &denoiser,
            &vae,
            &BicubicUpsampler,
            ddim,
            &config,
            &cond,
            &mut rng,
            &mut observer,
        )?,
    };
    eprintln!();
    for t in &output.timings {
        println!("{:?}: {:.2} s", t.stage, t.elapsed.as_secs_f64());
    }
    write_tensor(output.image, ValueRange::MinusOneOne, &out)?;
    println!("wrote {}", out.display());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_with<U: LatentUpsampler<B>>(
    denoiser: &UnetDenoiser<B>,
    vae: &ultrares::vae::AutoencoderKl<B>,
    upsampler: &U,
    ddim: Ddim,
    config: &HighResConfig,
    cond: &GuidedCond<TextCond<B>>,
    rng: &mut SeededRandomness,
    observer: &mut dyn ultrares::pipeline::Observer<B>,
) -> Result<ultrares::pipeline::HighResOutput<B>, ultrares::pipeline::Error> {
    HighResPipeline::new(denoiser, vae, upsampler, ddim).generate(
        config,
        cond,
        &Default::default(),
        rng,
        observer,
    )
}
