//! transformers' `T5EncoderModel` (Raffel et al., *Exploring the Limits of Transfer Learning with a
//! Unified Text-to-Text Transformer*, 2020; T5 v1.1's gated-GELU feed-forward;
//! `transformers/models/t5/modeling_t5.py`), with its module and weight names: what SD3 (T5-XXL,
//! `text_encoder_3/`) and Flux (`text_encoder_2/`) condition on.
//!
//! Each block is pre-norm with RMSNorm (`T5LayerNorm`, no mean, no bias, statistics in f32):
//! `x + o(attn(layer_norm(x)))` with **unscaled** scores plus a learned relative-position bias
//! (block 0's `relative_attention_bias`, bucketed bidirectionally, shared by every block), then
//! `x + wo(gelu_tanh(wi_0(n)) · wi_1(n))`, `n = layer_norm(x)`; `final_layer_norm` at the end.
//! No attention mask (diffusers passes none). Under half precision `wo` stays f32 as
//! transformers' `_keep_in_fp32_modules = ["wo"]` keeps it, and f16 activations are clamped to
//! the largest finite f16 minus 1000 after each sub-layer, as `T5Block` does.

use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::activation::gelu_tanh;
use ultrares_nn::attention::{attention, merge_heads, split_heads};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{ConfigJson, NnBackend, RmsNorm, RmsNormConfig, StateDict};

use crate::TextError;

/// `T5Config` (the keys of a `text_encoder_3/config.json`).
#[derive(Config, Debug, PartialEq)]
pub struct T5EncoderConfig {
    /// Vocabulary size (32,128 for T5 v1.1).
    pub vocab_size: usize,
    /// Width `d_model`.
    pub d_model: usize,
    /// Width of one head.
    pub d_kv: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Encoder blocks.
    pub num_layers: usize,
    /// Heads.
    pub num_heads: usize,
    /// Relative-position buckets.
    #[config(default = 32)]
    pub relative_attention_num_buckets: usize,
    /// Distance beyond which positions share the last bucket.
    #[config(default = 128)]
    pub relative_attention_max_distance: usize,
    /// RMSNorm ε.
    #[config(default = 1e-6)]
    pub layer_norm_epsilon: f64,
}

impl T5EncoderConfig {
    /// T5 v1.1 XXL's encoder (SD3's `text_encoder_3/`, Flux's `text_encoder_2/`; 4.76 B parameters).
    pub fn t5_v1_1_xxl() -> Self {
        Self::new(32128, 4096, 64, 10240, 24, 64)
    }

    /// Reads a transformers `config.json` (`T5EncoderModel`; `feed_forward_proj` must be
    /// `gated-gelu`, T5 v1.1's, which SD3 and Flux use).
    pub fn from_config_json(config: &ConfigJson) -> Result<Self, TextError> {
        config.check_class(&["T5EncoderModel", "T5ForConditionalGeneration", "T5Model"])?;
        if let Some(t) = config.opt_str("model_type")?
            && t != "t5"
        {
            return Err(config
                .error("model_type", "\"t5\"", format!("{t:?}"))
                .into());
        }
        let ff = config.opt_str("feed_forward_proj")?.unwrap_or("relu");
        if ff != "gated-gelu" {
            return Err(config
                .error(
                    "feed_forward_proj",
                    "\"gated-gelu\" (T5 v1.1, as SD3 and Flux use)",
                    format!("{ff:?}"),
                )
                .into());
        }
        Ok(Self::new(
            config.usize("vocab_size")?,
            config.usize("d_model")?,
            config.usize("d_kv")?,
            config.usize("d_ff")?,
            config.usize("num_layers")?,
            config.usize("num_heads")?,
        )
        .with_relative_attention_num_buckets(
            config
                .opt_usize("relative_attention_num_buckets")?
                .unwrap_or(32),
        )
        .with_relative_attention_max_distance(
            config
                .opt_usize("relative_attention_max_distance")?
                .unwrap_or(128),
        )
        .with_layer_norm_epsilon(config.opt_f64("layer_norm_epsilon")?.unwrap_or(1e-6)))
    }

    /// A model with placeholder weights, to be loaded.
    pub fn init<B: Backend>(&self, device: &B::Device) -> T5EncoderModel<B> {
        let inner = self.num_heads * self.d_kv;
        let linear = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        let norm = || {
            RmsNormConfig::new(self.d_model)
                .with_epsilon(self.layer_norm_epsilon)
                .init(device)
        };
        let block = |i: usize| T5Block {
            attention: T5Attention {
                q: linear(self.d_model, inner),
                k: linear(self.d_model, inner),
                v: linear(self.d_model, inner),
                o: linear(inner, self.d_model),
                relative_attention_bias: (i == 0).then(|| {
                    EmbeddingConfig::new(self.relative_attention_num_buckets, self.num_heads)
                        .init(device)
                }),
                heads: self.num_heads,
            },
            attention_norm: norm(),
            wi_0: linear(self.d_model, self.d_ff),
            wi_1: linear(self.d_model, self.d_ff),
            wo: linear(self.d_ff, self.d_model),
            ff_norm: norm(),
        };
        T5EncoderModel {
            shared: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            block: (0..self.num_layers).map(block).collect(),
            final_layer_norm: norm(),
            num_buckets: self.relative_attention_num_buckets,
            max_distance: self.relative_attention_max_distance,
        }
    }

    /// A model with the weights of `sd` (transformers' names; `encoder.embed_tokens.weight`, the
    /// tied copy of `shared.weight`, is accepted), every bad key in one error. Weights load in
    /// `dtype` except `wo`, which stays f32.
    pub fn load<B: Backend>(
        &self,
        sd: &StateDict,
        dtype: DType,
        device: &B::Device,
    ) -> Result<T5EncoderModel<B>, TextError> {
        let mut model = self.init(device);
        if dtype != DType::F32 {
            // `_keep_in_fp32_modules = ["wo"]`: `wo` first, in f32; the full walk below then keeps
            // each initialised parameter's dtype (and reports any problem with these keys too).
            model.walk(&mut Loader::new(sd, device), true);
        }
        let mut loader = Loader::new(sd, device).with_dtype(dtype);
        model.walk(&mut loader, false);
        loader.finish()?;
        Ok(model)
    }
}

/// `T5EncoderModel`: `shared`, `encoder.block.i`, `encoder.final_layer_norm`.
#[derive(Module, Debug)]
pub struct T5EncoderModel<B: Backend> {
    /// `shared.weight` `[vocab, d_model]`.
    pub shared: Embedding<B>,
    /// `encoder.block.i`.
    pub block: Vec<T5Block<B>>,
    /// `encoder.final_layer_norm`.
    pub final_layer_norm: RmsNorm<B>,
    num_buckets: usize,
    max_distance: usize,
}

/// `encoder.block.i`: `layer.0` (self-attention) and `layer.1` (gated feed-forward).
#[derive(Module, Debug)]
pub struct T5Block<B: Backend> {
    /// `layer.0.SelfAttention`.
    pub attention: T5Attention<B>,
    /// `layer.0.layer_norm`.
    pub attention_norm: RmsNorm<B>,
    /// `layer.1.DenseReluDense.wi_0` (the GELU branch).
    pub wi_0: Linear<B>,
    /// `layer.1.DenseReluDense.wi_1` (the linear branch).
    pub wi_1: Linear<B>,
    /// `layer.1.DenseReluDense.wo` (kept f32).
    pub wo: Linear<B>,
    /// `layer.1.layer_norm`.
    pub ff_norm: RmsNorm<B>,
}

/// `SelfAttention`: `q`, `k`, `v`, `o` without bias; block 0 holds `relative_attention_bias`.
#[derive(Module, Debug)]
pub struct T5Attention<B: Backend> {
    /// `q`.
    pub q: Linear<B>,
    /// `k`.
    pub k: Linear<B>,
    /// `v`.
    pub v: Linear<B>,
    /// `o`.
    pub o: Linear<B>,
    /// `relative_attention_bias.weight` `[buckets, heads]` (block 0 only).
    pub relative_attention_bias: Option<Embedding<B>>,
    heads: usize,
}

/// What [`T5EncoderModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct T5EncoderOutput<B: Backend> {
    /// `final_layer_norm` of the last block, `[N, L, d_model]`: what SD3 and Flux take.
    pub last_hidden_state: Tensor<B, 3>,
    /// `num_layers + 1` states when asked for, as transformers' `T5Stack` returns them: the
    /// embeddings, the outputs of blocks 0 … L−2, and `last_hidden_state` (the last block's output
    /// after `final_layer_norm`, unlike CLIP).
    pub hidden_states: Vec<Tensor<B, 3>>,
}

/// transformers' `_relative_position_bucket` for bidirectional attention.
fn relative_position_bucket(relative: i64, num_buckets: usize, max_distance: usize) -> i64 {
    let half = (num_buckets / 2) as i64;
    let mut bucket = if relative > 0 { half } else { 0 };
    let n = relative.abs();
    let max_exact = half / 2;
    bucket += if n < max_exact {
        n
    } else {
        let large = max_exact
            + ((n as f32 / max_exact as f32).ln() / (max_distance as f32 / max_exact as f32).ln()
                * (half - max_exact) as f32) as i64;
        large.min(half - 1)
    };
    bucket
}

impl<B: NnBackend> T5EncoderModel<B> {
    /// Encodes ids `[N, L]` (ids < `vocab_size`), with every hidden state when asked for.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        output_hidden_states: bool,
    ) -> Result<T5EncoderOutput<B>, TextError> {
        let [_, l] = input_ids.dims();
        let [vocab, _] = self.shared.weight.dims();
        let ids: Vec<i64> = input_ids
            .to_data()
            .convert::<i64>()
            .into_vec()
            .map_err(|e| TextError::Input(format!("{e:?}")))?;
        if l == 0 {
            return Err(TextError::Input("input_ids has no tokens".into()));
        }
        if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as usize >= vocab) {
            return Err(TextError::Input(format!(
                "input_ids holds {bad}, expected ids in 0..{vocab}"
            )));
        }
        let device = input_ids.device();
        let mut x = self.shared.forward(input_ids);
        let dtype = x.dtype();
        // Position bias [1, H, L, L] from block 0's table.
        let buckets: Vec<i64> = (0..l as i64)
            .flat_map(|q| (0..l as i64).map(move |k| (q, k)))
            .map(|(q, k)| relative_position_bucket(k - q, self.num_buckets, self.max_distance))
            .collect();
        let table = self.block[0]
            .attention
            .relative_attention_bias
            .as_ref()
            .ok_or_else(|| TextError::Input("block 0 has no relative_attention_bias".into()))?;
        let buckets = Tensor::<B, 2, Int>::from_data(TensorData::new(buckets, [l, l]), &device);
        let bias = table
            .forward(buckets)
            .permute([2, 0, 1])
            .unsqueeze::<4>()
            .cast(dtype); // [1, H, L, L], broadcast over the batch by `attention`
        let mut hidden_states = Vec::new();
        for block in &self.block {
            if output_hidden_states {
                hidden_states.push(x.clone());
            }
            x = block.forward(x, bias.clone());
        }
        let last_hidden_state = self.final_layer_norm.forward(x);
        if output_hidden_states {
            hidden_states.push(last_hidden_state.clone());
        }
        Ok(T5EncoderOutput {
            last_hidden_state,
            hidden_states,
        })
    }
}

/// f16 activations are clamped to ±(65504 − 1000) after each sub-layer (`T5Block.forward`).
fn clamp_f16<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    if x.dtype() == DType::F16 {
        let c = 65504.0 - 1000.0;
        x.clamp(-c, c)
    } else {
        x
    }
}

impl<B: NnBackend> T5Block<B> {
    /// `[N, L, d_model] → [N, L, d_model]`; `bias` `[N | 1, H, L, L]`.
    pub fn forward(&self, x: Tensor<B, 3>, bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let a = &self.attention;
        let h = self.attention_norm.forward(x.clone());
        let split = |p: &Linear<B>| split_heads(linear(p, h.clone()), a.heads);
        // Unscaled scores: scale 1 (applied to q inside `attention` so fused kernels keep the default path).
        let options = AttentionModuleOptions {
            scale: Some(1.0),
            ..Default::default()
        };
        let o = attention(
            split(&a.q),
            split(&a.k),
            split(&a.v),
            None,
            Some(bias),
            options,
        );
        let x = clamp_f16(x + linear(&a.o, merge_heads(o)));
        let h = self.ff_norm.forward(x.clone());
        let g = gelu_tanh(linear(&self.wi_0, h.clone())) * linear(&self.wi_1, h);
        let wo_dtype = self.wo.weight.val().dtype();
        let dtype = g.dtype();
        let f = linear(
            &self.wo,
            if wo_dtype == dtype {
                g
            } else {
                g.cast(wo_dtype)
            },
        );
        let f = if f.dtype() == dtype { f } else { f.cast(dtype) };
        clamp_f16(x + f)
    }
}

impl<B: Backend> T5EncoderModel<B> {
    /// Walks the weights; with `only_wo`, just the `wo` weights (their f32 load).
    fn walk(&mut self, v: &mut impl Visitor<B>, only_wo: bool) {
        if !only_wo {
            v.param("shared.weight", &mut self.shared.weight);
            v.buffer("encoder.embed_tokens.weight", None);
        }
        for (i, b) in self.block.iter_mut().enumerate() {
            let p = format!("encoder.block.{i}.layer");
            if only_wo {
                v.linear(&format!("{p}.1.DenseReluDense.wo"), &mut b.wo);
                continue;
            }
            let a = &mut b.attention;
            for (name, lin) in [
                ("q", &mut a.q),
                ("k", &mut a.k),
                ("v", &mut a.v),
                ("o", &mut a.o),
            ] {
                v.linear(&format!("{p}.0.SelfAttention.{name}"), lin);
            }
            if let Some(t) = a.relative_attention_bias.as_mut() {
                v.param(
                    &format!("{p}.0.SelfAttention.relative_attention_bias.weight"),
                    &mut t.weight,
                );
            }
            walk_rms(v, &format!("{p}.0.layer_norm"), &mut b.attention_norm);
            v.linear(&format!("{p}.1.DenseReluDense.wi_0"), &mut b.wi_0);
            v.linear(&format!("{p}.1.DenseReluDense.wi_1"), &mut b.wi_1);
            v.linear(&format!("{p}.1.DenseReluDense.wo"), &mut b.wo);
            walk_rms(v, &format!("{p}.1.layer_norm"), &mut b.ff_norm);
        }
        if !only_wo {
            walk_rms(v, "encoder.final_layer_norm", &mut self.final_layer_norm);
        }
    }
}

fn walk_rms<B: Backend>(v: &mut impl Visitor<B>, prefix: &str, n: &mut RmsNorm<B>) {
    if let Some(w) = n.weight.as_mut() {
        v.param(&format!("{prefix}.weight"), w);
    }
}
