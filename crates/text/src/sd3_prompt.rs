//! SD3's prompt encoding, exactly as diffusers' `StableDiffusion3Pipeline.encode_prompt`
//! (`pipelines/stable_diffusion_3/pipeline_stable_diffusion_3.py`, diffusers 0.36).
//!
//! `prompt` through `tokenizer` + `text_encoder` (CLIP-L with projection), `prompt_2` (default
//! `prompt`) through `tokenizer_2` + `text_encoder_2` (bigG), `prompt_3` (default `prompt`)
//! through `tokenizer_3` + `text_encoder_3` (T5, `max_sequence_length` tokens). The CLIP states
//! (`hidden_states[-(clip_skip + 2)]`, 768 + 1280) are zero-padded to T5's width and put before
//! T5's `last_hidden_state` along the tokens: `[N, 77 + T, 4096]`; the pooled embedding is both
//! CLIP towers' `text_embeds` joined, `[N, 2048]`. Without T5 its part is zeros of
//! `joint_attention_dim` (the transformer's config). The negative is always encoded (`""` by
//! default; no `force_zeros`), with `clip_skip` ignored as diffusers does.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::sdxl_prompt::{clip_component, clip_states, has_component, t5_component};
use crate::{
    ClipLoraTower, ClipTextModel, ClipTokenizer, PipelineSource, PromptEmbeds, T5EncoderModel,
    T5Tokenizer, TextError,
};

/// SD3's three tokenizers and text towers.
#[derive(Debug, Clone)]
pub struct Sd3TextEncoders<B: Backend> {
    /// `tokenizer` (CLIP-L's).
    pub tokenizer: ClipTokenizer,
    /// `text_encoder` (CLIP-L with projection).
    pub text_encoder: ClipTextModel<B>,
    /// `tokenizer_2` (bigG's).
    pub tokenizer_2: ClipTokenizer,
    /// `text_encoder_2` (bigG with projection).
    pub text_encoder_2: ClipTextModel<B>,
    /// `tokenizer_3` and `text_encoder_3` (T5); `None` when the pipeline was loaded without T5.
    pub t5: Option<(T5Tokenizer, T5EncoderModel<B>)>,
    /// `transformer.config.joint_attention_dim` (4096): the width of the zeros without T5.
    pub joint_attention_dim: usize,
}

/// The prompts of one [`Sd3TextEncoders::encode`] call (diffusers' argument names).
#[derive(Debug, Clone, Default)]
pub struct Sd3Prompt {
    /// `prompt`, one per image.
    pub prompt: Vec<String>,
    /// `prompt_2` (default `prompt`).
    pub prompt_2: Option<Vec<String>>,
    /// `prompt_3` (default `prompt`).
    pub prompt_3: Option<Vec<String>>,
    /// `negative_prompt` (default `""`).
    pub negative_prompt: Option<Vec<String>>,
    /// `negative_prompt_2` (default `negative_prompt`).
    pub negative_prompt_2: Option<Vec<String>>,
    /// `negative_prompt_3` (default `negative_prompt`).
    pub negative_prompt_3: Option<Vec<String>>,
    /// `clip_skip` (positive prompt only).
    pub clip_skip: Option<usize>,
    /// `do_classifier_free_guidance`.
    pub guidance: bool,
    /// `max_sequence_length` of T5 (diffusers' default 256).
    pub max_sequence_length: usize,
}

impl<B: NnBackend> Sd3TextEncoders<B> {
    /// Loads the tokenizers and towers of a diffusers SD3 / SD3.5 pipeline folder
    /// (`model_index.json`, `tokenizer[_2,_3]/`, `text_encoder[_2,_3]/`, and
    /// `transformer/config.json` for `joint_attention_dim`), the towers in `dtype` (T5's `wo` in
    /// f32). A folder saved without T5 (`text_encoder_3: [null, null]`) gives `t5: None`.
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
    /// `src.single_file` where it holds them (an SD3 all-in-one `…_incl_clips_t5xxl….safetensors`).
    pub fn from_source(
        src: &PipelineSource,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self, TextError> {
        let dir = src.dir;
        let index = ConfigJson::read(dir.join("model_index.json"))?;
        index.check_class(&[
            "StableDiffusion3Pipeline",
            "StableDiffusion3Img2ImgPipeline",
            "StableDiffusion3InpaintPipeline",
        ])?;
        let t5 = if has_component(&index, "text_encoder_3") {
            Some((
                T5Tokenizer::from_dir(dir.join("tokenizer_3"))?,
                t5_component(src, "text_encoder_3", dtype, device)?,
            ))
        } else {
            None
        };
        let transformer = dir.join("transformer").join("config.json");
        let joint_attention_dim = if transformer.is_file() {
            ConfigJson::read(&transformer)?
                .opt_usize("joint_attention_dim")?
                .unwrap_or(4096)
        } else {
            4096
        };
        Ok(Self {
            tokenizer: ClipTokenizer::from_dir(dir.join("tokenizer"))?,
            text_encoder: clip_component(src, "text_encoder", dtype, device)?,
            tokenizer_2: ClipTokenizer::from_dir(dir.join("tokenizer_2"))?,
            text_encoder_2: clip_component(src, "text_encoder_2", dtype, device)?,
            t5,
            joint_attention_dim,
        })
    }

    /// Merges a LoRA file's pairs for `text_encoder` (CLIP-L: PEFT `text_encoder.`, kohya
    /// `lora_te1_`) and `text_encoder_2` (bigG: `text_encoder_2.`, `lora_te2_`) at `scale`, as
    /// diffusers' `SD3LoraLoaderMixin.load_lora_weights` + `fuse_lora(lora_scale=scale)` (which
    /// reads the PEFT names only); the transformer's pairs are skipped (ultrares-dit merges them)
    /// and so are T5's (`text_encoder_3.`, `lora_te3_`), which diffusers drops too. Returns the
    /// number of layers changed.
    ///
    /// # Errors
    /// As [`ClipTextModel::lora_plan`], for either tower; no weight changes then.
    pub fn merge_lora(&mut self, sd: &StateDict, scale: f64) -> Result<usize, TextError> {
        let first = self.text_encoder.lora_plan(sd, ClipLoraTower::First)?;
        let second = self.text_encoder_2.lora_plan(sd, ClipLoraTower::Second)?;
        let n = first.len() + second.len();
        self.text_encoder.apply_lora(first, scale);
        self.text_encoder_2.apply_lora(second, scale);
        Ok(n)
    }

    /// `encode_prompt(…)` with `num_images_per_prompt = 1`.
    pub fn encode(&self, p: &Sd3Prompt, device: &B::Device) -> Result<PromptEmbeds<B>, TextError> {
        let n = p.prompt.len();
        if n == 0 {
            return Err(TextError::Input(
                "prompt: expected at least one prompt".into(),
            ));
        }
        for (what, v) in [
            ("prompt_2", &p.prompt_2),
            ("prompt_3", &p.prompt_3),
            ("negative_prompt", &p.negative_prompt),
            ("negative_prompt_2", &p.negative_prompt_2),
            ("negative_prompt_3", &p.negative_prompt_3),
        ] {
            if let Some(v) = v
                && v.len() != n
            {
                return Err(TextError::Input(format!(
                    "{what} has {} entries, prompt has {n}",
                    v.len()
                )));
            }
        }
        let or = |v: &Option<Vec<String>>, d: &Vec<String>| v.clone().unwrap_or_else(|| d.clone());
        let (prompt_embeds, pooled) = self.embed(
            &p.prompt,
            &or(&p.prompt_2, &p.prompt),
            &or(&p.prompt_3, &p.prompt),
            p.clip_skip.unwrap_or(0),
            p.max_sequence_length,
            device,
        )?;
        let (negative_prompt_embeds, negative_pooled_prompt_embeds) = if p.guidance {
            let negative = p
                .negative_prompt
                .clone()
                .unwrap_or_else(|| vec![String::new(); n]);
            let (e, pooled) = self.embed(
                &negative,
                &or(&p.negative_prompt_2, &negative),
                &or(&p.negative_prompt_3, &negative),
                0,
                p.max_sequence_length,
                device,
            )?;
            (Some(e), Some(pooled))
        } else {
            (None, None)
        };
        Ok(PromptEmbeds {
            prompt_embeds,
            pooled_prompt_embeds: pooled,
            negative_prompt_embeds,
            negative_pooled_prompt_embeds,
        })
    }

    fn embed(
        &self,
        prompt: &[String],
        prompt_2: &[String],
        prompt_3: &[String],
        skip: usize,
        max_sequence_length: usize,
        device: &B::Device,
    ) -> Result<(Tensor<B, 3>, Tensor<B, 2>), TextError> {
        let (e1, p1) = clip_states(
            &self.tokenizer,
            &self.text_encoder,
            prompt,
            skip,
            true,
            device,
        )?;
        let (e2, p2) = clip_states(
            &self.tokenizer_2,
            &self.text_encoder_2,
            prompt_2,
            skip,
            true,
            device,
        )?;
        let (Some(p1), Some(p2)) = (p1, p2) else {
            return Err(TextError::Input("no pooled output".into()));
        };
        let dtype = e2.dtype();
        let t5 = match &self.t5 {
            Some((tok, model)) => {
                let rows = tok.encode_batch(prompt_3, max_sequence_length)?;
                let flat: Vec<i64> = rows.iter().flatten().map(|&i| i as i64).collect();
                let ids = Tensor::from_data(
                    TensorData::new(flat, [rows.len(), max_sequence_length]),
                    device,
                );
                model.forward(ids, false)?.last_hidden_state.cast(dtype)
            }
            None => Tensor::<B, 3>::zeros(
                [prompt.len(), max_sequence_length, self.joint_attention_dim],
                device,
            )
            .cast(dtype),
        };
        let clip = Tensor::cat(vec![e1.cast(dtype), e2], 2);
        let [n, l, c] = clip.dims();
        let width = t5.dims()[2];
        if c > width {
            return Err(TextError::Input(format!(
                "CLIP states are {c} wide, wider than T5's {width}"
            )));
        }
        let clip = if c < width {
            Tensor::cat(
                vec![
                    clip,
                    Tensor::<B, 3>::zeros([n, l, width - c], device).cast(dtype),
                ],
                2,
            )
        } else {
            clip
        };
        Ok((
            Tensor::cat(vec![clip, t5], 1),
            Tensor::cat(vec![p1.cast(dtype), p2.cast(dtype)], 1),
        ))
    }
}
