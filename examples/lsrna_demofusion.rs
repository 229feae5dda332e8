//! LSRNA-DemoFusion end to end through `ultrares::pipeline::HighResPipeline`.
//!
//! The pipeline runs over any `Denoiser`. With real SDXL weights use `examples/sdxl_generate.rs`
//! (or `ultrares generate`); this example checks that a VAE and an LSR load and points there:
//!
//! ```text
//! cargo run --release --example lsrna_demofusion -- --vae SDXL_DIR --lsr swinir-liif-latent-sdxl.pth
//! ```
//!
//! `--stand-in` runs the whole pipeline with gen_pipeline.py's stand-in denoiser (a fixed cheap
//! function, no model) and a small random VAE, showing the API, progress and timings:
//!
//! ```text
//! cargo run --release --example lsrna_demofusion -- --stand-in [--size 2048x2048] [--lsr CKPT] [-o out.png]
//! ```

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::backend::NdArray;
use ultrares::core::image::{ValueRange, write_tensor};
use ultrares::core::{CodecTiling, LatentUpsampler};
use ultrares::lsr::Liif;
use ultrares::pipeline::testing::{StandIn, StandInCond};
use ultrares::pipeline::{
    BicubicUpsampler, DecodeMode, Guided, GuidedCond, HighResConfig, HighResPipeline, Progress,
    ProgressFn, SeededRandomness,
};
use ultrares::schedulers::{Ddim, SchedulerConfig};
use ultrares::vae::{AutoencoderKlConfig, from_diffusers_dir};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: lsrna_demofusion (--vae DIR --lsr CKPT | --stand-in) [--size HxW] [--seed N] [-o out.png]";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut vae, mut lsr, mut out) = (
        None::<PathBuf>,
        None::<PathBuf>,
        PathBuf::from("lsrna_demofusion.png"),
    );
    let (mut stand_in, mut size, mut seed) = (false, [2048, 2048], 0u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--vae" => vae = Some(value()?.into()),
            "--lsr" => lsr = Some(value()?.into()),
            "-o" | "--output" => out = value()?.into(),
            "--seed" => seed = value()?.parse()?,
            "--size" => {
                let v = value()?;
                let (h, w) = v.split_once('x').ok_or(USAGE)?;
                size = [h.parse()?, w.parse()?];
            }
            "--stand-in" => stand_in = true,
            _ => return Err(format!("unknown argument {a}\n{USAGE}").into()),
        }
    }
    let device = Default::default();
    let lsr_model = match &lsr {
        Some(p) => Some(Liif::<B>::from_checkpoint(p, &device)?),
        None => None,
    };
    if !stand_in {
        let dir = vae.ok_or(USAGE)?;
        let _vae = from_diffusers_dir::<B>(&dir, &device)?;
        lsr_model.ok_or(format!("--lsr is required\n{USAGE}"))?;
        println!(
            "VAE and LSR load. With the whole SDXL folder, run the real pipeline: \
             cargo run --release --example sdxl_generate -- --model SDXL_DIR --lsr CKPT \
             --prompt \"…\" (or `ultrares generate`); --stand-in runs this example's stand-in."
        );
        return Ok(());
    }
    // The stand-in run: 4 blocks of 8 channels, random weights.
    let codec = AutoencoderKlConfig {
        norm_num_groups: 4,
        layers_per_block: 1,
        sample_size: 1024,
        scaling_factor: 0.13025,
        mid_block_add_attention: false,
        ..AutoencoderKlConfig::new(vec![8, 8, 8, 8])
    }
    .init::<B>(&device)?;
    let config = HighResConfig {
        decode: DecodeMode::Tiled(CodecTiling::default()),
        ..HighResConfig::lsrna_demofusion(size[0], size[1])
    };
    let cond = |p| StandInCond {
        pooled: p,
        sizes: Vec::new(),
    };
    let cond = GuidedCond::new(cond(0.7), cond(-0.3), 7.5);
    let denoiser = Guided { inner: StandIn };
    let ddim = Ddim::new(SchedulerConfig::sdxl(), 50)?;
    let mut observer = ProgressFn(|p: Progress| {
        eprint!("\r{:?}: {}/{}    ", p.stage, p.step, p.total);
        ControlFlow::Continue(())
    });
    let mut rng = SeededRandomness::new(seed);
    let output = match &lsr_model {
        Some(m) => generate(
            &denoiser,
            &codec,
            m,
            ddim,
            &config,
            &cond,
            &mut rng,
            &mut observer,
        )?,
        None => generate(
            &denoiser,
            &codec,
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
    println!(
        "denoiser calls {}, latents {}",
        output.denoiser_calls, output.denoiser_evaluations
    );
    write_tensor(output.image, ValueRange::MinusOneOne, &out)?;
    println!("wrote {}", out.display());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn generate<U: LatentUpsampler<B>>(
    denoiser: &Guided<StandIn>,
    codec: &ultrares::vae::AutoencoderKl<B>,
    upsampler: &U,
    ddim: Ddim,
    config: &HighResConfig,
    cond: &GuidedCond<StandInCond>,
    rng: &mut SeededRandomness,
    observer: &mut dyn ultrares::pipeline::Observer<B>,
) -> Result<ultrares::pipeline::HighResOutput<B>, ultrares::pipeline::Error> {
    HighResPipeline::new(denoiser, codec, upsampler, ddim).generate(
        config,
        cond,
        &Default::default(),
        rng,
        observer,
    )
}
