//! Flux's prompt encoding, exactly as diffusers' `FluxPipeline.encode_prompt`
//! (`pipelines/flux/pipeline_flux.py`, diffusers 0.36): `prompt` through `tokenizer` +
//! `text_encoder` (CLIP-L, its `pooler_output` only, `[N, 768]`), `prompt_2` (default `prompt`)
//! through `tokenizer_2` + `text_encoder_2` (T5, `last_hidden_state` `[N, T, 4096]`,
//! `T = max_sequence_length`, 512 by default), and `text_ids` zeros `[T, 3]`. Flux-dev is
//! guidance-distilled: there is no negative branch.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::sdxl_prompt::{clip_component, clip_states, t5_component};
use crate::{
    ClipLoraTower, ClipTextModel, ClipTokenizer, PipelineSource, T5EncoderModel, T5Tokenizer,
    TextError,
};

/// Flux's two tokenizers and text towers.
#[derive(Debug, Clone)]
pub struct FluxTextEncoders<B: Backend> {
    /// `tokenizer` (CLIP-L's).
    pub tokenizer: ClipTokenizer,
    /// `text_encoder` (CLIP-L, `CLIPTextModel`).
    pub text_encoder: ClipTextModel<B>,
    /// `tokenizer_2` (T5's).
    pub tokenizer_2: T5Tokenizer,
    /// `text_encoder_2` (T5 v1.1 XXL's encoder).
    pub text_encoder_2: T5EncoderModel<B>,
}

/// What the Flux transformer is conditioned on.
#[derive(Debug, Clone)]
pub struct FluxPromptEmbeds<B: Backend> {
    /// `encoder_hidden_states`, `[N, T, 4096]`.
    pub prompt_embeds: Tensor<B, 3>,
    /// `pooled_projections`, `[N, 768]`.
    pub pooled_prompt_embeds: Tensor<B, 2>,
    /// `txt_ids`, zeros `[T, 3]`.
    pub text_ids: Tensor<B, 2>,
}

impl<B: NnBackend> FluxTextEncoders<B> {
    /// Loads the tokenizers and towers of a diffusers Flux pipeline folder (`model_index.json`,
    /// `tokenizer/`, `text_encoder/` (CLIP-L), `tokenizer_2/`, `text_encoder_2/` (T5)), the
    /// towers in `dtype` (T5's `wo` in f32).
    ///
    /// # Errors
    /// [`TextError`] for a wrong pipeline class or a missing or bad component.
    pub fn from_pipeline_dir(
        dir: impl AsRef<Path>,
        variant: Option<&str>,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self, TextError> {
        Self::from_source(
            &PipelineSource::folder(dir.as_ref(), variant),
            dtype,
            device,
        )
    }

    /// As [`from_pipeline_dir`](Self::from_pipeline_dir), the towers' weights taken from
    /// `src.single_file` where it holds them.
    pub fn from_source(
        src: &PipelineSource,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self, TextError> {
        let dir = src.dir;
        let index = ConfigJson::read(dir.join("model_index.json"))?;
        index.check_class(&["FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline"])?;
        Ok(Self {
            tokenizer: ClipTokenizer::from_dir(dir.join("tokenizer"))?,
            text_encoder: clip_component(src, "text_encoder", dtype, device)?,
            tokenizer_2: T5Tokenizer::from_dir(dir.join("tokenizer_2"))?,
            text_encoder_2: t5_component(src, "text_encoder_2", dtype, device)?,
        })
    }

    /// Merges a LoRA file's pairs for `text_encoder` (CLIP-L: PEFT `text_encoder.`, kohya
    /// `lora_te1_`/`lora_te_`) at `scale`, as diffusers' `FluxLoraLoaderMixin.load_lora_weights`
    /// then `fuse_lora(components=["transformer", "text_encoder"], lora_scale=scale)` (diffusers'
    /// default fuses the transformer only and leaves CLIP-L's pairs active at scale 1; here every
    /// pair takes `scale`, as for SDXL and SD3). The transformer's pairs are skipped
    /// (ultrares-dit merges them) and so are T5's (`text_encoder_2.`, `lora_te3_`), which
    /// diffusers drops too. Returns the number of layers changed.
    ///
    /// # Errors
    /// As [`ClipTextModel::lora_plan`]; no weight changes then.
    pub fn merge_lora(&mut self, sd: &StateDict, scale: f64) -> Result<usize, TextError> {
        self.text_encoder
            .merge_lora(sd, ClipLoraTower::First, scale)
    }

    /// `encode_prompt(prompt, prompt_2, max_sequence_length)` with `num_images_per_prompt = 1`.
    pub fn encode(
        &self,
        prompt: &[String],
        prompt_2: Option<&[String]>,
        max_sequence_length: usize,
        device: &B::Device,
    ) -> Result<FluxPromptEmbeds<B>, TextError> {
        let n = prompt.len();
        if n == 0 {
            return Err(TextError::Input(
                "prompt: expected at least one prompt".into(),
            ));
        }
        let prompt_2 = prompt_2.unwrap_or(prompt);
        if prompt_2.len() != n {
            return Err(TextError::Input(format!(
                "prompt_2 has {} entries, prompt has {n}",
                prompt_2.len()
            )));
        }
        // CLIP-L has no projection: its pooled output is `pooler_output` (the whole tower runs).
        let (_, pooled) =
            clip_states(&self.tokenizer, &self.text_encoder, prompt, 0, true, device)?;
        let pooled = pooled.ok_or_else(|| TextError::Input("no pooled output".into()))?;
        let rows = self
            .tokenizer_2
            .encode_batch(prompt_2, max_sequence_length)?;
        let flat: Vec<i64> = rows.iter().flatten().map(|&i| i as i64).collect();
        let ids = Tensor::from_data(TensorData::new(flat, [n, max_sequence_length]), device);
        let t5 = self.text_encoder_2.forward(ids, false)?.last_hidden_state;
        let dtype = t5.dtype();
        Ok(FluxPromptEmbeds {
            pooled_prompt_embeds: pooled.cast(dtype),
            prompt_embeds: t5,
            text_ids: Tensor::<B, 2>::zeros([max_sequence_length, 3], device),
        })
    }
}
