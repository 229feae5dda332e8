//! `ultrares generate`: an image from a prompt with a diffusers SDXL pipeline folder, directly at
//! the target size or through a reference-based high-resolution strategy (DemoFusion,
//! LSRNA-DemoFusion, Pixelsmith, LSRNA-Pixelsmith).
//!
//! Steps: the prompt through both CLIP towers (`encode_prompt`, then the towers are dropped),
//! the UNet and the VAE from the folder, the scheduler of `scheduler/scheduler_config.json`
//! (or `--scheduler` built from that config, as diffusers' `from_config`), then
//! `HighResPipeline::generate` with classifier-free guidance in one batch. `--init-latents`
//! replaces the initial noise (diffusers' `latents=`, before `init_noise_sigma`);
//! `--save-latents` writes the final latent (`output_type="latent"`).

use std::fs::File;
use std::io::BufWriter;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::DType;
use clap::{Args as ClapArgs, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::WriteNpyExt;
use ultrares::core::image::{ValueRange, read_rgb8, rgb8_to_tensor, tensor_to_rgb8};
use ultrares::core::resize::{PilFilter, resize_pil};
use ultrares::core::{
    Denoiser, Draw, GuidedCond, PredictionType, Randomness, SeededRandomness, ViewConditioning,
};
use ultrares::nn::{ConfigJson, NnBackend, StateDict};
use ultrares::pipeline::{
    BicubicUpsampler, HighResConfig, HighResPipeline, Observer, Progress, Stage, Strategy,
};
use ultrares::schedulers::{
    Ddim, Ddpm, DpmSolverMultistep, EulerAncestral, EulerDiscrete, Scheduler, SchedulerConfig,
};
use ultrares::text::{SdxlPrompt, SdxlTextEncoders};
use ultrares::unet::{Lora, TextCond, UNet2DConditionConfig, UNet2DConditionModel, UnetDenoiser};
use ultrares::vae::{AutoencoderKl, AutoencoderKlConfig, from_diffusers_dir};

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::model_source::ModelSource;
use crate::output::Output;
use ultrares::wavediff::WaveDiffBackend;

/// Arguments of `ultrares generate`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A diffusers pipeline folder: SDXL (model_index.json, unet/, vae/, text_encoder/,
    /// text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/), SD3/SD3.5 (transformer/,
    /// text_encoder_3/, tokenizer_3/ instead of unet/) or Flux (transformer/, text_encoder_2/ =
    /// T5). SD3 and Flux run --strategy direct. Or an original single-file checkpoint
    /// (`sd_xl_base_1.0.safetensors`, SD3's all-in-one files, a Flux transformer file) with
    /// --config.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// With a single-file --model: a diffusers pipeline folder giving the configs, tokenizers
    /// and scheduler, and the weights of the components the file lacks (diffusers'
    /// `from_single_file(file, config=DIR)`).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// The prompt.
    #[arg(long)]
    pub(crate) prompt: String,
    /// The second text tower's prompt (diffusers' prompt_2; default: --prompt).
    #[arg(long)]
    pub(crate) prompt_2: Option<String>,
    /// SD3's third (T5) prompt (diffusers' prompt_3; default: --prompt).
    #[arg(long)]
    pub(crate) prompt_3: Option<String>,
    /// SD3/Flux: T5 tokens (diffusers' max_sequence_length; default 256 for SD3, 512 for Flux);
    /// longer prompts are truncated with a warning.
    #[arg(long)]
    pub(crate) max_sequence_length: Option<usize>,
    /// A diffusers VAE folder replacing the pipeline's vae/ (e.g. Diffusion-4K's 16× VAE, decoded
    /// partitioned as Diffusion-4K does).
    #[arg(long)]
    pub(crate) vae: Option<PathBuf>,
    /// The negative prompt (default: none, i.e. zeros when the folder sets
    /// force_zeros_for_empty_prompt, as diffusers).
    #[arg(long)]
    pub(crate) negative_prompt: Option<String>,
    /// Output image (PNG; the seed and settings go in its "parameters" text chunk). Required
    /// unless --save-latents is given.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Target size `HxW` in pixels, height first (default: the UNet's native size for direct,
    /// twice it per side for the other strategies).
    #[arg(long, value_parser = crate::parse_size)]
    pub(crate) size: Option<[usize; 2]>,
    /// Strategy.
    #[arg(long, value_enum, default_value_t = StrategyArg::Direct)]
    pub(crate) strategy: StrategyArg,
    /// LSRNA's LSR checkpoint (`swinir-liif-latent-sdxl.pth`), for the lsrna-* strategies.
    #[arg(long)]
    pub(crate) lsr: Option<PathBuf>,
    /// Denoising steps.
    #[arg(long, default_value_t = 50)]
    pub(crate) steps: usize,
    /// LSRNA: the final steps run at the target size.
    #[arg(long, default_value_t = 30)]
    pub(crate) inversion_depth: usize,
    /// Guidance scale: classifier-free (SDXL, SD3; ≤ 1: none, one batch per step) or Flux-dev's
    /// distilled guidance embedding (diffusers' default 3.5 for Flux; pass it explicitly).
    #[arg(long, default_value_t = 5.0)]
    pub(crate) guidance: f64,
    /// Flux: true classifier-free guidance (diffusers' `true_cfg_scale`). Above 1 and with a
    /// --negative-prompt, every step also runs the transformer on the negative prompt and takes
    /// `negative + S·(positive − negative)` (twice the cost); --guidance stays the guidance
    /// embedding.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) true_cfg: f64,
    /// Scheduler (default: the folder's scheduler_config.json class), built from the folder's
    /// config as diffusers' `from_config`.
    #[arg(long, value_enum)]
    pub(crate) scheduler: Option<SchedulerArg>,
    /// Views per denoiser call (DemoFusion).
    #[arg(long)]
    pub(crate) view_batch_size: Option<usize>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Initial noise `.npy` `[1, C, h, w]` at the reference size (diffusers' `latents=`, before
    /// `init_noise_sigma`; Flux: the packed `[1, (h/2)·(w/2), 4C]` sequence), in place of the
    /// seeded draw.
    #[arg(long)]
    pub(crate) init_latents: Option<PathBuf>,
    /// Writes the final latent `[1, C, H/f, W/f]` (float32 .npy) as diffusers'
    /// `output_type="latent"` returns it (Flux: packed `[1, (H/2f)·(W/2f), 4C]`).
    #[arg(long)]
    pub(crate) save_latents: Option<PathBuf>,
    /// A LoRA file merged into the UNet or transformer, `FILE[:SCALE]` (scale 1 by default;
    /// kohya/A1111 or diffusers/PEFT `.safetensors`; SD3/Flux also with the original fused-qkv
    /// names); repeatable. Text-encoder pairs are merged into the CLIP towers too, as diffusers'
    /// `fuse_lora` (SDXL, SD3: `lora_te1_`/`lora_te2_`, `text_encoder[_2].`; Flux: CLIP-L's
    /// `text_encoder.`/`lora_te1_`, at the same scale); T5 pairs are not (a warning says so).
    #[arg(long, value_parser = parse_lora)]
    pub(crate) lora: Vec<(PathBuf, f64)>,
    /// Upscale this picture instead of generating the reference: it is resized to the
    /// reference size (the target / the strategy's scale) if needed, encoded, and the
    /// strategy's high-resolution steps run (LSRNA: LSR, region-wise noise, the last
    /// --inversion-depth steps). Not with --strategy direct.
    #[arg(long)]
    pub(crate) init_image: Option<PathBuf>,
    /// Weight variant to load, e.g. fp16 (`*.fp16.safetensors`).
    #[arg(long)]
    pub(crate) variant: Option<String>,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu].
    #[arg(long, default_value_t)]
    pub(crate) device: DeviceArg,
    /// UNet, text-tower and LSR dtype: f32, f16 or bf16 (half on GPU devices only; norm
    /// statistics and softmax in f32; the VAE runs in f32 as diffusers' force_upcast).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    pub(crate) dtype: DType,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StrategyArg {
    Direct,
    Demofusion,
    LsrnaDemofusion,
    Pixelsmith,
    LsrnaPixelsmith,
}

/// `--scheduler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchedulerArg {
    /// DDIMScheduler (eta 0).
    Ddim,
    /// EulerDiscreteScheduler.
    Euler,
    /// EulerAncestralDiscreteScheduler.
    EulerAncestral,
    /// DDPMScheduler.
    Ddpm,
    /// DPMSolverMultistepScheduler (2M; direct only).
    DpmSolver,
}

impl SchedulerArg {
    fn from_class(name: &str) -> Option<Self> {
        Some(match name {
            "DDIMScheduler" => Self::Ddim,
            "EulerDiscreteScheduler" => Self::Euler,
            "EulerAncestralDiscreteScheduler" => Self::EulerAncestral,
            "DDPMScheduler" => Self::Ddpm,
            "DPMSolverMultistepScheduler" => Self::DpmSolver,
            _ => return None,
        })
    }
}

fn parse_lora(s: &str) -> Result<(PathBuf, f64), String> {
    if let Some((path, scale)) = s.rsplit_once(':')
        && let Ok(v) = scale.parse::<f64>()
    {
        if !v.is_finite() {
            return Err(format!("LoRA scale must be finite, got {scale}"));
        }
        return Ok((PathBuf::from(path), v));
    }
    Ok((PathBuf::from(s), 1.0))
}

/// Runs `ultrares generate`, returning what to print.
pub fn run(a: Args) -> Result<String, CliError> {
    check_dtype(a.dtype, a.device)?;
    if a.output.is_none() && a.save_latents.is_none() {
        return Err(CliError::Usage(
            "give --output IMAGE.png, --save-latents FILE.npy, or both".into(),
        ));
    }
    for (flag, v) in [("--guidance", a.guidance), ("--true-cfg", a.true_cfg)] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(CliError::Usage(format!(
                "{flag} must be finite and ≥ 0, got {v}"
            )));
        }
    }
    let lsrna = matches!(
        a.strategy,
        StrategyArg::LsrnaDemofusion | StrategyArg::LsrnaPixelsmith
    );
    if lsrna && a.lsr.is_none() {
        return Err(CliError::Usage(format!(
            "--lsr is required for --strategy {} (LSRNA's swinir-liif-latent-sdxl.pth)",
            a.strategy
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        )));
    }
    if a.init_image.is_some() {
        if matches!(a.strategy, StrategyArg::Direct) {
            return Err(CliError::Usage(
                "--init-image needs a high-resolution strategy (--strategy lsrna-demofusion, demofusion, pixelsmith or lsrna-pixelsmith)".into(),
            ));
        }
        if a.init_latents.is_some() {
            return Err(CliError::Usage(
                "--init-image and --init-latents exclude each other (an upscale has no initial noise)".into(),
            ));
        }
    }
    let loras = a.lora.iter().map(|(p, _)| ("--lora", Some(p)));
    for (flag, path) in [
        ("--model", Some(&a.model)),
        ("--config", a.config.as_ref()),
        ("--lsr", a.lsr.as_ref()),
        ("--init-latents", a.init_latents.as_ref()),
        ("--init-image", a.init_image.as_ref()),
        ("--vae", a.vae.as_ref()),
    ]
    .into_iter()
    .chain(loras)
    {
        if let Some(p) = path
            && !p.exists()
        {
            return Err(CliError::Input(format!(
                "{flag}: {} does not exist",
                p.display()
            )));
        }
    }
    dispatch(a.device, Generate(a))
}

struct Generate(Args);

impl Job for Generate {
    type Output = String;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<String, CliError> {
        generate::<B>(self.0, device)
    }
}

/// The pipeline families `ultrares generate` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Sdxl,
    Sd3,
    Flux,
}

/// The folder's class and components, checked up front so that every missing one is named at
/// once (`vae/` may come from `--vae`).
pub(crate) fn check_folder(dir: &Path, vae: bool) -> Result<Family, CliError> {
    let index = ConfigJson::read(dir.join("model_index.json")).map_err(|e| {
        CliError::Input(format!(
            "--model: {e} (expected a diffusers SDXL, SD3 or Flux pipeline folder)"
        ))
    })?;
    index
        .check_class(&[
            "StableDiffusionXLPipeline",
            "StableDiffusion3Pipeline",
            "FluxPipeline",
        ])
        .map_err(|e| CliError::Input(format!("--model: {e}")))?;
    let family = match index.class_name() {
        Some("StableDiffusion3Pipeline") => Family::Sd3,
        Some("FluxPipeline") => Family::Flux,
        _ => Family::Sdxl,
    };
    let mut needed = vec![
        "text_encoder/config.json",
        "text_encoder_2/config.json",
        "tokenizer",
        "tokenizer_2",
        "scheduler/scheduler_config.json",
    ];
    needed.push(match family {
        Family::Sdxl => "unet/config.json",
        Family::Sd3 | Family::Flux => "transformer/config.json",
    });
    if family == Family::Sd3 {
        needed.extend(["text_encoder_3/config.json", "tokenizer_3"]);
    }
    if !vae {
        needed.push("vae/config.json");
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|p| !dir.join(p).exists())
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Input(format!(
            "--model {}: missing {}",
            dir.display(),
            missing.join(", ")
        )));
    }
    Ok(family)
}

fn generate<B: NnBackend>(a: Args, device: &B::Device) -> Result<String, CliError> {
    let total = Instant::now();
    let src = ModelSource::open(&a.model, a.config.as_deref(), a.variant.as_deref())?;
    let family = check_folder(&src.dir, a.vae.is_some())?;
    let mut weights = match family {
        Family::Sdxl => vec!["unet", "text_encoder", "text_encoder_2"],
        Family::Sd3 => vec![
            "transformer",
            "text_encoder",
            "text_encoder_2",
            "text_encoder_3",
        ],
        Family::Flux => vec!["transformer", "text_encoder", "text_encoder_2"],
    };
    if a.vae.is_none() {
        weights.push("vae");
    }
    src.check_weights(&weights)?;
    if family != Family::Sdxl {
        return crate::generate_flow::generate::<B>(a, &src, family, device, total);
    }
    for (flag, given) in [
        ("--prompt-3", a.prompt_3.is_some()),
        ("--max-sequence-length", a.max_sequence_length.is_some()),
        ("--true-cfg", a.true_cfg != 1.0),
    ] {
        if given {
            return Err(CliError::Usage(format!(
                "{flag} is for SD3/Flux pipelines (--true-cfg: Flux; SDXL's guidance is --guidance); {} is an SDXL pipeline",
                src.label()
            )));
        }
    }
    let image_out = a
        .output
        .as_deref()
        .map(|p| Output::new(p, "--output", &["png"]))
        .transpose()?;
    let latent_out = a
        .save_latents
        .as_deref()
        .map(|p| Output::new(p, "--save-latents", &["npy"]))
        .transpose()?;

    // Scheduler: the folder's class unless --scheduler names another.
    let sched_path = src.dir.join("scheduler/scheduler_config.json");
    let sched_cfg = SchedulerConfig::from_file(&sched_path)
        .map_err(|e| CliError::Input(format!("{}: {e}", sched_path.display())))?;
    let kind = match a.scheduler {
        Some(k) => k,
        None => {
            let class = ConfigJson::read(&sched_path)
                .map_err(|e| CliError::Input(e.to_string()))?
                .class_name()
                .unwrap_or("EulerDiscreteScheduler")
                .to_string();
            SchedulerArg::from_class(&class).ok_or_else(|| {
                CliError::Input(format!(
                    "{}: scheduler {class:?} is not implemented; pick one with --scheduler \
                     (ddim, euler, euler-ancestral, ddpm, dpm-solver)",
                    sched_path.display()
                ))
            })?
        }
    };

    // Models: the UNet config first (size defaults and checks), then the text towers.
    let t = Instant::now();
    let unet_err =
        |e: ultrares::unet::UnetError| CliError::Input(format!("{}: unet: {e}", src.label()));
    let (unet_cfg, mut unet) = match src.single_file() {
        Some(sd) if src.in_file("unet") => {
            let cfg = ConfigJson::read(src.dir.join("unet/config.json"))
                .map_err(ultrares::unet::UnetError::from)
                .and_then(|c| UNet2DConditionConfig::from_config_json(&c))
                .map_err(unet_err)?;
            let unet = UNet2DConditionModel::<B>::load_single_file(&cfg, sd, a.dtype, device)
                .map_err(unet_err)?;
            (cfg, unet)
        }
        _ => UNet2DConditionModel::<B>::from_diffusers_dir(
            &src.dir.join("unet"),
            src.variant(),
            a.dtype,
            device,
        )
        .map_err(unet_err)?,
    };
    // LoRA files: the UNet's pairs now, the text towers' once they are loaded.
    let mut loras = Vec::new();
    for (path, scale) in &a.lora {
        let lora_err = |e: &dyn std::fmt::Display| CliError::Input(format!("--lora: {e}"));
        let sd = StateDict::read(path).map_err(|e| lora_err(&e))?;
        let lora = Lora::from_state_dict(&sd).map_err(|e| lora_err(&e))?;
        lora.merge_into(&mut unet, *scale)
            .map_err(|e| lora_err(&e))?;
        loras.push((sd, *scale));
    }
    let vae = load_vae::<B>(&a, &src, device)?;
    let f = ultrares::core::LatentCodec::<B>::downscale_factor(&vae);
    let native = unet_cfg.sample_size * f;
    let size = a.size.unwrap_or(match a.strategy {
        StrategyArg::Direct => [native, native],
        _ => [2 * native, 2 * native],
    });
    let mut config = match a.strategy {
        StrategyArg::Direct => HighResConfig::direct(size[0], size[1]),
        StrategyArg::Demofusion => HighResConfig::demofusion(size[0], size[1]),
        StrategyArg::LsrnaDemofusion => HighResConfig::lsrna_demofusion(size[0], size[1]),
        StrategyArg::Pixelsmith => HighResConfig::pixelsmith(size[0], size[1]),
        StrategyArg::LsrnaPixelsmith => HighResConfig::lsrna_pixelsmith(size[0], size[1]),
    };
    config.native_size = native;
    if config.window != unet_cfg.sample_size {
        // Views and patches are the UNet's native latent (128 for SDXL, 64 for SD 1.5).
        config.window = unet_cfg.sample_size;
        config.stride = (unet_cfg.sample_size / 2).max(1);
        config.gradient_width = (config.gradient_width * unet_cfg.sample_size / 128).max(1);
    }
    config.inversion_depth = a.inversion_depth;
    if let Some(b) = a.view_batch_size {
        config.view_batch_size = b;
    }
    let s = config
        .validate(f, a.steps)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let reference = if config.strategy == Strategy::Direct {
        size
    } else {
        [size[0] / s, size[1] / s]
    };
    let init_shape = [1, unet.in_channels(), reference[0] / f, reference[1] / f];
    let init = a
        .init_latents
        .as_deref()
        .map(|p| read_init(p, &init_shape))
        .transpose()?;
    let init_image = a
        .init_image
        .as_deref()
        .map(|p| read_image::<B>(p, reference, device))
        .transpose()?;

    let mut encoders = SdxlTextEncoders::<B>::from_source(&src.text(), a.dtype, device)
        .map_err(|e| CliError::Input(format!("{}: {e}", src.label())))?;
    for (sd, scale) in &loras {
        encoders
            .merge_lora(sd, *scale)
            .map_err(|e| CliError::Input(format!("--lora: {e}")))?;
    }
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let prompt = SdxlPrompt {
        prompt: vec![a.prompt.clone()],
        prompt_2: a.prompt_2.clone().map(|p| vec![p]),
        negative_prompt: a.negative_prompt.clone().map(|p| vec![p]),
        negative_prompt_2: None,
        clip_skip: None,
        guidance: a.guidance > 1.0,
    };
    for (what, text) in [
        ("--prompt", Some(&a.prompt)),
        ("--negative-prompt", a.negative_prompt.as_ref()),
    ] {
        if let Some(text) = text {
            let n = encoders
                .tokenizer_2
                .token_count(text)
                .map_err(|e| CliError::Input(format!("{what}: {e}")))?;
            if n > 75 {
                eprintln!(
                    "warning: {what} has {n} tokens; CLIP takes 75 (plus start and end), the rest is truncated as in diffusers"
                );
            }
        }
    }
    let e = encoders
        .encode(&prompt, device)
        .map_err(|e| CliError::Input(e.to_string()))?;
    drop(encoders);
    let encode_s = t.elapsed().as_secs_f64();
    let text =
        |embeds, pooled| TextCond::sdxl(embeds, pooled).map_err(|e| CliError::Input(e.to_string()));
    let positive = text(e.prompt_embeds, e.pooled_prompt_embeds)?;
    let negative = match (e.negative_prompt_embeds, e.negative_pooled_prompt_embeds) {
        (Some(n), Some(p)) => text(n, p)?,
        _ => positive.clone(),
    };
    let cond = GuidedCond::new(positive, negative, a.guidance);
    let denoiser = UnetDenoiser {
        unet,
        prediction_type: sched_cfg.prediction_type,
    };
    if denoiser.prediction_type == PredictionType::Flow {
        return Err(CliError::Input(format!(
            "{}: prediction_type flow_prediction is for SD3/Flux, not a UNet",
            sched_path.display()
        )));
    }
    let lsrna = matches!(
        config.strategy,
        Strategy::LsrnaDemoFusion | Strategy::LsrnaPixelsmith
    );
    let lsr = match &a.lsr {
        Some(p) if lsrna => Some(
            ultrares::lsr::Liif::<B>::from_checkpoint(p, device)
                .map_err(|e| CliError::Input(format!("--lsr: {e}")))?
                .with_dtype(a.dtype),
        ),
        _ => None,
    };
    let mut rng = InitLatents {
        init,
        inner: SeededRandomness::new(a.seed),
    };
    let mut observer = Bars::default();
    let run = Run {
        denoiser: &denoiser,
        vae: &vae,
        lsr: lsr.as_ref(),
        config: &config,
        cond: &cond,
        image: init_image,
        device,
    };
    let steps = a.steps;
    let e = |e: ultrares::schedulers::Error| CliError::Input(format!("scheduler: {e}"));
    let out = match kind {
        SchedulerArg::Ddim => run.go(
            Ddim::new(sched_cfg, steps).map_err(e)?,
            &mut rng,
            &mut observer,
        ),
        SchedulerArg::Euler => run.go(
            EulerDiscrete::new(sched_cfg, steps).map_err(e)?,
            &mut rng,
            &mut observer,
        ),
        SchedulerArg::EulerAncestral => run.go(
            EulerAncestral::new(sched_cfg, steps).map_err(e)?,
            &mut rng,
            &mut observer,
        ),
        SchedulerArg::Ddpm => run.go(
            Ddpm::new(sched_cfg, steps).map_err(e)?,
            &mut rng,
            &mut observer,
        ),
        SchedulerArg::DpmSolver => run.go(
            DpmSolverMultistep::<B>::new(sched_cfg, steps).map_err(e)?,
            &mut rng,
            &mut observer,
        ),
    }?;
    observer.finish();

    let mut written = Vec::new();
    if let (Some(out_path), Some(o)) = (&a.save_latents, latent_out) {
        write_npy(out.latent.clone(), o.tmp())?;
        o.commit()?;
        written.push(out_path.display().to_string());
    }
    if let (Some(out_path), Some(o)) = (&a.output, image_out) {
        let params = format!(
            "{}\nNegative prompt: {}\nSteps: {steps}, Sampler: {kind:?}, CFG scale: {}, Seed: {}, \
             Size: {}x{} (HxW), Strategy: {:?}, Model: {}, Generator: ultrares {}",
            a.prompt,
            a.negative_prompt.as_deref().unwrap_or(""),
            a.guidance,
            a.seed,
            size[0],
            size[1],
            config.strategy,
            a.model.display(),
            env!("CARGO_PKG_VERSION"),
        );
        write_png(out.image.clone(), o.tmp(), &params)?;
        o.commit()?;
        written.push(out_path.display().to_string());
    }
    let mut report = format!(
        "generated {}x{} (HxW) with {:?}, {steps} steps, seed {}: wrote {}\n  load {load_s:.2} s, encode prompt {encode_s:.2} s",
        size[0],
        size[1],
        config.strategy,
        a.seed,
        written.join(", ")
    );
    for timing in &out.timings {
        report.push_str(&format!(
            ", {} {:.2} s",
            timing.stage,
            timing.elapsed.as_secs_f64()
        ));
    }
    report.push_str(&format!(
        "; total {:.2} s ({} UNet calls)",
        total.elapsed().as_secs_f64(),
        out.denoiser_calls
    ));
    Ok(report)
}

/// The pipeline's VAE, or `--vae`'s.
pub(crate) fn load_vae<B: NnBackend>(
    a: &Args,
    src: &ModelSource,
    device: &B::Device,
) -> Result<AutoencoderKl<B>, CliError> {
    let err = |e: ultrares::vae::Error| CliError::Input(format!("{}: vae: {e}", src.label()));
    match (&a.vae, src.single_file()) {
        (Some(dir), _) => from_diffusers_dir(dir, device)
            .map_err(|e| CliError::Input(format!("--vae {}: {e}", dir.display()))),
        // The single file's `first_stage_model.` tensors, in the LDM layout.
        (None, Some(sd)) if src.in_file("vae") => {
            let cfg = ConfigJson::read(src.dir.join("vae/config.json"))
                .map_err(ultrares::vae::Error::from)
                .and_then(|c| AutoencoderKlConfig::from_config_json(&c))
                .map_err(err)?;
            cfg.load(sd, device).map_err(err)
        }
        (None, _) => from_diffusers_dir(src.dir.join("vae"), device).map_err(err),
    }
}

pub(crate) struct Run<'a, B: NnBackend, D: Denoiser<B>> {
    pub(crate) denoiser: &'a D,
    pub(crate) vae: &'a AutoencoderKl<B>,
    pub(crate) lsr: Option<&'a ultrares::lsr::Liif<B>>,
    pub(crate) config: &'a HighResConfig,
    pub(crate) cond: &'a D::Cond,
    pub(crate) image: Option<Tensor<B, 4>>,
    pub(crate) device: &'a B::Device,
}

impl<B: NnBackend, D: Denoiser<B>> Run<'_, B, D>
where
    D::Cond: ViewConditioning,
{
    pub(crate) fn go<S: Scheduler<B>>(
        &self,
        scheduler: S,
        rng: &mut dyn Randomness,
        observer: &mut dyn Observer<B>,
    ) -> Result<ultrares::pipeline::HighResOutput<B>, CliError> {
        let (config, cond, device) = (self.config, self.cond, self.device);
        let result = match (self.lsr, self.image.clone()) {
            (Some(lsr), Some(img)) => HighResPipeline::new(self.denoiser, self.vae, lsr, scheduler)
                .upscale(config, cond, img, device, rng, observer),
            (Some(lsr), None) => HighResPipeline::new(self.denoiser, self.vae, lsr, scheduler)
                .generate(config, cond, device, rng, observer),
            (None, Some(img)) => {
                HighResPipeline::new(self.denoiser, self.vae, &BicubicUpsampler, scheduler)
                    .upscale(config, cond, img, device, rng, observer)
            }
            (None, None) => {
                HighResPipeline::new(self.denoiser, self.vae, &BicubicUpsampler, scheduler)
                    .generate(config, cond, device, rng, observer)
            }
        };
        result.map_err(|e| CliError::Failure(e.to_string()))
    }
}

/// The seeded draws, with the initial noise replaced by `--init-latents`.
pub(crate) struct InitLatents {
    pub(crate) init: Option<Vec<f32>>,
    pub(crate) inner: SeededRandomness,
}

impl Randomness for InitLatents {
    fn gaussian(&mut self, draw: Draw, n: usize) -> ultrares::core::Result<Vec<f32>> {
        if matches!(draw, Draw::Initial)
            && let Some(v) = self.init.take()
        {
            if v.len() != n {
                return Err(ultrares::core::Error::Argument {
                    arg: "--init-latents",
                    expected: format!("{n} values"),
                    got: v.len().to_string(),
                });
            }
            return Ok(v);
        }
        self.inner.gaussian(draw, n)
    }

    fn randint(&mut self, low: i64, high: i64) -> ultrares::core::Result<i64> {
        self.inner.randint(low, high)
    }

    fn uniform(&mut self) -> ultrares::core::Result<f64> {
        self.inner.uniform()
    }

    fn index(&mut self, n: usize) -> ultrares::core::Result<usize> {
        self.inner.index(n)
    }
}

pub(crate) fn read_init(path: &Path, shape: &[usize]) -> Result<Vec<f32>, CliError> {
    let (data, dims) = crate::lsr::read_latent(path)?;
    if dims != shape {
        return Err(CliError::Input(format!(
            "--init-latents {}: expected shape {shape:?} (the reference latent), got {dims:?}",
            path.display()
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(CliError::Input(format!(
            "--init-latents {}: value {i} is {} (expected finite numbers)",
            path.display(),
            data[i]
        )));
    }
    Ok(data)
}

/// `--init-image` as `[1, 3, h, w]` in `[−1, 1]` at the reference size (Pillow Lanczos when it
/// differs).
fn read_image<B: Backend>(
    path: &Path,
    size: [usize; 2],
    device: &B::Device,
) -> Result<Tensor<B, 4>, CliError> {
    let img = read_rgb8(path).map_err(|e| CliError::Input(format!("--init-image: {e}")))?;
    let (h, w) = (img.height() as usize, img.width() as usize);
    let img = if [h, w] == size {
        img
    } else {
        eprintln!(
            "note: --init-image {h}x{w} (HxW) resized to the reference size {}x{} (Lanczos)",
            size[0], size[1]
        );
        resize_pil(&img, size[1] as u32, size[0] as u32, PilFilter::Lanczos)
            .map_err(|e| CliError::Input(format!("--init-image: {e}")))?
    };
    Ok(rgb8_to_tensor(&img, ValueRange::MinusOneOne, device))
}

pub(crate) fn write_npy<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    path: &Path,
) -> Result<(), CliError> {
    let dims = x.dims();
    let v = x
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| CliError::Failure(format!("reading the latent back: {e:?}")))?;
    let arr = ArrayD::from_shape_vec(IxDyn(&dims), v).map_err(|e| e.to_string())?;
    let f =
        File::create(path).map_err(|e| CliError::Failure(format!("{}: {e}", path.display())))?;
    arr.write_npy(BufWriter::new(f))
        .map_err(|e| CliError::Failure(format!("{}: {e}", path.display())))
}

pub(crate) fn write_png<B: Backend>(
    image: Tensor<B, 4>,
    path: &Path,
    params: &str,
) -> Result<(), CliError> {
    let image = image.cast(DType::F32);
    let img = tensor_to_rgb8(image, ValueRange::MinusOneOne)
        .map_err(|e| CliError::Failure(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::Failure("the pipeline returned no image".into()))?;
    let fail = |e: &dyn std::fmt::Display| CliError::Failure(format!("{}: {e}", path.display()));
    let f = File::create(path).map_err(|e| fail(&e))?;
    let mut enc = png::Encoder::new(BufWriter::new(f), img.width(), img.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.add_text_chunk("parameters".to_string(), params.to_string())
        .map_err(|e| fail(&e))?;
    let mut w = enc.write_header().map_err(|e| fail(&e))?;
    w.write_image_data(img.as_raw()).map_err(|e| fail(&e))?;
    w.finish().map_err(|e| fail(&e))
}

/// One progress bar per stage, with ETA.
#[derive(Default)]
pub(crate) struct Bars {
    current: Option<(Stage, ProgressBar)>,
}

impl Bars {
    pub(crate) fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish_and_clear();
        }
    }
}

impl<B: Backend> Observer<B> for Bars {
    fn on_progress(&mut self, p: Progress) -> ControlFlow<()> {
        if self.current.as_ref().is_none_or(|(s, _)| *s != p.stage) {
            self.finish();
            let style = ProgressStyle::with_template(
                "{prefix:>18} {bar:40} {pos}/{len} {elapsed_precise} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::new(p.total as u64)
                .with_style(style)
                .with_prefix(p.stage.to_string());
            self.current = Some((p.stage, bar));
        }
        if let Some((_, bar)) = &self.current {
            bar.set_length(p.total as u64);
            bar.set_position(p.step as u64);
        }
        ControlFlow::Continue(())
    }
}
