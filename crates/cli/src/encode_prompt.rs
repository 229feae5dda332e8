//! `ultrares encode-prompt`: what the SDXL UNet receives for a prompt, as diffusers'
//! `StableDiffusionXLPipeline.encode_prompt` computes it, written as safetensors.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::DType;
use ultrares::nn::NnBackend;
use ultrares::text::{SdxlPrompt, SdxlTextEncoders};

use crate::CliError;
use crate::device::{DeviceArg, Job, dispatch};
use crate::output::Output;

/// Arguments of `ultrares encode-prompt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A diffusers SDXL pipeline folder (model_index.json, tokenizer/, tokenizer_2/,
    /// text_encoder/, text_encoder_2/).
    #[arg(long)]
    model: PathBuf,
    /// The prompt (repeat for a batch).
    #[arg(long, required = true)]
    prompt: Vec<String>,
    /// The second tower's prompt (diffusers' prompt_2; default: --prompt).
    #[arg(long)]
    prompt_2: Vec<String>,
    /// The negative prompt (default: zeros when the pipeline sets force_zeros_for_empty_prompt,
    /// else "").
    #[arg(long)]
    negative_prompt: Vec<String>,
    /// The second tower's negative prompt (default: --negative-prompt).
    #[arg(long)]
    negative_prompt_2: Vec<String>,
    /// diffusers' clip_skip (positive prompt only, as diffusers).
    #[arg(long)]
    clip_skip: Option<usize>,
    /// No classifier-free guidance: write only the positive embeddings.
    #[arg(long)]
    no_guidance: bool,
    /// Weight variant to prefer, e.g. fp16 (model.fp16.safetensors).
    #[arg(long)]
    variant: Option<String>,
    /// Output .safetensors: prompt_embeds [N, 77, 2048], pooled_prompt_embeds [N, 1280] and, with
    /// guidance, negative_prompt_embeds / negative_pooled_prompt_embeds (f32).
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu].
    #[arg(long, default_value_t)]
    device: DeviceArg,
    /// Weight and activation dtype of the text towers: f32, f16 or bf16 (half precision on a GPU
    /// device only; LayerNorm statistics and the softmax stay f32). The output is f32 either way.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
}

pub(crate) fn parse_dtype(s: &str) -> Result<DType, String> {
    match s {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        "bf16" => Ok(DType::BF16),
        _ => Err(format!("expected f32, f16 or bf16, got {s:?}")),
    }
}

/// Runs `ultrares encode-prompt`, returning what to print.
pub fn run(a: Args) -> Result<String, CliError> {
    if a.dtype != DType::F32 && a.device == DeviceArg::Cpu {
        return Err(CliError::Usage(format!(
            "--dtype {} needs --device cuda or wgpu: the CPU backend (burn-ndarray) computes in f32",
            format!("{:?}", a.dtype).to_lowercase()
        )));
    }
    dispatch(a.device, Encode(a))
}

struct Encode(Args);

impl Job for Encode {
    type Output = String;

    fn run<B: NnBackend>(self, device: &B::Device) -> Result<String, CliError> {
        encode::<B>(self.0, device)
    }
}

fn some(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

fn encode<B: NnBackend>(a: Args, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let out = Output::new(&a.out, "--out", &["safetensors"])?;
    let enc = SdxlTextEncoders::<B>::from_pipeline_dir(
        &a.model,
        a.variant.as_deref(),
        DType::F32,
        device,
    )
    .map_err(|e| format!("--model: {e}"))?;
    let prompt = SdxlPrompt {
        prompt: a.prompt,
        prompt_2: some(a.prompt_2),
        negative_prompt: some(a.negative_prompt),
        negative_prompt_2: some(a.negative_prompt_2),
        clip_skip: a.clip_skip,
        guidance: !a.no_guidance,
    };
    let e = enc.encode(&prompt, device).map_err(|e| e.to_string())?;
    let mut tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut add = |name, data: TensorData| -> Result<(), CliError> {
        let shape = data.shape.to_vec();
        let values = data
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| CliError::Failure(format!("{name}: {e:?}")))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(CliError::Failure(format!(
                "{name} holds NaN or infinite values"
            )));
        }
        tensors.push((
            name,
            shape,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
        Ok(())
    };
    add("prompt_embeds", e.prompt_embeds.into_data())?;
    add("pooled_prompt_embeds", e.pooled_prompt_embeds.into_data())?;
    if let (Some(n), Some(p)) = (e.negative_prompt_embeds, e.negative_pooled_prompt_embeds) {
        add("negative_prompt_embeds", n.into_data())?;
        add("negative_pooled_prompt_embeds", p.into_data())?;
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.to_string(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Failure(e.to_string()))?;
    safetensors::serialize_to_file(views, None, out.tmp())
        .map_err(|e| CliError::Failure(format!("{}: {e}", a.out.display())))?;
    out.commit()?;
    let shapes: Vec<String> = tensors
        .iter()
        .map(|(n, s, _)| format!("{n} {s:?}"))
        .collect();
    Ok(format!(
        "wrote {} ({}) in {:.2} s",
        a.out.display(),
        shapes.join(", "),
        t.elapsed().as_secs_f64()
    ))
}
