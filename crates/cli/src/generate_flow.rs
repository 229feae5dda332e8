//! `ultrares generate` with a diffusers SD3 / SD3.5 or Flux pipeline folder: the prompt through
//! CLIP-L, (bigG,) T5 as diffusers' `encode_prompt` (then the towers are dropped), the transformer
//! from `transformer/`, the VAE from `vae/` or `--vae` (Diffusion-4K's 16× VAE decodes
//! partitioned), `FlowMatchEulerDiscreteScheduler` from `scheduler/` (SD3: static shift, or μ
//! from the token count when the config shifts dynamically; Flux: `σ = linspace(1, 1/n, n)`
//! with μ from the packed token count), then the pipeline's direct strategy.
//!
//! Only `--strategy direct`: LSRNA's LSR network is trained on SDXL's 4-channel latent manifold;
//! DemoFusion's and Pixelsmith's official code, settings and inversion noise are SDXL's
//! (DDPM-family `add_noise` at UNet views), with no reference on flow models to check a port
//! against. Diffusion-4K generates 4096² directly.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares::core::{Guided, GuidedCond, LatentCodec, SeededRandomness};
use ultrares::dit::{
    DitLora, FluxCond, FluxDenoiser, FluxTransformer2DModel, FluxTransformerConfig, Sd3Cond,
    Sd3Denoiser, Sd3Transformer2DModel, Sd3TransformerConfig, pack_latents, unpack_latents,
};
use ultrares::nn::{ConfigJson, NnBackend, StateDict};
use ultrares::pipeline::{HighResConfig, HighResOutput};
use ultrares::schedulers::{FlowMatchEuler, SchedulerConfig, calculate_shift};
use ultrares::text::{FluxTextEncoders, Sd3Prompt, Sd3TextEncoders, T5Tokenizer};

use crate::CliError;
use crate::generate::{
    Args, Bars, Family, InitLatents, Run, load_vae, read_init, write_npy, write_png,
};
use crate::model_source::ModelSource;
use crate::output::Output;

/// diffusers' limit on `max_sequence_length` in both pipelines.
const MAX_T5_TOKENS: usize = 512;

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

/// Flags that apply to SDXL only, as one usage error.
fn check_flags(a: &Args, family: Family) -> Result<(), CliError> {
    let name = if family == Family::Sd3 { "SD3" } else { "Flux" };
    if !matches!(a.strategy, crate::generate::StrategyArg::Direct) {
        return Err(usage(format!(
            "{name} pipelines run --strategy direct only: LSRNA's LSR network maps SDXL's \
             4-channel latents, and DemoFusion's and Pixelsmith's official settings and noise \
             re-injection are SDXL's (Diffusion-4K generates 4096² directly)"
        )));
    }
    for (flag, given) in [
        ("--lsr", a.lsr.is_some()),
        ("--scheduler", a.scheduler.is_some()),
        ("--view-batch-size", a.view_batch_size.is_some()),
    ] {
        if given {
            let why = match flag {
                "--scheduler" => "the folder's FlowMatchEulerDiscreteScheduler is used",
                _ => "it belongs to the SDXL high-resolution strategies",
            };
            return Err(usage(format!(
                "{flag} does not apply to {name} pipelines: {why}"
            )));
        }
    }
    if family == Family::Flux {
        if a.prompt_3.is_some() {
            return Err(usage(
                "--prompt-3 is SD3's third (T5) prompt; Flux's T5 takes --prompt-2",
            ));
        }
        if a.true_cfg > 1.0 && a.negative_prompt.is_none() {
            eprintln!(
                "warning: --true-cfg {} has no effect without --negative-prompt (as in diffusers)",
                a.true_cfg
            );
        }
        if a.negative_prompt.is_some() && a.true_cfg <= 1.0 {
            eprintln!(
                "warning: --negative-prompt is unused unless --true-cfg is above 1 (Flux-dev is \
                 guidance-distilled: --guidance sets its guidance embedding)"
            );
        }
    } else if a.true_cfg != 1.0 {
        return Err(usage(
            "--true-cfg is Flux's true classifier-free guidance; SD3's is --guidance",
        ));
    }
    Ok(())
}

/// Warns (as diffusers does) when a prompt is longer than its tokenizer keeps.
fn warn_long(t5: &T5Tokenizer, what: &str, text: &str, max: usize) -> Result<(), CliError> {
    let n = t5
        .token_count(text)
        .map_err(|e| CliError::Input(format!("{what}: {e}")))?;
    if n + 1 > max {
        eprintln!(
            "warning: {what} has {n} T5 tokens; --max-sequence-length {max} keeps {} (and </s>), \
             the rest is truncated as in diffusers",
            max - 1
        );
    }
    Ok(())
}

pub(crate) fn generate<B: NnBackend>(
    a: Args,
    src: &ModelSource,
    family: Family,
    device: &B::Device,
    total: Instant,
) -> Result<String, CliError> {
    check_flags(&a, family)?;
    let msl = a
        .max_sequence_length
        .unwrap_or(if family == Family::Sd3 { 256 } else { 512 });
    if msl == 0 || msl > MAX_T5_TOKENS {
        return Err(usage(format!(
            "--max-sequence-length must be 1…{MAX_T5_TOKENS} (diffusers refuses more), got {msl}"
        )));
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
    let sched_path = src.dir.join("scheduler/scheduler_config.json");
    let class = ConfigJson::read(&sched_path)
        .map_err(|e| CliError::Input(e.to_string()))?
        .class_name()
        .unwrap_or("FlowMatchEulerDiscreteScheduler")
        .to_string();
    if class != "FlowMatchEulerDiscreteScheduler" {
        return Err(CliError::Input(format!(
            "{}: scheduler {class:?} is not implemented for SD3/Flux \
             (FlowMatchEulerDiscreteScheduler is)",
            sched_path.display()
        )));
    }
    let sched_cfg = SchedulerConfig::from_file(&sched_path)
        .map_err(|e| CliError::Input(format!("{}: {e}", sched_path.display())))?;

    let t = Instant::now();
    let tdir = src.dir.join("transformer");
    let model_err =
        |e: ultrares::dit::DitError| CliError::Input(format!("{}: transformer: {e}", src.label()));
    // With a single file holding the transformer: its tensors, under the folder's config.
    let single = match &src.file {
        Some((path, _)) if src.in_file("transformer") => Some(path.as_path()),
        _ => None,
    };
    let config_json =
        || ConfigJson::read(tdir.join("config.json")).map_err(|e| model_err(e.into()));
    let vae = load_vae::<B>(&a, src, device)?;
    let f = LatentCodec::<B>::downscale_factor(&vae);
    let channels = LatentCodec::<B>::latent_channels(&vae);
    // SD3: the patch grid; Flux: 2×2 packing. diffusers' default size is 128 latent patches of
    // 8 px (1024²) for both.
    // LoRA files: the transformer's pairs now, the CLIP towers' once they are loaded. T5 pairs
    // are not merged (diffusers drops them too).
    let t5_prefixes: &[&str] = match family {
        Family::Sd3 => &["text_encoder_3.", "lora_te3_"],
        _ => &["text_encoder_2.", "lora_te3_"],
    };
    let loras = a
        .lora
        .iter()
        .map(|(path, scale)| {
            let err = |e: &dyn std::fmt::Display| CliError::Input(format!("--lora: {e}"));
            let lora = DitLora::read(path).map_err(|e| err(&e))?;
            let sd = StateDict::read(path).map_err(|e| err(&e))?;
            let t5 = lora
                .text_encoder_keys()
                .iter()
                .filter(|k| t5_prefixes.iter().any(|p| k.starts_with(p)))
                .count();
            if t5 > 0 {
                eprintln!(
                    "warning: {}: {t5} T5 tensors are not merged (diffusers' LoRA loader drops them too)",
                    path.display()
                );
            }
            Ok((lora, sd, *scale))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let lora_err = |e: ultrares::dit::DitError| CliError::Input(format!("--lora: {e}"));
    let variant = src.variant();
    let (model, patch, native) = match family {
        Family::Sd3 => {
            let (cfg, mut m) = match single {
                Some(path) => {
                    let cfg = Sd3TransformerConfig::from_config_json(&config_json()?)
                        .map_err(model_err)?;
                    Sd3Transformer2DModel::<B>::load_single_file(path, Some(&cfg), a.dtype, device)
                }
                None => {
                    Sd3Transformer2DModel::<B>::from_diffusers_dir(&tdir, variant, a.dtype, device)
                }
            }
            .map_err(model_err)?;
            for (lora, _, scale) in &loras {
                lora.merge_into_sd3(&mut m, &cfg, *scale)
                    .map_err(lora_err)?;
            }
            (Model::Sd3(m), cfg.patch_size, cfg.sample_size * f)
        }
        _ => {
            let (cfg, mut m) = match single {
                Some(path) => {
                    let cfg = FluxTransformerConfig::from_config_json(&config_json()?)
                        .map_err(model_err)?;
                    FluxTransformer2DModel::<B>::load_single_file(path, Some(&cfg), a.dtype, device)
                }
                None => {
                    FluxTransformer2DModel::<B>::from_diffusers_dir(&tdir, variant, a.dtype, device)
                }
            }
            .map_err(model_err)?;
            for (lora, _, scale) in &loras {
                lora.merge_into_flux(&mut m, &cfg, *scale)
                    .map_err(lora_err)?;
            }
            (Model::Flux(m), 2, 128 * f)
        }
    };
    let wants = match &model {
        Model::Sd3(m) => m.in_channels(),
        Model::Flux(m) => m.in_channels() / 4,
    };
    if wants != channels {
        return Err(CliError::Input(format!(
            "the transformer takes {wants}-channel latents, the VAE makes {channels} (--vae of another model?)"
        )));
    }
    let size = a.size.unwrap_or([native, native]);
    let step = f * patch;
    if !size[0].is_multiple_of(step)
        || !size[1].is_multiple_of(step)
        || size[0] == 0
        || size[1] == 0
    {
        return Err(usage(format!(
            "--size {}x{} (HxW): height and width must be positive multiples of {step} (the VAE's \
             {f}× times the {})",
            size[0],
            size[1],
            if family == Family::Sd3 {
                "patch size"
            } else {
                "2×2 packing"
            }
        )));
    }
    let config = HighResConfig::direct(size[0], size[1]);
    config
        .validate(f, a.steps)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let (h, w) = (size[0] / f, size[1] / f);
    let tokens = (h / patch) * (w / patch);
    let init = match (&a.init_latents, family) {
        (None, _) => None,
        (Some(p), Family::Flux) => {
            let packed = read_init(p, &[1, tokens, 4 * channels])?;
            let x = Tensor::<B, 3>::from_data(
                TensorData::new(packed, [1, tokens, 4 * channels]),
                device,
            );
            let x = unpack_latents(x, h, w).map_err(|e| CliError::Input(e.to_string()))?;
            Some(
                x.into_data()
                    .convert::<f32>()
                    .to_vec()
                    .map_err(|e| CliError::Failure(format!("{e:?}")))?,
            )
        }
        (Some(p), _) => Some(read_init(p, &[1, channels, h, w])?),
    };
    let scheduler = match family {
        Family::Flux => FlowMatchEuler::flux(&sched_cfg, a.steps, tokens),
        _ if sched_cfg.use_dynamic_shifting => {
            FlowMatchEuler::with_mu(&sched_cfg, a.steps, calculate_shift(&sched_cfg, tokens))
        }
        _ => FlowMatchEuler::new(&sched_cfg, a.steps),
    }
    .map_err(|e| CliError::Input(format!("scheduler: {e}")))?;

    let mut rng = InitLatents {
        init,
        inner: SeededRandomness::new(a.seed),
    };
    let mut observer = Bars::default();
    let (out, load_s, encode_s) = match model {
        Model::Sd3(transformer) => {
            let mut enc = Sd3TextEncoders::<B>::from_source(&src.text(), a.dtype, device)
                .map_err(|e| CliError::Input(format!("{}: {e}", src.label())))?;
            for (_, sd, scale) in &loras {
                enc.merge_lora(sd, *scale)
                    .map_err(|e| CliError::Input(format!("--lora: {e}")))?;
            }
            let load_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            if let Some((tok, _)) = &enc.t5 {
                let p3 = a.prompt_3.as_ref().unwrap_or(&a.prompt);
                warn_long(tok, "--prompt-3 (or --prompt)", p3, msl)?;
                if let Some(n) = &a.negative_prompt {
                    warn_long(tok, "--negative-prompt", n, msl)?;
                }
            }
            let one = |s: &Option<String>| s.clone().map(|p| vec![p]);
            let e = enc
                .encode(
                    &Sd3Prompt {
                        prompt: vec![a.prompt.clone()],
                        prompt_2: one(&a.prompt_2),
                        prompt_3: one(&a.prompt_3),
                        negative_prompt: one(&a.negative_prompt),
                        guidance: a.guidance > 1.0,
                        max_sequence_length: msl,
                        ..Default::default()
                    },
                    device,
                )
                .map_err(|e| CliError::Input(e.to_string()))?;
            drop(enc);
            let cond = |p, q| Sd3Cond::new(p, q).map_err(|e| CliError::Input(e.to_string()));
            let positive = cond(e.prompt_embeds, e.pooled_prompt_embeds)?;
            let negative = match (e.negative_prompt_embeds, e.negative_pooled_prompt_embeds) {
                (Some(n), Some(p)) => cond(n, p)?,
                _ => positive.clone(),
            };
            let cond = GuidedCond::new(positive, negative, a.guidance);
            let encode_s = t.elapsed().as_secs_f64();
            let denoiser = Sd3Denoiser { transformer };
            let out = run(
                &denoiser,
                &vae,
                &config,
                &cond,
                device,
                scheduler,
                &mut rng,
                &mut observer,
            )?;
            (out, load_s, encode_s)
        }
        Model::Flux(transformer) => {
            let mut enc = FluxTextEncoders::<B>::from_source(&src.text(), a.dtype, device)
                .map_err(|e| CliError::Input(format!("{}: {e}", src.label())))?;
            for (_, sd, scale) in &loras {
                enc.merge_lora(sd, *scale)
                    .map_err(|e| CliError::Input(format!("--lora: {e}")))?;
            }
            let load_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let p2 = a.prompt_2.as_ref().unwrap_or(&a.prompt);
            warn_long(&enc.tokenizer_2, "--prompt-2 (or --prompt)", p2, msl)?;
            let prompt_2 = a.prompt_2.clone().map(|p| vec![p]);
            let cond = |prompt: &str, prompt_2: Option<&[String]>| {
                let e = enc
                    .encode(&[prompt.to_string()], prompt_2, msl, device)
                    .map_err(|e| CliError::Input(e.to_string()))?;
                FluxCond::new(
                    e.prompt_embeds,
                    e.pooled_prompt_embeds,
                    e.text_ids,
                    a.guidance,
                )
                .map_err(|e| CliError::Input(e.to_string()))
            };
            let positive = cond(&a.prompt, prompt_2.as_deref())?;
            // diffusers' true CFG: `true_cfg_scale > 1` and a negative prompt (its prompt_2
            // defaults to it), encoded as the prompt is; two transformer calls per step.
            let cond = match &a.negative_prompt {
                Some(n) if a.true_cfg > 1.0 => {
                    warn_long(&enc.tokenizer_2, "--negative-prompt", n, msl)?;
                    GuidedCond::new(positive, cond(n, None)?, a.true_cfg)
                }
                _ => GuidedCond::new(positive.clone(), positive, 1.0),
            };
            drop(enc);
            let encode_s = t.elapsed().as_secs_f64();
            let denoiser = Guided {
                inner: FluxDenoiser { transformer },
            };
            let out = run(
                &denoiser,
                &vae,
                &config,
                &cond,
                device,
                scheduler,
                &mut rng,
                &mut observer,
            )?;
            (out, load_s, encode_s)
        }
    };
    observer.finish();

    let mut written = Vec::new();
    if let (Some(path), Some(o)) = (&a.save_latents, latent_out) {
        if family == Family::Flux {
            let packed =
                pack_latents(out.latent.clone()).map_err(|e| CliError::Failure(e.to_string()))?;
            write_npy(packed, o.tmp())?;
        } else {
            write_npy(out.latent.clone(), o.tmp())?;
        }
        o.commit()?;
        written.push(path.display().to_string());
    }
    if let (Some(path), Some(o)) = (&a.output, image_out) {
        let params = format!(
            "{}\nNegative prompt: {}\nSteps: {}, Sampler: FlowMatchEuler, {}: {}{}, Seed: {}, \
             Size: {}x{} (HxW), Model: {}, Generator: ultrares {}",
            a.prompt,
            a.negative_prompt.as_deref().unwrap_or(""),
            a.steps,
            if family == Family::Flux {
                "Guidance"
            } else {
                "CFG scale"
            },
            a.guidance,
            if family == Family::Flux && a.true_cfg > 1.0 && a.negative_prompt.is_some() {
                format!(", True CFG scale: {}", a.true_cfg)
            } else {
                String::new()
            },
            a.seed,
            size[0],
            size[1],
            a.model.display(),
            env!("CARGO_PKG_VERSION"),
        );
        write_png(out.image.clone(), o.tmp(), &params)?;
        o.commit()?;
        written.push(path.display().to_string());
    }
    let mut report = format!(
        "generated {}x{} (HxW) with {} direct, {} steps, seed {}: wrote {}\n  load {load_s:.2} s, encode prompt {encode_s:.2} s",
        size[0],
        size[1],
        if family == Family::Sd3 { "SD3" } else { "Flux" },
        a.steps,
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
        "; total {:.2} s ({} transformer calls)",
        total.elapsed().as_secs_f64(),
        out.denoiser_calls
    ));
    Ok(report)
}

enum Model<B: NnBackend> {
    Sd3(Sd3Transformer2DModel<B>),
    Flux(FluxTransformer2DModel<B>),
}

#[allow(clippy::too_many_arguments)]
fn run<B: NnBackend, D: ultrares::core::Denoiser<B>>(
    denoiser: &D,
    vae: &ultrares::vae::AutoencoderKl<B>,
    config: &HighResConfig,
    cond: &D::Cond,
    device: &B::Device,
    scheduler: FlowMatchEuler,
    rng: &mut InitLatents,
    observer: &mut Bars,
) -> Result<HighResOutput<B>, CliError>
where
    D::Cond: ultrares::core::ViewConditioning,
{
    Run {
        denoiser,
        vae,
        lsr: None,
        config,
        cond,
        image: None,
        device,
    }
    .go(scheduler, rng, observer)
}
