//! diffusers' `Attention` as UNets and DiTs build it (`diffusers/models/attention_processor.py`,
//! `AttnProcessor2_0`): `to_q`, `to_k`, `to_v` without bias, heads split, scaled dot-product
//! attention with the default scale `1/√d_head` (left implicit so Burn's fused kernel keeps its
//! fast path), heads merged, `to_out.0` with bias (Vaswani et al., *Attention Is All You Need*,
//! 2017). Self-attention when no context is given, cross-attention otherwise.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::NnBackend;
use ultrares_nn::attention::{attention, merge_heads, split_heads};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;

/// `Attention(query_dim, cross_attention_dim, heads, dim_head)`: state-dict names `to_q`,
/// `to_k`, `to_v`, `to_out.0`.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `query_dim → heads·dim_head`, no bias.
    pub to_q: Linear<B>,
    /// `context_dim → heads·dim_head`, no bias.
    pub to_k: Linear<B>,
    /// `context_dim → heads·dim_head`, no bias.
    pub to_v: Linear<B>,
    /// `to_out.0`: `heads·dim_head → query_dim`, with bias.
    pub to_out: Linear<B>,
    /// Heads.
    pub heads: usize,
}

impl<B: Backend> Attention<B> {
    /// Attention over `query_dim` features with `heads` heads of `query_dim / heads`, keys and
    /// values from `context_dim` features (`query_dim` for self-attention).
    pub fn new(query_dim: usize, context_dim: usize, heads: usize, device: &B::Device) -> Self {
        let no_bias = |d_in| {
            LinearConfig::new(d_in, query_dim)
                .with_bias(false)
                .init(device)
        };
        Self {
            to_q: no_bias(query_dim),
            to_k: no_bias(context_dim),
            to_v: no_bias(context_dim),
            to_out: LinearConfig::new(query_dim, query_dim).init(device),
            heads,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}.to_q"), &mut self.to_q);
        v.linear(&format!("{prefix}.to_k"), &mut self.to_k);
        v.linear(&format!("{prefix}.to_v"), &mut self.to_v);
        v.linear(&format!("{prefix}.to_out.0"), &mut self.to_out);
    }
}

impl<B: NnBackend> Attention<B> {
    /// # Shapes
    /// - `x`: `[N, L, query_dim]`
    /// - `context`: `[N, S, context_dim]` (cross-attention) or `None` (self-attention)
    /// - output: `[N, L, query_dim]`
    pub fn forward(&self, x: Tensor<B, 3>, context: Option<Tensor<B, 3>>) -> Tensor<B, 3> {
        let ctx = context.unwrap_or_else(|| x.clone());
        let q = split_heads(linear(&self.to_q, x), self.heads);
        let k = split_heads(linear(&self.to_k, ctx.clone()), self.heads);
        let v = split_heads(linear(&self.to_v, ctx), self.heads);
        let o = attention(q, k, v, None, None, AttentionModuleOptions::default());
        linear(&self.to_out, merge_heads(o))
    }
}
