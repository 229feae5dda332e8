//! transformers' `CLIPVisionModel` and `CLIPVisionModelWithProjection` (Radford et al., 2021;
//! `transformers/models/clip/modeling_clip.py`), with its module and weight names.
//!
//! A ViT: `patch_embedding` (a `P×P` convolution at stride `P`, no bias) turns a
//! `[N, 3, S, S]` image into `(S/P)²` tokens, a learned `class_embedding` is prepended, learned
//! position embeddings added, then `pre_layrnorm` (sic, upstream's name), the encoder layers of
//! the text tower without the causal mask, and `post_layernorm` of the class token is the pooled
//! output; `visual_projection` (no bias) maps it to the joint embedding space. ViT-B/16: 768
//! wide, 12 layers, 224² images in 14² patches of 16; ViT-L/14: 1024 wide, 24 layers, 16² patches of 14.
//! `hidden_states` are the embeddings after `pre_layrnorm` and every layer's output.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::activation::Activation;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::cast_to;
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{ConfigJson, LayerNorm, LayerNormConfig, NnBackend, StateDict};

use crate::TextError;
use crate::clip_text::{ClipEncoder, ClipEncoderLayer, walk_norm};

/// `CLIPVisionConfig` (the keys of a vision `config.json`, or a `CLIPModel`'s `vision_config`).
#[derive(Config, Debug, PartialEq)]
pub struct ClipVisionConfig {
    /// Width `D`.
    pub hidden_size: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Heads (`D` divisible by it).
    pub num_attention_heads: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Input side `S` (224).
    #[config(default = 224)]
    pub image_size: usize,
    /// Patch side `P` (`S` divisible by it).
    #[config(default = 32)]
    pub patch_size: usize,
    /// Input channels (3).
    #[config(default = 3)]
    pub num_channels: usize,
    /// `quick_gelu` (OpenAI) or `gelu`.
    #[config(default = "String::from(\"quick_gelu\")")]
    pub hidden_act: String,
    /// LayerNorm ε.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// Width of `visual_projection` when the model has one.
    pub projection_dim: Option<usize>,
}

impl ClipVisionConfig {
    /// OpenAI CLIP ViT-B/16's image tower with its 512-wide projection (torchmetrics'
    /// CLIPScore default, `openai/clip-vit-base-patch16`).
    pub fn vit_b16() -> Self {
        Self::new(768, 3072, 12, 12)
            .with_patch_size(16)
            .with_projection_dim(Some(512))
    }

    /// OpenAI CLIP ViT-L/14's image tower with its 768-wide projection (the LAION aesthetic
    /// predictor's embedding, `openai/clip-vit-large-patch14`).
    pub fn vit_l14() -> Self {
        Self::new(1024, 4096, 16, 24)
            .with_patch_size(14)
            .with_projection_dim(Some(768))
    }

    /// Reads a transformers vision `config.json` (`CLIPVisionModel`: no projection;
    /// `CLIPVisionModelWithProjection`: `projection_dim`, default 512), or the `vision_config`
    /// object of a `CLIPModel` config with `projection_dim` taken from the outer config.
    ///
    /// # Errors
    /// [`TextError::Model`] (a config error) for another class or model type, a missing or mistyped key, an
    /// unsupported activation, or sizes that do not divide.
    pub fn from_config_json(config: &ConfigJson) -> Result<Self, TextError> {
        config.check_class(&[
            "CLIPVisionModel",
            "CLIPVisionModelWithProjection",
            "CLIPModel",
        ])?;
        let (vision, projection) = if config.class_name() == Some("CLIPModel")
            || config.opt_str("model_type")? == Some("clip")
        {
            let p = config.opt_usize("projection_dim")?.unwrap_or(512);
            (config.object("vision_config")?, Some(p))
        } else {
            if let Some(t) = config.opt_str("model_type")?
                && t != "clip_vision_model"
            {
                return Err(config
                    .error("model_type", "\"clip_vision_model\"", format!("{t:?}"))
                    .into());
            }
            let p = (config.class_name() == Some("CLIPVisionModelWithProjection"))
                .then(|| config.opt_usize("projection_dim").map(|p| p.unwrap_or(512)))
                .transpose()?;
            (config.clone(), p)
        };
        let c = &vision;
        let act = c.opt_str("hidden_act")?.unwrap_or("quick_gelu").to_string();
        if !matches!(
            Activation::from_name(&act),
            Some(Activation::QuickGelu | Activation::Gelu | Activation::GeluTanh)
        ) {
            return Err(c
                .error(
                    "hidden_act",
                    "quick_gelu, gelu or gelu_new",
                    format!("{act:?}"),
                )
                .into());
        }
        // transformers' CLIPVisionConfig defaults (ViT-B/32) for absent keys.
        let cfg = Self::new(
            c.opt_usize("hidden_size")?.unwrap_or(768),
            c.opt_usize("intermediate_size")?.unwrap_or(3072),
            c.opt_usize("num_attention_heads")?.unwrap_or(12),
            c.opt_usize("num_hidden_layers")?.unwrap_or(12),
        )
        .with_image_size(c.opt_usize("image_size")?.unwrap_or(224))
        .with_patch_size(c.opt_usize("patch_size")?.unwrap_or(32))
        .with_num_channels(c.opt_usize("num_channels")?.unwrap_or(3))
        .with_hidden_act(act)
        .with_layer_norm_eps(c.opt_f64("layer_norm_eps")?.unwrap_or(1e-5))
        .with_projection_dim(projection);
        if cfg.num_attention_heads == 0 || cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(c
                .error(
                    "num_attention_heads",
                    format!("a divisor of hidden_size {}", cfg.hidden_size),
                    cfg.num_attention_heads.to_string(),
                )
                .into());
        }
        if cfg.patch_size == 0 || cfg.image_size % cfg.patch_size != 0 {
            return Err(c
                .error(
                    "patch_size",
                    format!("a divisor of image_size {}", cfg.image_size),
                    cfg.patch_size.to_string(),
                )
                .into());
        }
        Ok(cfg)
    }

    /// Tokens per image: `(S/P)² + 1`.
    pub fn num_positions(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }

    /// A model with placeholder weights, to be loaded.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipVisionModel<B> {
        let d = self.hidden_size;
        let p = self.patch_size;
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let layers = (0..self.num_hidden_layers)
            .map(|_| {
                ClipEncoderLayer::init(
                    [d, self.intermediate_size, self.num_attention_heads],
                    self.layer_norm_eps,
                    false,
                    device,
                )
            })
            .collect();
        ClipVisionModel {
            vision_model: ClipVisionTransformer {
                embeddings: ClipVisionEmbeddings {
                    class_embedding: Param::from_tensor(Tensor::zeros([d], device)),
                    patch_embedding: Conv2dConfig::new([self.num_channels, d], [p, p])
                        .with_stride([p, p])
                        .with_bias(false)
                        .init(device),
                    position_embedding: EmbeddingConfig::new(self.num_positions(), d).init(device),
                },
                pre_layrnorm: norm(),
                encoder: ClipEncoder { layers },
                post_layernorm: norm(),
            },
            visual_projection: self
                .projection_dim
                .map(|o| LinearConfig::new(d, o).with_bias(false).init(device)),
            act: self.hidden_act.clone(),
            image_size: self.image_size,
        }
    }

    /// A model with the weights of `sd` (transformers' names: `vision_model.…`,
    /// `visual_projection.weight`; a whole `CLIPModel` checkpoint's text keys are ignored),
    /// every missing or mis-shaped key in one error. Linear, convolution and embedding weights
    /// load in `dtype`; LayerNorms stay f32.
    ///
    /// # Errors
    /// [`TextError::Model`] for missing, mis-shaped or unreadable weights.
    pub fn load<B: Backend>(
        &self,
        sd: &StateDict,
        dtype: DType,
        device: &B::Device,
    ) -> Result<ClipVisionModel<B>, TextError> {
        let mut model = self.init(device);
        let vision = sd.renamed(|k| {
            (k.starts_with("vision_model.") || k.starts_with("visual_projection."))
                .then(|| k.to_string())
        })?;
        let mut loader = Loader::new(&vision, device).with_dtype(dtype);
        model.walk(&mut loader);
        loader.finish()?;
        Ok(model)
    }
}

/// What [`ClipVisionModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct ClipVisionOutput<B: Backend> {
    /// The last layer's output, `[N, T, D]` (no final LayerNorm, as upstream).
    pub last_hidden_state: Tensor<B, 3>,
    /// `post_layernorm` of the class token, `[N, D]`.
    pub pooler_output: Tensor<B, 2>,
    /// `visual_projection(pooler_output)`, `[N, P]`, in the projection variant.
    pub image_embeds: Option<Tensor<B, 2>>,
    /// The embeddings after `pre_layrnorm` and every layer's output, `num_hidden_layers + 1`
    /// tensors `[N, T, D]` (empty unless asked for).
    pub hidden_states: Vec<Tensor<B, 3>>,
}

/// `CLIPVisionModel` / `CLIPVisionModelWithProjection`.
#[derive(Module, Debug)]
pub struct ClipVisionModel<B: Backend> {
    /// `vision_model`.
    pub vision_model: ClipVisionTransformer<B>,
    /// `visual_projection` (no bias), in the projection variant.
    pub visual_projection: Option<Linear<B>>,
    act: String,
    image_size: usize,
}

/// `vision_model`: embeddings, `pre_layrnorm`, encoder, `post_layernorm`.
#[derive(Module, Debug)]
pub struct ClipVisionTransformer<B: Backend> {
    /// `embeddings`.
    pub embeddings: ClipVisionEmbeddings<B>,
    /// `pre_layrnorm` (upstream's spelling).
    pub pre_layrnorm: LayerNorm<B>,
    /// `encoder.layers.i`.
    pub encoder: ClipEncoder<B>,
    /// `post_layernorm`.
    pub post_layernorm: LayerNorm<B>,
}

/// `embeddings`: class token, patch convolution, learned positions.
#[derive(Module, Debug)]
pub struct ClipVisionEmbeddings<B: Backend> {
    /// `class_embedding` `[D]`.
    pub class_embedding: Param<Tensor<B, 1>>,
    /// `patch_embedding.weight` `[D, C, P, P]`.
    pub patch_embedding: Conv2d<B>,
    /// `position_embedding.weight` `[(S/P)² + 1, D]`.
    pub position_embedding: Embedding<B>,
}

impl<B: NnBackend> ClipVisionModel<B> {
    /// Encodes preprocessed images `[N, C, S, S]` (CLIP-normalised, see
    /// `ultrares_metrics::clip_score`), with every hidden state when `output_hidden_states`.
    ///
    /// # Errors
    /// [`TextError::Input`] for a wrong shape.
    pub fn forward(
        &self,
        pixel_values: Tensor<B, 4>,
        output_hidden_states: bool,
    ) -> Result<ClipVisionOutput<B>, TextError> {
        let [n, c, h, w] = pixel_values.dims();
        let emb = &self.vision_model.embeddings;
        let [d, cin, _, _] = emb.patch_embedding.weight.dims();
        let s = self.image_size;
        if n == 0 || c != cin || h != s || w != s {
            return Err(TextError::Input(format!(
                "pixel_values is {:?}, expected [N ≥ 1, {cin}, {s}, {s}]",
                pixel_values.dims()
            )));
        }
        let dtype = emb.patch_embedding.weight.val().dtype();
        let x = pixel_values.cast(dtype);
        let patches = emb.patch_embedding.forward(x); // [N, D, S/P, S/P]
        let t = patches.dims()[2] * patches.dims()[3];
        let patches = patches.reshape([n, d, t]).swap_dims(1, 2);
        // The loader keeps rank-1 weights (this one and the norms) in f32.
        let class = cast_to(emb.class_embedding.val(), dtype)
            .reshape([1, 1, d])
            .expand([n, 1, d]);
        let device = patches.device();
        let positions = Tensor::<B, 1, Int>::arange(0..(t + 1) as i64, &device).reshape([1, t + 1]);
        let mut x =
            Tensor::cat(vec![class, patches], 1) + emb.position_embedding.forward(positions);
        x = self.vision_model.pre_layrnorm.forward(x);
        let act = Activation::from_name(&self.act).unwrap_or(Activation::QuickGelu);
        let encoder = &self.vision_model.encoder;
        let (x, hidden_states) =
            encoder.forward(x, act, encoder.layers.len(), output_hidden_states);
        let pooler_output = self
            .vision_model
            .post_layernorm
            .forward(x.clone().slice([0..n, 0..1, 0..d]).reshape([n, d]));
        let image_embeds = self
            .visual_projection
            .as_ref()
            .map(|p| linear(p, pooler_output.clone()));
        Ok(ClipVisionOutput {
            last_hidden_state: x,
            pooler_output,
            image_embeds,
            hidden_states,
        })
    }
}

impl<B: Backend> ClipVisionModel<B> {
    /// The input side `S` the model takes.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    fn walk(&mut self, v: &mut impl Visitor<B>) {
        let m = &mut self.vision_model;
        let e = &mut m.embeddings;
        v.param(
            "vision_model.embeddings.class_embedding",
            &mut e.class_embedding,
        );
        v.conv2d(
            "vision_model.embeddings.patch_embedding",
            &mut e.patch_embedding,
        );
        v.param(
            "vision_model.embeddings.position_embedding.weight",
            &mut e.position_embedding.weight,
        );
        v.buffer("vision_model.embeddings.position_ids", None);
        walk_norm(v, "vision_model.pre_layrnorm", &mut m.pre_layrnorm);
        for (i, layer) in m.encoder.layers.iter_mut().enumerate() {
            layer.walk(v, &format!("vision_model.encoder.layers.{i}"));
        }
        walk_norm(v, "vision_model.post_layernorm", &mut m.post_layernorm);
        if let Some(p) = self.visual_projection.as_mut() {
            v.linear("visual_projection", p);
        }
    }
}
