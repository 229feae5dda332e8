//! `ultrares generate`: reference-based high-resolution generation (LSRNA-DemoFusion,
//! DemoFusion, direct). The pipeline, VAE, LSR and schedulers exist; no denoiser network (SDXL
//! UNet) does yet, so after checking every argument this command says so and exits with 2.

use std::path::PathBuf;

use clap::{Args as ClapArgs, ValueEnum};
use ultrares::pipeline::{HighResConfig, Strategy};

/// Arguments of `ultrares generate`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The prompt.
    prompt: String,
    /// Output image (PNG).
    #[arg(long, short)]
    output: PathBuf,
    /// Negative prompt (LSRNA's default is "blurry, ugly, duplicate, poorly drawn, deformed, mosaic").
    #[arg(
        long,
        default_value = "blurry, ugly, duplicate, poorly drawn, deformed, mosaic"
    )]
    negative_prompt: String,
    /// Target height in pixels.
    #[arg(long, default_value_t = 2048)]
    height: usize,
    /// Target width in pixels.
    #[arg(long, default_value_t = 2048)]
    width: usize,
    /// Strategy.
    #[arg(long, value_enum, default_value_t = StrategyArg::LsrnaDemofusion)]
    strategy: StrategyArg,
    /// Denoising steps (DDIM, SDXL schedule).
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// LSRNA: the final steps run at the target size.
    #[arg(long, default_value_t = 30)]
    inversion_depth: usize,
    /// Classifier-free guidance scale.
    #[arg(long, default_value_t = 7.5)]
    guidance_scale: f64,
    /// Views per denoiser call.
    #[arg(long)]
    view_batch_size: Option<usize>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The denoiser's weights (an SDXL UNet folder or file).
    #[arg(long)]
    unet: Option<PathBuf>,
    /// The VAE: a diffusers folder (`vae/` or a pipeline folder) or an LDM single file.
    #[arg(long)]
    vae: Option<PathBuf>,
    /// LSRNA's LSR checkpoint (`swinir-liif-latent-sdxl.pth`).
    #[arg(long)]
    lsr: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StrategyArg {
    LsrnaDemofusion,
    Demofusion,
    LsrnaPixelsmith,
    Pixelsmith,
    Direct,
}

/// Checks the arguments, then reports that no denoiser network is available.
pub fn run(a: Args) -> Result<String, String> {
    let mut config = match a.strategy {
        StrategyArg::LsrnaDemofusion => HighResConfig::lsrna_demofusion(a.height, a.width),
        StrategyArg::Demofusion => HighResConfig::demofusion(a.height, a.width),
        StrategyArg::LsrnaPixelsmith => HighResConfig::lsrna_pixelsmith(a.height, a.width),
        StrategyArg::Pixelsmith => HighResConfig::pixelsmith(a.height, a.width),
        StrategyArg::Direct => HighResConfig::direct(a.height, a.width),
    };
    config.inversion_depth = a.inversion_depth;
    if let Some(b) = a.view_batch_size {
        config.view_batch_size = b;
    }
    config.validate(8, a.steps).map_err(|e| e.to_string())?;
    if !(a.guidance_scale.is_finite() && a.guidance_scale >= 0.0) {
        return Err(format!(
            "--guidance-scale must be finite and ≥ 0, got {}",
            a.guidance_scale
        ));
    }
    for (flag, path) in [("--unet", &a.unet), ("--vae", &a.vae), ("--lsr", &a.lsr)] {
        if let Some(p) = path
            && !p.exists()
        {
            return Err(format!("{flag}: {} does not exist", p.display()));
        }
    }
    if matches!(
        config.strategy,
        Strategy::LsrnaDemoFusion | Strategy::LsrnaPixelsmith
    ) && a.lsr.is_none()
    {
        return Err(format!(
            "--lsr is required for {:?} (LSRNA's swinir-liif-latent-sdxl.pth)",
            config.strategy
        ));
    }
    Err(format!(
        "no denoiser network: ultrares does not implement the SDXL UNet yet, so `generate` cannot run \
         ({a_prompt:?}, {h}×{w}, {s:?}). The pipeline is a library: implement \
         `ultrares::core::Denoiser` for your network and call `ultrares::pipeline::HighResPipeline` \
         (see examples/lsrna_demofusion.rs)",
        a_prompt = a.prompt,
        h = a.height,
        w = a.width,
        s = config.strategy
    ))
}
