//! SDXL's prompt encoding, exactly as diffusers' `StableDiffusionXLPipeline.encode_prompt`
//! (`pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py:283`, diffusers 0.36).
//!
//! `prompt` goes through `tokenizer` + `text_encoder` (CLIP ViT-L/14), `prompt_2` (default:
//! `prompt`) through `tokenizer_2` + `text_encoder_2` (OpenCLIP bigG); each tower's
//! `hidden_states[-2]` (or `[-(clip_skip + 2)]`) are joined along the features, `[N, 77, 768 + 1280]`,
//! and the pooled embedding is `text_encoder_2`'s `text_embeds` `[N, 1280]`. For classifier-free
//! guidance the negative is zeros when no negative prompt is given and the pipeline's
//! `force_zeros_for_empty_prompt` is set (SDXL base), else the encoded negative prompt (`""` by
//! default), always with `hidden_states[-2]`: diffusers ignores `clip_skip` for the negative.
//! A refiner folder has only the second tower: then the embeddings are its 1280 features alone.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::weights::model_weight_file;
use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::{
    ClipLoraTower, ClipTextConfig, ClipTextModel, ClipTokenizer, PipelineSource, TextError,
};

/// What a denoiser is conditioned on, for a batch of `N` prompts (SDXL: `[N, 77, 2048]` and
/// `[N, 1280]`; SD3: `[N, 77 + T, 4096]` and `[N, 2048]`).
#[derive(Debug, Clone)]
pub struct PromptEmbeds<B: Backend> {
    /// `encoder_hidden_states`, `[N, 77, 2048]` (1280 for a refiner).
    pub prompt_embeds: Tensor<B, 3>,
    /// `text_embeds` of the added conditioning, `[N, 1280]`.
    pub pooled_prompt_embeds: Tensor<B, 2>,
    /// The negative (unconditional) half, when guidance is on.
    pub negative_prompt_embeds: Option<Tensor<B, 3>>,
    /// Its pooled embedding.
    pub negative_pooled_prompt_embeds: Option<Tensor<B, 2>>,
}

/// The prompts of one [`SdxlTextEncoders::encode`] call (diffusers' argument names).
#[derive(Debug, Clone, Default)]
pub struct SdxlPrompt {
    /// `prompt`, one per image.
    pub prompt: Vec<String>,
    /// `prompt_2` for the second tower (default: `prompt`).
    pub prompt_2: Option<Vec<String>>,
    /// `negative_prompt` (one per image, or none).
    pub negative_prompt: Option<Vec<String>>,
    /// `negative_prompt_2` (default: `negative_prompt`).
    pub negative_prompt_2: Option<Vec<String>>,
    /// `clip_skip`: take `hidden_states[-(clip_skip + 2)]` for the positive prompt.
    pub clip_skip: Option<usize>,
    /// `do_classifier_free_guidance`: also produce the negative half.
    pub guidance: bool,
}

impl SdxlPrompt {
    /// One prompt with guidance and the pipeline's default negative.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: vec![prompt.into()],
            guidance: true,
            ..Self::default()
        }
    }
}

/// SDXL's two tokenizers and text towers plus the pipeline's `force_zeros_for_empty_prompt`.
#[derive(Debug, Clone)]
pub struct SdxlTextEncoders<B: Backend> {
    /// `tokenizer` (pads with `<|endoftext|>`); `None` with `text_encoder` in a refiner.
    pub tokenizer: Option<ClipTokenizer>,
    /// `text_encoder` (CLIP ViT-L/14).
    pub text_encoder: Option<ClipTextModel<B>>,
    /// `tokenizer_2` (pads with `!`).
    pub tokenizer_2: ClipTokenizer,
    /// `text_encoder_2` (OpenCLIP bigG with projection).
    pub text_encoder_2: ClipTextModel<B>,
    /// `model_index.json`'s `force_zeros_for_empty_prompt` (true for SDXL base, false for the refiner).
    pub force_zeros_for_empty_prompt: bool,
}

impl<B: NnBackend> SdxlTextEncoders<B> {
    /// Loads the tokenizers and towers of a diffusers SDXL pipeline folder (`model_index.json`,
    /// `tokenizer[_2]/`, `text_encoder[_2]/` with `config.json` and `model[.variant].safetensors`
    /// or shards), the towers in `dtype`. `variant` picks e.g. the `fp16` files.
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
    /// `src.single_file` where it holds them (an `sd_xl_base_1.0.safetensors`).
    pub fn from_source(
        src: &PipelineSource,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self, TextError> {
        let dir = src.dir;
        let index = ConfigJson::read(dir.join("model_index.json"))?;
        index.check_class(&[
            "StableDiffusionXLPipeline",
            "StableDiffusionXLImg2ImgPipeline",
            "StableDiffusionXLInpaintPipeline",
        ])?;
        let present = |name: &str| has_component(&index, name);
        let tower = |name: &str| clip_component(src, name, dtype, device);
        let (tokenizer, text_encoder) = if present("text_encoder") {
            (
                Some(ClipTokenizer::from_dir(dir.join("tokenizer"))?),
                Some(tower("text_encoder")?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            tokenizer,
            text_encoder,
            tokenizer_2: ClipTokenizer::from_dir(dir.join("tokenizer_2"))?,
            text_encoder_2: tower("text_encoder_2")?,
            force_zeros_for_empty_prompt: index
                .opt_bool("force_zeros_for_empty_prompt")?
                .unwrap_or(true),
        })
    }

    /// Merges a LoRA file's pairs for `text_encoder` (kohya `lora_te1_`/`lora_te_`, PEFT
    /// `text_encoder.`) and `text_encoder_2` (`lora_te2_`, `text_encoder_2.`) at `scale`, as
    /// diffusers' `load_lora_weights` + `fuse_lora(lora_scale=scale)`; the UNet's pairs are
    /// skipped (ultrares-unet merges them). Returns the number of layers changed.
    ///
    /// # Errors
    /// As [`ClipTextModel::lora_plan`], for either tower, and pairs for `text_encoder` in a
    /// pipeline without it (the refiner); no weight changes then.
    pub fn merge_lora(&mut self, sd: &StateDict, scale: f64) -> Result<usize, TextError> {
        let first = match &self.text_encoder {
            Some(te) => Some(te.lora_plan(sd, ClipLoraTower::First)?),
            None => match ClipLoraTower::First.pairs(sd)? {
                0 => None,
                n => {
                    return Err(TextError::Input(format!(
                        "{}: {n} LoRA pairs for text_encoder, which this pipeline does not have",
                        sd.source()
                    )));
                }
            },
        };
        let second = self.text_encoder_2.lora_plan(sd, ClipLoraTower::Second)?;
        let n = first.as_ref().map_or(0, |p| p.len()) + second.len();
        if let (Some(te), Some(plan)) = (self.text_encoder.as_mut(), first) {
            te.apply_lora(plan, scale);
        }
        self.text_encoder_2.apply_lora(second, scale);
        Ok(n)
    }

    /// `encode_prompt(prompt, prompt_2, negative_prompt, negative_prompt_2, clip_skip,
    /// do_classifier_free_guidance)` with `num_images_per_prompt = 1`.
    pub fn encode(&self, p: &SdxlPrompt, device: &B::Device) -> Result<PromptEmbeds<B>, TextError> {
        let n = p.prompt.len();
        if n == 0 {
            return Err(TextError::Input(
                "prompt: expected at least one prompt".into(),
            ));
        }
        let same = |what: &str, v: &Option<Vec<String>>| match v {
            Some(v) if v.len() != n => Err(TextError::Input(format!(
                "{what} has {} entries, prompt has {n}",
                v.len()
            ))),
            _ => Ok(()),
        };
        same("prompt_2", &p.prompt_2)?;
        same("negative_prompt", &p.negative_prompt)?;
        same("negative_prompt_2", &p.negative_prompt_2)?;
        let prompt_2 = p.prompt_2.as_ref().unwrap_or(&p.prompt);
        let (prompt_embeds, pooled_prompt_embeds) =
            self.embed(&p.prompt, prompt_2, p.clip_skip.unwrap_or(0), device)?;
        let (negative_prompt_embeds, negative_pooled_prompt_embeds) = if !p.guidance {
            (None, None)
        } else if p.negative_prompt.is_none() && self.force_zeros_for_empty_prompt {
            (
                Some(prompt_embeds.zeros_like()),
                Some(pooled_prompt_embeds.zeros_like()),
            )
        } else {
            let negative = p
                .negative_prompt
                .clone()
                .unwrap_or_else(|| vec![String::new(); n]);
            let negative_2 = p.negative_prompt_2.as_ref().unwrap_or(&negative);
            let (e, pooled) = self.embed(&negative, negative_2, 0, device)?;
            (Some(e), Some(pooled))
        };
        Ok(PromptEmbeds {
            prompt_embeds,
            pooled_prompt_embeds,
            negative_prompt_embeds,
            negative_pooled_prompt_embeds,
        })
    }

    /// Both towers' `hidden_states[-(skip + 2)]` joined, and the second tower's `text_embeds`.
    fn embed(
        &self,
        prompt: &[String],
        prompt_2: &[String],
        skip: usize,
        device: &B::Device,
    ) -> Result<(Tensor<B, 3>, Tensor<B, 2>), TextError> {
        let mut parts = Vec::new();
        if let (Some(tok), Some(model)) = (&self.tokenizer, &self.text_encoder) {
            parts.push(clip_states(tok, model, prompt, skip, false, device)?.0);
        }
        let (state_2, pooled) = clip_states(
            &self.tokenizer_2,
            &self.text_encoder_2,
            prompt_2,
            skip,
            true,
            device,
        )?;
        let pooled = match (pooled, self.text_encoder_2.text_projection.is_some()) {
            (Some(p), true) => p,
            _ => {
                return Err(TextError::Input(
                    "text_encoder_2 has no text_projection (expected CLIPTextModelWithProjection)"
                        .into(),
                ));
            }
        };
        parts.push(state_2);
        let dtype = parts[parts.len() - 1].dtype();
        let parts: Vec<Tensor<B, 3>> = parts
            .into_iter()
            .map(|t| if t.dtype() == dtype { t } else { t.cast(dtype) })
            .collect();
        Ok((Tensor::cat(parts, 2), pooled))
    }
}

/// `texts` through `tok` and `model`: `hidden_states[-(skip + 2)]` (the output of layer
/// L − 1 − skip) and, with `pooled`, the pooled output (`text_embeds` when the tower has a
/// projection, else `pooler_output`). Without `pooled` the layers after L − 1 − skip are not run.
pub(crate) fn clip_states<B: NnBackend>(
    tok: &ClipTokenizer,
    model: &ClipTextModel<B>,
    texts: &[String],
    skip: usize,
    pooled: bool,
    device: &B::Device,
) -> Result<(Tensor<B, 3>, Option<Tensor<B, 2>>), TextError> {
    let rows = tok.encode_batch(texts)?;
    let flat: Vec<i64> = rows.iter().flatten().map(|&i| i as i64).collect();
    let ids = Tensor::from_data(
        TensorData::new(flat, [rows.len(), tok.max_length()]),
        device,
    );
    let layers = model.text_model.encoder.layers.len();
    if skip + 1 > layers {
        return Err(TextError::Input(format!(
            "clip_skip {skip} needs more than {layers} layers"
        )));
    }
    let out = model.forward_to(ids, true, if pooled { layers } else { layers - 1 - skip })?;
    let pooled = pooled.then(|| out.text_embeds.clone().unwrap_or(out.pooler_output.clone()));
    Ok((out.hidden_states[layers - 1 - skip].clone(), pooled))
}

/// The state dict of component `name/` of a diffusers pipeline folder (`model[.variant].safetensors`
/// or its shards).
pub(crate) fn component_weights(
    dir: &Path,
    name: &str,
    variant: Option<&str>,
) -> Result<StateDict, TextError> {
    let sub = dir.join(name);
    let file = model_weight_file(&sub, variant).ok_or_else(|| TextError::Missing {
        path: sub.join("model.safetensors"),
        expected: format!(
            "{name}/ with model{}.safetensors (or its shards)",
            variant.map(|v| format!(".{v}")).unwrap_or_default()
        ),
    })?;
    Ok(StateDict::read(&file)?)
}

/// The CLIP text tower `name/` of a pipeline, in `dtype`.
pub(crate) fn clip_component<B: Backend>(
    src: &PipelineSource,
    name: &str,
    dtype: DType,
    device: &B::Device,
) -> Result<ClipTextModel<B>, TextError> {
    let config = ClipTextConfig::from_config_json(&ConfigJson::read(
        src.dir.join(name).join("config.json"),
    )?)?;
    config.load(&src.weights(name, config.num_hidden_layers)?, dtype, device)
}

/// The T5 encoder `name/` of a pipeline, in `dtype` (`wo` in f32).
pub(crate) fn t5_component<B: Backend>(
    src: &PipelineSource,
    name: &str,
    dtype: DType,
    device: &B::Device,
) -> Result<crate::T5EncoderModel<B>, TextError> {
    let config = crate::T5EncoderConfig::from_config_json(&ConfigJson::read(
        src.dir.join(name).join("config.json"),
    )?)?;
    config.load(&src.weights(name, config.num_layers)?, dtype, device)
}

/// Whether `model_index.json` lists component `name` (a `null` entry means loaded without it).
pub(crate) fn has_component(index: &ConfigJson, name: &str) -> bool {
    index
        .get(name)
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().all(|x| !x.is_null()))
}
