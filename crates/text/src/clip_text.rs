//! transformers' `CLIPTextModel` and `CLIPTextModelWithProjection` (Radford et al., *Learning
//! Transferable Visual Models From Natural Language Supervision*, 2021;
//! `transformers/models/clip/modeling_clip.py`), with its module and weight names.
//!
//! SDXL's `text_encoder/` is OpenAI ViT-L/14's text tower (768 wide, 12 layers, quick GELU),
//! `text_encoder_2/` OpenCLIP ViT-bigG/14's (1280 wide, 32 layers, exact GELU, `text_projection`).
//! Each layer is pre-LN: `x + out_proj(attn(layer_norm1(x)))`, then `x + fc2(act(fc1(layer_norm2(x))))`,
//! with causal self-attention (no padding mask, as diffusers calls it). `hidden_states` are the
//! embeddings and every layer's raw output (SDXL takes the penultimate, without `final_layer_norm`);
//! the pooled output is `final_layer_norm`'s row at the end-of-text position.

use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::activation::Activation;
use ultrares_nn::attention::{attention, merge_heads, split_heads};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{ConfigJson, LayerNorm, LayerNormConfig, NnBackend, StateDict};

use crate::TextError;

/// `CLIPTextConfig` (the keys of a `text_encoder/config.json`).
#[derive(Config, Debug, PartialEq)]
pub struct ClipTextConfig {
    /// Vocabulary size (49,408).
    #[config(default = 49408)]
    pub vocab_size: usize,
    /// Width `D`.
    pub hidden_size: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Heads (`D` divisible by it).
    pub num_attention_heads: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Sequence length (77).
    #[config(default = 77)]
    pub max_position_embeddings: usize,
    /// `quick_gelu` (OpenAI) or `gelu` (OpenCLIP bigG).
    #[config(default = "String::from(\"quick_gelu\")")]
    pub hidden_act: String,
    /// LayerNorm ε.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// End-of-text id; the legacy value 2 (in SD/SDXL configs) means "pool at the largest id"
    /// (transformers' rule). Default 49407, as transformers 5.
    #[config(default = 49407)]
    pub eos_token_id: usize,
    /// Width of `text_projection` when the model has one (`CLIPTextModelWithProjection`).
    pub projection_dim: Option<usize>,
}

impl ClipTextConfig {
    /// OpenAI CLIP ViT-L/14's text tower: SDXL's `text_encoder/` and SD 1.x's (123,060,480 parameters).
    pub fn vit_l14() -> Self {
        Self::new(768, 3072, 12, 12).with_eos_token_id(2)
    }

    /// OpenCLIP ViT-bigG/14's text tower with its projection: SDXL's `text_encoder_2/`
    /// (694,659,840 parameters).
    pub fn vit_bigg14() -> Self {
        Self::new(1280, 5120, 20, 32)
            .with_hidden_act("gelu".into())
            .with_projection_dim(Some(1280))
            .with_eos_token_id(2)
    }

    /// Reads a transformers `config.json`. `CLIPTextModelWithProjection` configs get
    /// `projection_dim` (default 512, as transformers); `CLIPTextModel` ones none; a whole
    /// `CLIPModel`'s config gives its `text_config` with the outer `projection_dim`.
    pub fn from_config_json(config: &ConfigJson) -> Result<Self, TextError> {
        config.check_class(&["CLIPTextModel", "CLIPTextModelWithProjection", "CLIPModel"])?;
        if config.class_name() == Some("CLIPModel") || config.opt_str("model_type")? == Some("clip")
        {
            let projection = config.opt_usize("projection_dim")?.unwrap_or(512);
            let text = config.object("text_config")?;
            let mut map = serde_json::Map::new();
            map.insert(
                "architectures".into(),
                serde_json::json!(["CLIPTextModelWithProjection"]),
            );
            map.insert("projection_dim".into(), projection.into());
            for key in [
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_attention_heads",
                "num_hidden_layers",
                "max_position_embeddings",
                "hidden_act",
                "layer_norm_eps",
                "eos_token_id",
            ] {
                if let Some(v) = text.get(key) {
                    map.insert(key.into(), v.clone());
                }
            }
            // transformers' CLIPTextConfig defaults (ViT-B/32's text tower) for absent widths.
            for (key, default) in [
                ("hidden_size", 512),
                ("intermediate_size", 2048),
                ("num_attention_heads", 8),
                ("num_hidden_layers", 12),
            ] {
                map.entry(key).or_insert(default.into());
            }
            return Self::from_config_json(&ConfigJson::from_map(text.source(), map));
        }
        if let Some(t) = config.opt_str("model_type")?
            && t != "clip_text_model"
        {
            return Err(config
                .error("model_type", "\"clip_text_model\"", format!("{t:?}"))
                .into());
        }
        let act = config
            .opt_str("hidden_act")?
            .unwrap_or("quick_gelu")
            .to_string();
        if !matches!(
            Activation::from_name(&act),
            Some(Activation::QuickGelu | Activation::Gelu | Activation::GeluTanh)
        ) {
            return Err(config
                .error(
                    "hidden_act",
                    "quick_gelu, gelu or gelu_new",
                    format!("{act:?}"),
                )
                .into());
        }
        let projection = (config.class_name() == Some("CLIPTextModelWithProjection"))
            .then(|| config.opt_usize("projection_dim").map(|p| p.unwrap_or(512)))
            .transpose()?;
        let cfg = Self::new(
            config.usize("hidden_size")?,
            config.usize("intermediate_size")?,
            config.usize("num_attention_heads")?,
            config.usize("num_hidden_layers")?,
        )
        .with_vocab_size(config.opt_usize("vocab_size")?.unwrap_or(49408))
        .with_max_position_embeddings(config.opt_usize("max_position_embeddings")?.unwrap_or(77))
        .with_hidden_act(act)
        .with_layer_norm_eps(config.opt_f64("layer_norm_eps")?.unwrap_or(1e-5))
        .with_eos_token_id(config.opt_usize("eos_token_id")?.unwrap_or(49407))
        .with_projection_dim(projection);
        if cfg.num_attention_heads == 0 || cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(config
                .error(
                    "num_attention_heads",
                    format!("a divisor of hidden_size {}", cfg.hidden_size),
                    cfg.num_attention_heads.to_string(),
                )
                .into());
        }
        Ok(cfg)
    }

    /// A model with placeholder weights (zeros; LayerNorms at identity), to be loaded.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipTextModel<B> {
        let d = self.hidden_size;
        let linear = |i, o, bias| LinearConfig::new(i, o).with_bias(bias).init(device);
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
                    true,
                    device,
                )
            })
            .collect();
        ClipTextModel {
            text_model: ClipTextTransformer {
                embeddings: ClipTextEmbeddings {
                    token_embedding: EmbeddingConfig::new(self.vocab_size, d).init(device),
                    position_embedding: EmbeddingConfig::new(self.max_position_embeddings, d)
                        .init(device),
                },
                encoder: ClipEncoder { layers },
                final_layer_norm: norm(),
            },
            text_projection: self.projection_dim.map(|p| linear(d, p, false)),
            act: self.hidden_act.clone(),
            eos_token_id: self.eos_token_id,
        }
    }

    /// A model with the weights of `sd`, every bad key in one error. Keys are transformers':
    /// `text_model.…` as in diffusers' `text_encoder/` files and transformers 4, or without that
    /// prefix as transformers 5 saves a `CLIPTextModel` (both load; a stray
    /// `text_model.embeddings.position_ids` buffer is accepted).
    /// Linear and embedding weights are loaded in `dtype` (f32, f16 or bf16); LayerNorm weights
    /// stay f32 (the norms compute in f32 and return the input's dtype).
    pub fn load<B: Backend>(
        &self,
        sd: &StateDict,
        dtype: DType,
        device: &B::Device,
    ) -> Result<ClipTextModel<B>, TextError> {
        let mut model = self.init(device);
        let prefixed;
        let sd = if sd.contains("embeddings.token_embedding.weight")
            && !sd.contains("text_model.embeddings.token_embedding.weight")
        {
            prefixed = sd.renamed(|k| {
                Some(if k.starts_with("text_projection") {
                    k.to_string()
                } else {
                    format!("text_model.{k}")
                })
            })?;
            &prefixed
        } else {
            sd
        };
        let mut loader = Loader::new(sd, device).with_dtype(dtype);
        model.walk(&mut loader);
        loader.finish()?;
        Ok(model)
    }
}

/// What [`ClipTextModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct ClipTextOutput<B: Backend> {
    /// `final_layer_norm` of the last layer, `[N, L, D]`.
    pub last_hidden_state: Tensor<B, 3>,
    /// `last_hidden_state` at the end-of-text position, `[N, D]`.
    pub pooler_output: Tensor<B, 2>,
    /// `text_projection(pooler_output)`, `[N, P]`, for `CLIPTextModelWithProjection`.
    pub text_embeds: Option<Tensor<B, 2>>,
    /// The embeddings and every layer's output (no final LayerNorm), `num_hidden_layers + 1`
    /// tensors `[N, L, D]`: transformers' `hidden_states` (empty unless asked for).
    pub hidden_states: Vec<Tensor<B, 3>>,
}

/// `CLIPTextModel` / `CLIPTextModelWithProjection`: state-dict names `text_model.…`, `text_projection.weight`.
#[derive(Module, Debug)]
pub struct ClipTextModel<B: Backend> {
    /// `text_model`.
    pub text_model: ClipTextTransformer<B>,
    /// `text_projection` (no bias), in the projection variant.
    pub text_projection: Option<Linear<B>>,
    act: String,
    eos_token_id: usize,
}

/// `text_model`: embeddings, encoder, final LayerNorm.
#[derive(Module, Debug)]
pub struct ClipTextTransformer<B: Backend> {
    /// `embeddings.{token_embedding,position_embedding}`.
    pub embeddings: ClipTextEmbeddings<B>,
    /// `encoder.layers.i`.
    pub encoder: ClipEncoder<B>,
    /// `final_layer_norm`.
    pub final_layer_norm: LayerNorm<B>,
}

/// `embeddings`: token plus learned position embeddings.
#[derive(Module, Debug)]
pub struct ClipTextEmbeddings<B: Backend> {
    /// `token_embedding.weight` `[vocab, D]`.
    pub token_embedding: Embedding<B>,
    /// `position_embedding.weight` `[77, D]`.
    pub position_embedding: Embedding<B>,
}

/// `encoder`: the layer stack.
#[derive(Module, Debug)]
pub struct ClipEncoder<B: Backend> {
    /// `layers.i`.
    pub layers: Vec<ClipEncoderLayer<B>>,
}

/// `encoder.layers.i`.
#[derive(Module, Debug)]
pub struct ClipEncoderLayer<B: Backend> {
    /// `self_attn`.
    pub self_attn: ClipAttention<B>,
    /// `layer_norm1`.
    pub layer_norm1: LayerNorm<B>,
    /// `mlp`.
    pub mlp: ClipMlp<B>,
    /// `layer_norm2`.
    pub layer_norm2: LayerNorm<B>,
}

/// `self_attn`: multi-head self-attention (causal in the text tower, not in the vision tower).
#[derive(Module, Debug)]
pub struct ClipAttention<B: Backend> {
    /// `q_proj`.
    pub q_proj: Linear<B>,
    /// `k_proj`.
    pub k_proj: Linear<B>,
    /// `v_proj`.
    pub v_proj: Linear<B>,
    /// `out_proj`.
    pub out_proj: Linear<B>,
    pub(crate) heads: usize,
    pub(crate) causal: bool,
}

/// `mlp`: `fc2(act(fc1(x)))`.
#[derive(Module, Debug)]
pub struct ClipMlp<B: Backend> {
    /// `fc1`.
    pub fc1: Linear<B>,
    /// `fc2`.
    pub fc2: Linear<B>,
}

impl<B: NnBackend> ClipTextModel<B> {
    /// Encodes token ids `[N, L]` (L ≤ `max_position_embeddings`, ids < `vocab_size`), with
    /// every hidden state when `output_hidden_states`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        output_hidden_states: bool,
    ) -> Result<ClipTextOutput<B>, TextError> {
        self.forward_to(
            input_ids,
            output_hidden_states,
            self.text_model.encoder.layers.len(),
        )
    }

    /// As [`forward`](Self::forward) but running only the first `layers` layers; the final
    /// LayerNorm, pooling and projection then apply to layer `layers`' output (SDXL's
    /// penultimate states are `hidden_states[L − 1]`: with `layers = L − 1` the last layer is
    /// skipped).
    pub fn forward_to(
        &self,
        input_ids: Tensor<B, 2, Int>,
        output_hidden_states: bool,
        layers: usize,
    ) -> Result<ClipTextOutput<B>, TextError> {
        let [n, l] = input_ids.dims();
        let emb = &self.text_model.embeddings;
        let [vocab, _] = emb.token_embedding.weight.dims();
        let [max_len, _] = emb.position_embedding.weight.dims();
        if l == 0 || l > max_len {
            return Err(TextError::Input(format!(
                "input_ids has {l} tokens per row, expected 1..={max_len}"
            )));
        }
        let ids: Vec<i64> = input_ids
            .to_data()
            .convert::<i64>()
            .into_vec()
            .map_err(|e| TextError::Input(format!("{e:?}")))?;
        if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as usize >= vocab) {
            return Err(TextError::Input(format!(
                "input_ids holds {bad}, expected ids in 0..{vocab}"
            )));
        }
        if layers > self.text_model.encoder.layers.len() {
            return Err(TextError::Input(format!(
                "{layers} layers asked for, the model has {}",
                self.text_model.encoder.layers.len()
            )));
        }
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
            .unsqueeze::<2>()
            .repeat_dim(0, n);
        let x = emb.token_embedding.forward(input_ids) + emb.position_embedding.forward(positions);
        let act = Activation::from_name(&self.act).unwrap_or(Activation::QuickGelu);
        let (x, hidden_states) =
            self.text_model
                .encoder
                .forward(x, act, layers, output_hidden_states);
        let last_hidden_state = self.text_model.final_layer_norm.forward(x);
        let eos = pool_positions(&ids, n, l, self.eos_token_id);
        let index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(eos.iter().map(|&p| p as i64).collect(), [n]),
            &device,
        );
        let d = last_hidden_state.dims()[2];
        let pooler_output = last_hidden_state
            .clone()
            .gather(1, index.reshape([n, 1, 1]).repeat_dim(2, d))
            .reshape([n, d]);
        let text_embeds = self
            .text_projection
            .as_ref()
            .map(|p| linear(p, pooler_output.clone()));
        Ok(ClipTextOutput {
            last_hidden_state,
            pooler_output,
            text_embeds,
            hidden_states,
        })
    }
}

/// transformers' pooling index per row: with the legacy `eos_token_id == 2`, the first position of
/// the row's largest id (`argmax`); otherwise the first position of `eos_token_id` (0 when the row
/// has none, as `argmax` of an all-false row).
fn pool_positions(ids: &[i64], n: usize, l: usize, eos_token_id: usize) -> Vec<usize> {
    (0..n)
        .map(|r| {
            let row = &ids[r * l..(r + 1) * l];
            if eos_token_id == 2 {
                let max = row.iter().copied().max().unwrap_or(0);
                row.iter().position(|&v| v == max).unwrap_or(0)
            } else {
                row.iter()
                    .position(|&v| v == eos_token_id as i64)
                    .unwrap_or(0)
            }
        })
        .collect()
}

impl<B: Backend> ClipEncoderLayer<B> {
    /// A layer of width `d`, feed-forward `ff` and `heads` heads with placeholder weights.
    pub(crate) fn init(
        [d, ff, heads]: [usize; 3],
        eps: f64,
        causal: bool,
        device: &B::Device,
    ) -> Self {
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let norm = || LayerNormConfig::new(d).with_epsilon(eps).init(device);
        ClipEncoderLayer {
            self_attn: ClipAttention {
                q_proj: linear(d, d),
                k_proj: linear(d, d),
                v_proj: linear(d, d),
                out_proj: linear(d, d),
                heads,
                causal,
            },
            layer_norm1: norm(),
            mlp: ClipMlp {
                fc1: linear(d, ff),
                fc2: linear(ff, d),
            },
            layer_norm2: norm(),
        }
    }

    /// Visits the weights under `p` (`…encoder.layers.i`).
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, p: &str) {
        let a = &mut self.self_attn;
        for (name, lin) in [
            ("q_proj", &mut a.q_proj),
            ("k_proj", &mut a.k_proj),
            ("v_proj", &mut a.v_proj),
            ("out_proj", &mut a.out_proj),
        ] {
            v.linear(&format!("{p}.self_attn.{name}"), lin);
        }
        walk_norm(v, &format!("{p}.layer_norm1"), &mut self.layer_norm1);
        v.linear(&format!("{p}.mlp.fc1"), &mut self.mlp.fc1);
        v.linear(&format!("{p}.mlp.fc2"), &mut self.mlp.fc2);
        walk_norm(v, &format!("{p}.layer_norm2"), &mut self.layer_norm2);
    }
}

impl<B: NnBackend> ClipEncoder<B> {
    /// The first `layers` layers on `x` `[N, L, D]`; with `collect`, also the input and every
    /// layer's output (transformers' `hidden_states`, `layers + 1` tensors).
    pub fn forward(
        &self,
        mut x: Tensor<B, 3>,
        act: Activation,
        layers: usize,
        collect: bool,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let mut hidden_states = Vec::new();
        for layer in &self.layers[..layers.min(self.layers.len())] {
            if collect {
                hidden_states.push(x.clone());
            }
            x = layer.forward(x, act);
        }
        if collect {
            hidden_states.push(x.clone());
        }
        (x, hidden_states)
    }
}

impl<B: NnBackend> ClipEncoderLayer<B> {
    /// `[N, L, D] → [N, L, D]`.
    pub fn forward(&self, x: Tensor<B, 3>, act: Activation) -> Tensor<B, 3> {
        let h = self.self_attn.forward(self.layer_norm1.forward(x.clone()));
        let x = x + h;
        let h = linear(
            &self.mlp.fc2,
            act.forward(linear(&self.mlp.fc1, self.layer_norm2.forward(x.clone()))),
        );
        x + h
    }
}

impl<B: NnBackend> ClipAttention<B> {
    /// Self-attention, `[N, L, D] → [N, L, D]`; scale `head_dim^-1/2`, softmax in f32.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let split = |p: &Linear<B>| split_heads(linear(p, x.clone()), self.heads);
        let options = AttentionModuleOptions {
            is_causal: self.causal,
            ..Default::default()
        };
        let o = attention(
            split(&self.q_proj),
            split(&self.k_proj),
            split(&self.v_proj),
            None,
            None,
            options,
        );
        linear(&self.out_proj, merge_heads(o))
    }
}

impl<B: Backend> ClipTextModel<B> {
    /// Visits every weight under its transformers name.
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>) {
        let t = &mut self.text_model;
        v.param(
            "text_model.embeddings.token_embedding.weight",
            &mut t.embeddings.token_embedding.weight,
        );
        v.param(
            "text_model.embeddings.position_embedding.weight",
            &mut t.embeddings.position_embedding.weight,
        );
        v.buffer("text_model.embeddings.position_ids", None);
        for (i, layer) in t.encoder.layers.iter_mut().enumerate() {
            layer.walk(v, &format!("text_model.encoder.layers.{i}"));
        }
        walk_norm(v, "text_model.final_layer_norm", &mut t.final_layer_norm);
        if let Some(p) = self.text_projection.as_mut() {
            v.linear("text_projection", p);
        }
    }
}

pub(crate) fn walk_norm<B: Backend>(v: &mut impl Visitor<B>, prefix: &str, n: &mut LayerNorm<B>) {
    if let Some(w) = n.weight.as_mut() {
        v.param(&format!("{prefix}.weight"), w);
    }
    if let Some(b) = n.bias.as_mut() {
        v.param(&format!("{prefix}.bias"), b);
    }
}
