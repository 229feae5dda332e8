//! `ultrares`: command-line access to the ultrares libraries.
//!
//! Exit codes: 0 success, 2 bad arguments or bad input (one line on stderr), 1 other failures
//! (a write that fails after the work, a device error); see [`CliError`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use ultrares::core::image::{read_gray8, read_rgb8, save_image};
use ultrares::rna::RegionNoiseConfig;
use ultrares::rna::canny::{CannyConfig, canny};

mod aesthetics;
mod clip_score;
mod device;
mod encode_prompt;
mod fid;
mod generate;
mod generate_flow;
mod lsr;
mod metrics;
mod model_source;
mod npy;
mod output;
mod schedule;
mod tokenize;
mod wavediff;
mod wavediff_train;
#[cfg(feature = "ndarray")]
mod wavelet;
mod weights;

/// Ultra-high-resolution latent diffusion tools (LSRNA, WaveDiff, Diffusion-4K).
#[derive(Debug, Parser)]
#[command(name = "ultrares", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version, the enabled backends and the devices they find.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Canny edges with OpenCV's exact semantics (`cv2.Canny`); writes a 0/255 PNG.
    ///
    /// Colour inputs are converted to gray with OpenCV's formula. The default thresholds are
    /// LSRNA's (0, 255).
    Canny {
        /// Input image (PNG or JPEG).
        input: PathBuf,
        /// Output edge map (PNG).
        output: PathBuf,
        /// Low hysteresis threshold (OpenCV's threshold1).
        #[arg(long, default_value_t = 0.0)]
        low: f64,
        /// High hysteresis threshold (OpenCV's threshold2).
        #[arg(long, default_value_t = 255.0)]
        high: f64,
        /// Use the L2 gradient magnitude.
        #[arg(long)]
        l2: bool,
        /// Sobel aperture: 3, 5 or 7.
        #[arg(long, default_value_t = 3)]
        aperture: u8,
    },
    /// LSRNA's region-wise noise scale map of a reference image for a latent size, as .npy (f32,
    /// H×W).
    RnaMap {
        /// The decoded reference image (PNG or JPEG).
        reference: PathBuf,
        /// Target latent size `HxW`, height first as every size in ultrares (e.g. 512x512 for a
        /// 4096² SDXL image, 270x480 for a 2160×3840 one).
        #[arg(long, value_parser = parse_size)]
        latent_size: [usize; 2],
        /// Output `.npy` file.
        output: PathBuf,
        /// Noise-scale preset.
        #[arg(long, value_enum, default_value_t = Preset::Demofusion)]
        preset: Preset,
        /// Override e_min.
        #[arg(long)]
        e_min: Option<f32>,
        /// Override e_max.
        #[arg(long)]
        e_max: Option<f32>,
        /// Print a JSON summary (size, min, max, mean, seconds).
        #[arg(long)]
        json: bool,
    },
    /// An image from a prompt with a diffusers SDXL folder: directly at the target size or
    /// through DemoFusion, LSRNA-DemoFusion, Pixelsmith or LSRNA-Pixelsmith.
    Generate(generate::Args),
    /// A scheduler's inference schedule (timesteps, sigmas or alphas_cumprod), as diffusers
    /// computes it.
    Schedule(schedule::Args),
    /// The token ids a CLIP or T5 text encoder receives (77 per prompt for CLIP, --max-length for
    /// T5; padded and truncated as diffusers does), with transformers' exact tokenizers.
    Tokenize(tokenize::Args),
    /// SDXL's text conditioning for a prompt (both CLIP towers, diffusers' encode_prompt), as
    /// safetensors: what the UNet receives.
    EncodePrompt(encode_prompt::Args),
    /// List a checkpoint's tensors (name, dtype, shape), parameters and bytes, reading only
    /// headers: a .safetensors file, a sharded *.safetensors.index.json, a .pth/.bin file or a
    /// diffusers folder.
    Weights(weights::Args),
    /// CLIPScore of images and their captions, as torchmetrics computes it (Diffusion-4K's
    /// text–image alignment): `max(mean of 100·cos, 0)` with a transformers CLIPModel folder.
    ClipScore(clip_score::Args),
    /// The LAION aesthetic predictor v2 score of images (Diffusion-4K's aesthetics metric):
    /// CLIP ViT-L/14 embeddings through `sac+logos+ava1-l14-linearMSE.pth`.
    Aesthetics(aesthetics::Args),
    /// WaveDiff (CVPR 2023): sample images from a generator checkpoint.
    Wavediff(wavediff::Args),
    /// Diffusion-4K's GLCM Score (or a mean GLCM property) of images, as its eval.py.
    GlcmScore(metrics::Args),
    /// Diffusion-4K's Compression Ratio (raw RGB bytes / JPEG q95 bytes, libjpeg-turbo-exact
    /// encoder, or the files' sizes with --on-disk).
    CompressionRatio(metrics::CrArgs),
    /// FID (pytorch-fid) of two sets: features .npy, statistics .npz or image folders; pFID
    /// with --patch 1024.
    #[cfg(feature = "ndarray")]
    Fid(fid::FidArgs),
    /// KID (clean-fid's unbiased polynomial MMD over subsets) of two sets; pKID with --patch.
    #[cfg(feature = "ndarray")]
    Kid(fid::KidArgs),
    /// Upscale an RGB image with LIIF (real EDSR-baseline weights bundled by default).
    #[cfg(feature = "ndarray")]
    Upscale(lsr::UpscaleArgs),
    /// LSRNA's latent super-resolution (SwinIR-light + LIIF + bicubic residual) of a latent .npy
    /// to any size, from an official checkpoint.
    #[cfg(feature = "ndarray")]
    Lsr(lsr::LsrArgs),
    /// 2-D wavelet decomposition of a .npy array (rank 2-4, last two axes) into an .npz with
    /// keys a, h1, v1, d1, ... (level 1 finest); equal to `pywt.wavedec2`. The .npz also records
    /// wavelet, mode, level and shape, which `idwt` uses.
    Dwt {
        /// Input `.npy` (float32 or float64).
        input: PathBuf,
        /// Output `.npz`.
        output: PathBuf,
        /// Wavelet: haar, db1-db38, sym2-sym20, coif1-coif17.
        #[arg(long, default_value = "haar")]
        wavelet: String,
        /// Signal extension: zero, constant, symmetric, reflect, periodic, periodization,
        /// antisymmetric.
        #[arg(long, default_value = "symmetric")]
        mode: String,
        /// Decomposition levels.
        #[arg(long, default_value_t = 1)]
        level: usize,
        /// Print a JSON summary of the written arrays.
        #[arg(long)]
        json: bool,
    },
    /// Inverse of `dwt`: reads an .npz (a, h1, v1, d1, ...) and writes the .npy; equal to
    /// `pywt.waverec2`, cropped to the shape `dwt` recorded.
    Idwt {
        /// Input `.npz`.
        input: PathBuf,
        /// Output `.npy`.
        output: PathBuf,
        /// Wavelet used for the decomposition. Default: the one `dwt` recorded in the file
        /// (required for an `.npz` that records none); a contradicting value is an error.
        #[arg(long)]
        wavelet: Option<String>,
        /// Signal extension used for the decomposition. Default and checks as --wavelet.
        #[arg(long)]
        mode: Option<String>,
        /// Print a JSON summary.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// [e_min, e_max] = [0, 1.2] (LSRNA-DemoFusion).
    Demofusion,
    /// [e_min, e_max] = [0.4, 0.8] (LSRNA-Pixelsmith).
    Pixelsmith,
}

pub(crate) fn parse_size(s: &str) -> Result<[usize; 2], String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected HxW (height first), got {s:?}"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("expected HxW (height first) with positive integers, got {s:?}"))
    };
    Ok([p(h)?, p(w)?])
}

/// A subcommand's failure, with its exit code: 2 for bad usage or bad input, 1 for anything
/// else (a write that fails after the work, a device error).
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments (exit 2).
    Usage(String),
    /// Bad input: unreadable or invalid files, values the libraries reject (exit 2).
    Input(String),
    /// Any other failure (exit 1).
    Failure(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Input(_) => 2,
            Self::Failure(_) => 1,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Self::Usage(m) | Self::Input(m) | Self::Failure(m)) = self;
        f.write_str(m)
    }
}

impl From<String> for CliError {
    fn from(m: String) -> Self {
        Self::Input(m)
    }
}

impl From<&str> for CliError {
    fn from(m: &str) -> Self {
        Self::Input(m.to_string())
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Schedule(args) => println!("{}", schedule::run(args)?),
        Command::Tokenize(args) => println!("{}", tokenize::run(args)?),
        Command::EncodePrompt(args) => println!("{}", encode_prompt::run(args)?),
        Command::Weights(args) => println!("{}", weights::run(args)?),
        Command::Generate(args) => println!("{}", generate::run(args)?),
        Command::ClipScore(args) => println!("{}", clip_score::run(args)?),
        Command::Aesthetics(args) => println!("{}", aesthetics::run(args)?),
        Command::Wavediff(args) => println!("{}", wavediff::run(args)?),
        Command::GlcmScore(args) => println!("{}", metrics::run(args)?),
        Command::CompressionRatio(args) => println!("{}", metrics::run_compression_ratio(args)?),
        Command::Fid(args) => println!("{}", fid::run_fid(args)?),
        Command::Kid(args) => println!("{}", fid::run_kid(args)?),
        Command::Upscale(args) => println!("{}", lsr::run_upscale(args)?),
        Command::Lsr(args) => println!("{}", lsr::run_lsr(args)?),
        #[cfg(feature = "ndarray")]
        Command::Dwt {
            input,
            output,
            wavelet,
            mode,
            level,
            json,
        } => {
            let summary = wavelet::dwt(&input, &output, &wavelet, &mode, level)?;
            if json {
                println!("{summary}");
            }
        }
        #[cfg(feature = "ndarray")]
        Command::Idwt {
            input,
            output,
            wavelet,
            mode,
            json,
        } => {
            let summary = wavelet::idwt(&input, &output, wavelet.as_deref(), mode.as_deref())?;
            if json {
                println!("{summary}");
            }
        }
        #[cfg(not(feature = "ndarray"))]
        Command::Dwt { .. } | Command::Idwt { .. } => {
            return Err(CliError::Usage(
                "dwt/idwt run on the CPU in f64: build with the `ndarray` feature".into(),
            ));
        }
        Command::Info { json } => println!("{}", info(json)),
        Command::Canny {
            input,
            output,
            low,
            high,
            l2,
            aperture,
        } => {
            let out = output::Output::new(&output, "output", &["png"])?;
            let gray = read_gray8(&input).map_err(|e| e.to_string())?;
            let cfg = CannyConfig::new(low, high)
                .with_l2_gradient(l2)
                .with_aperture(aperture);
            let edges = canny(&gray, &cfg).map_err(|e| e.to_string())?;
            save_image(&edges, out.tmp()).map_err(|e| CliError::Failure(e.to_string()))?;
            out.commit()?;
        }
        Command::RnaMap {
            reference,
            latent_size,
            output,
            preset,
            e_min,
            e_max,
            json,
        } => {
            let t = Instant::now();
            let out = output::Output::new(&output, "output", &["npy"])?;
            let mut cfg = match preset {
                Preset::Demofusion => RegionNoiseConfig::demofusion(),
                Preset::Pixelsmith => RegionNoiseConfig::pixelsmith(),
            };
            cfg.e_min = e_min.unwrap_or(cfg.e_min);
            cfg.e_max = e_max.unwrap_or(cfg.e_max);
            let img = read_rgb8(&reference).map_err(|e| e.to_string())?;
            let map = cfg.std_map(&img, latent_size).map_err(|e| e.to_string())?;
            let stats = (
                map.iter().copied().fold(f32::INFINITY, f32::min),
                map.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                map.iter().map(|&v| v as f64).sum::<f64>() / map.len() as f64,
            );
            let arr =
                ndarray::Array2::from_shape_vec(latent_size, map).map_err(|e| e.to_string())?;
            ndarray_npy::write_npy(out.tmp(), &arr)
                .map_err(|e| CliError::Failure(format!("writing {}: {e}", output.display())))?;
            out.commit()?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "latent_size": latent_size, "min": stats.0, "max": stats.1,
                        "mean": stats.2, "seconds": t.elapsed().as_secs_f64(),
                    })
                );
            }
        }
    }
    Ok(())
}

fn info(json: bool) -> String {
    let backends = ultrares::backend::enabled();
    let devices = ultrares::backend::devices();
    if json {
        let devices: Vec<_> = devices
            .iter()
            .map(|d| serde_json::json!({"backend": d.backend, "name": d.name}))
            .collect();
        return serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "backends": backends,
            "devices": devices,
        })
        .to_string();
    }
    let mut s = format!(
        "ultrares {}\nbackends: {}\ndevices:",
        env!("CARGO_PKG_VERSION"),
        if backends.is_empty() {
            "none (build with --features ndarray, cuda or wgpu)".to_string()
        } else {
            backends.join(", ")
        }
    );
    if devices.is_empty() {
        s.push_str(" none found");
    }
    for d in devices {
        s.push_str(&format!("\n  {}: {}", d.backend, d.name));
    }
    s
}

/// A clap error on two lines: clap's message with its list of missing or wrong arguments on one
/// line, then the usage line. A negative number given to an option (`--scale -2`), which clap
/// reads as an unknown flag, is reported as a bad value of that option.
fn usage_error(e: &clap::Error, argv: &[String]) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = e.to_string();
    let usage = text
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .map(str::trim);
    let help = match argv.get(1).filter(|a| !a.starts_with('-')) {
        Some(sub) if e.kind() != ErrorKind::InvalidSubcommand => format!("ultrares {sub} --help"),
        _ => "ultrares --help".to_string(),
    };
    let invalid = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let first = match invalid {
        Some(v) if e.kind() == ErrorKind::UnknownArgument && v.parse::<f64>().is_ok() => {
            let option = argv
                .iter()
                .position(|a| a == v)
                .and_then(|i| i.checked_sub(1))
                .map(|i| argv[i].as_str())
                .filter(|o| o.starts_with("--"));
            match option {
                Some(o) => format!(
                    "error: invalid value '{v}' for '{o}': negative values are not accepted"
                ),
                None => format!("error: unexpected negative number '{v}'"),
            }
        }
        _ => {
            // The first paragraph ("error: …" and its indented list), on one line.
            match text.split("\n\n").next() {
                Some(p) if p.starts_with("error:") => {
                    p.split_whitespace().collect::<Vec<_>>().join(" ")
                }
                _ => "error: a subcommand is required".to_string(),
            }
        }
    };
    match usage {
        Some(u) => format!("{first}\n{u} (see `{help}`)"),
        None => format!("{first} (see `{help}`)"),
    }
}

// Burn's CPU backend allocates a buffer per tensor op; glibc maps and zeroes every buffer above
// 32 MiB afresh, which cost up to half the time of a VAE decode. mimalloc reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", usage_error(&e, &std::env::args().collect::<Vec<_>>()));
            return ExitCode::from(2);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::from(e.exit_code())
        }
    }
}
