//! diffusers' `FluxTransformerBlock` (`transformer_flux.py`): the double-stream block of
//! FLUX.1 — as SD3's joint block (`AdaLayerNormZero` on both streams, gated attention and
//! feed-forward residuals) with per-head RMSNorm on queries and keys, the joint sequence text
//! first, and RoPE on it.

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::ada_norm::{AdaNorm, layer_norm, modulate};
use crate::attention::{JointAttention, JointAttentionConfig};
use crate::feed_forward::FeedForward;
use crate::rope::Rope;

/// `transformer_blocks.i`: state-dict names `norm1`, `norm1_context`, `attn`, `ff`,
/// `ff_context`.
#[derive(Module, Debug)]
pub struct FluxTransformerBlock<B: Backend> {
    /// Image modulation (6 chunks).
    pub norm1: AdaNorm<B>,
    /// Text modulation (6 chunks).
    pub norm1_context: AdaNorm<B>,
    /// Joint attention with qk RMSNorm.
    pub attn: JointAttention<B>,
    /// Image feed-forward.
    pub ff: FeedForward<B>,
    /// Text feed-forward.
    pub ff_context: FeedForward<B>,
}

impl<B: Backend> FluxTransformerBlock<B> {
    /// A block of width `dim` with `heads` heads.
    pub fn new(dim: usize, heads: usize, device: &B::Device) -> Self {
        Self {
            norm1: AdaNorm::new(dim, dim, 6, device),
            norm1_context: AdaNorm::new(dim, dim, 6, device),
            attn: JointAttentionConfig {
                dim,
                heads,
                qk_norm: true,
                context: true,
                context_out: true,
                out: true,
            }
            .init(device),
            ff: FeedForward::new(dim, device),
            ff_context: FeedForward::new(dim, device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        self.norm1.walk(v, &format!("{prefix}.norm1"));
        self.norm1_context
            .walk(v, &format!("{prefix}.norm1_context"));
        self.attn.walk(v, &format!("{prefix}.attn"));
        self.ff.walk(v, &format!("{prefix}.ff"));
        self.ff_context.walk(v, &format!("{prefix}.ff_context"));
    }
}

impl<B: NnBackend> FluxTransformerBlock<B> {
    /// # Shapes
    /// - `x`: `[N, L, D]` image tokens, `context`: `[N, S, D]` text tokens, `temb`: `[N, D]`
    /// - `rope`: over the `S + L` joint tokens (text first)
    /// - output: the new image and text tokens
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        context: Tensor<B, 3>,
        temb: Tensor<B, 2>,
        rope: &Rope<B>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let m = self.norm1.chunks(temb.clone());
        let c = self.norm1_context.chunks(temb);
        let xn = modulate(layer_norm(x.clone()), &m[0], &m[1]);
        let cn = modulate(layer_norm(context.clone()), &c[0], &c[1]);
        let (attn, cattn) = self.attn.forward(xn, Some(cn), true, Some(rope));
        let x = x + m[2].clone() * attn;
        let h = self
            .ff
            .forward(modulate(layer_norm(x.clone()), &m[3], &m[4]));
        let x = x + m[5].clone() * h;
        let context = match cattn {
            Some(cattn) => {
                let context = context + c[2].clone() * cattn;
                let h =
                    self.ff_context
                        .forward(modulate(layer_norm(context.clone()), &c[3], &c[4]));
                context + c[5].clone() * h
            }
            None => context,
        };
        (clip_f16(x), clip_f16(context))
    }
}

/// diffusers' fp16-only clamp to ±65504 (a no-op in other dtypes).
pub(crate) fn clip_f16<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    if x.dtype() == burn::tensor::DType::F16 {
        x.clamp(-65504.0, 65504.0)
    } else {
        x
    }
}
