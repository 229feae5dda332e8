//! `ultrares encode-prompt`: what the SDXL UNet or the SD3/Flux transformer receives for a
//! prompt, as diffusers' `encode_prompt` of `StableDiffusionXLPipeline`,
//! `StableDiffusion3Pipeline` or `FluxPipeline` computes it, written as safetensors.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::DType;
use ultrares::nn::ConfigJson;
use ultrares::nn::NnBackend;
use ultrares::text::{
    FluxTextEncoders, PromptEmbeds, Sd3Prompt, Sd3TextEncoders, SdxlPrompt, SdxlTextEncoders,
};
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::output::Output;

/// Arguments of `ultrares encode-prompt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A diffusers SDXL, SD3 or Flux pipeline folder (model_index.json, its tokenizers and text
    /// encoders; SD3 also transformer/config.json for joint_attention_dim).
    #[arg(long)]
    model: PathBuf,
    /// The prompt (repeat for a batch).
    #[arg(long, required = true)]
    prompt: Vec<String>,
    /// The second tower's prompt (diffusers' prompt_2; default: --prompt).
    #[arg(long)]
    prompt_2: Vec<String>,
    /// The third (T5) tower's prompt for SD3 (diffusers' prompt_3; default: --prompt).
    #[arg(long)]
    prompt_3: Vec<String>,
    /// The negative prompt (default: zeros when the pipeline sets force_zeros_for_empty_prompt,
    /// else "").
    #[arg(long)]
    negative_prompt: Vec<String>,
    /// The second tower's negative prompt (default: --negative-prompt).
    #[arg(long)]
    negative_prompt_2: Vec<String>,
    /// The T5 tower's negative prompt for SD3 (default: --negative-prompt).
    #[arg(long)]
    negative_prompt_3: Vec<String>,
    /// T5's max_sequence_length (SD3 and Flux; diffusers' defaults 256 and 512).
    #[arg(long)]
    max_sequence_length: Option<usize>,
    /// diffusers' clip_skip (positive prompt only, as diffusers).
    #[arg(long)]
    clip_skip: Option<usize>,
    /// No classifier-free guidance: write only the positive embeddings.
    #[arg(long)]
    no_guidance: bool,
    /// Weight variant to prefer, e.g. fp16 (model.fp16.safetensors).
    #[arg(long)]
    variant: Option<String>,
    /// Output .safetensors (f32), diffusers' names: prompt_embeds (SDXL [N, 77, 2048]; SD3
    /// [N, 77 + T, 4096]; Flux [N, T, 4096]), pooled_prompt_embeds (SDXL [N, 1280], SD3 [N, 2048],
    /// Flux [N, 768]) and, with guidance (SDXL, SD3), negative_prompt_embeds /
    /// negative_pooled_prompt_embeds; Flux also text_ids [T, 3].
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

/// Runs `ultrares encode-prompt`, returning what to print.
pub fn run(a: Args) -> Result<String, CliError> {
    check_dtype(a.dtype, a.device)?;
    dispatch(a.device, Encode(a))
}

struct Encode(Args);

impl Job for Encode {
    type Output = String;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<String, CliError> {
        encode::<B>(self.0, device)
    }
}

fn some(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

/// SDXL's and SD3's outputs under diffusers' names.
fn push_embeds<B: Backend>(outputs: &mut Vec<(&str, TensorData)>, e: PromptEmbeds<B>) {
    outputs.push(("prompt_embeds", e.prompt_embeds.into_data()));
    outputs.push(("pooled_prompt_embeds", e.pooled_prompt_embeds.into_data()));
    if let (Some(n), Some(p)) = (e.negative_prompt_embeds, e.negative_pooled_prompt_embeds) {
        outputs.push(("negative_prompt_embeds", n.into_data()));
        outputs.push(("negative_pooled_prompt_embeds", p.into_data()));
    }
}

fn encode<B: NnBackend>(a: Args, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let out = Output::new(&a.out, "--out", &["safetensors"])?;
    let class = ConfigJson::read(a.model.join("model_index.json"))
        .map_err(|e| CliError::Input(format!("--model: {e}")))?
        .class_name()
        .unwrap_or_default()
        .to_string();
    let model_err = |e: ultrares::text::TextError| CliError::Input(format!("--model: {e}"));
    let variant = a.variant.as_deref();
    let mut outputs: Vec<(&str, TensorData)> = Vec::new();
    if class.starts_with("StableDiffusion3") {
        let enc = Sd3TextEncoders::<B>::from_pipeline_dir(&a.model, variant, a.dtype, device)
            .map_err(model_err)?;
        let prompt = Sd3Prompt {
            prompt: a.prompt,
            prompt_2: some(a.prompt_2),
            prompt_3: some(a.prompt_3),
            negative_prompt: some(a.negative_prompt),
            negative_prompt_2: some(a.negative_prompt_2),
            negative_prompt_3: some(a.negative_prompt_3),
            clip_skip: a.clip_skip,
            guidance: !a.no_guidance,
            max_sequence_length: a.max_sequence_length.unwrap_or(256),
        };
        push_embeds(
            &mut outputs,
            enc.encode(&prompt, device).map_err(|e| e.to_string())?,
        );
    } else if class.starts_with("Flux") {
        let negatives = [
            &a.negative_prompt,
            &a.negative_prompt_2,
            &a.negative_prompt_3,
        ];
        if negatives.iter().any(|n| !n.is_empty())
            || !a.prompt_3.is_empty()
            || a.clip_skip.is_some()
        {
            return Err(CliError::Usage(
                "Flux takes --prompt and --prompt-2 only (no negative prompts, prompt_3 or clip_skip: it is guidance-distilled)".into(),
            ));
        }
        let enc = FluxTextEncoders::<B>::from_pipeline_dir(&a.model, variant, a.dtype, device)
            .map_err(model_err)?;
        let max_len = a.max_sequence_length.unwrap_or(512);
        let e = enc
            .encode(&a.prompt, some(a.prompt_2).as_deref(), max_len, device)
            .map_err(|e| e.to_string())?;
        outputs.push(("prompt_embeds", e.prompt_embeds.into_data()));
        outputs.push(("pooled_prompt_embeds", e.pooled_prompt_embeds.into_data()));
        outputs.push(("text_ids", e.text_ids.into_data()));
    } else {
        if !a.prompt_3.is_empty()
            || !a.negative_prompt_3.is_empty()
            || a.max_sequence_length.is_some()
        {
            return Err(CliError::Usage(
                "--prompt-3, --negative-prompt-3 and --max-sequence-length are for SD3/Flux folders (T5)".into(),
            ));
        }
        let enc = SdxlTextEncoders::<B>::from_pipeline_dir(&a.model, variant, a.dtype, device)
            .map_err(model_err)?;
        let prompt = SdxlPrompt {
            prompt: a.prompt,
            prompt_2: some(a.prompt_2),
            negative_prompt: some(a.negative_prompt),
            negative_prompt_2: some(a.negative_prompt_2),
            clip_skip: a.clip_skip,
            guidance: !a.no_guidance,
        };
        push_embeds(
            &mut outputs,
            enc.encode(&prompt, device).map_err(|e| e.to_string())?,
        );
    }
    let mut tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, data) in outputs {
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
