//! The mid-block self-attention (diffusers `Attention` built from the deprecated VAE attention
//! block: one head of width `C`, GroupNorm in front, residual, softmax in f32).
//! Source: `diffusers/models/attention_processor.py` (`AttnProcessor2_0`).
//!
//! The attention core is `ultrares_nn::attention::attention_chunked`: queries are processed in
//! row blocks so that the score block `[rows, H·W]` never exceeds [`NormCtx::attention_scores`]
//! elements; queries, keys and values (`3·C·H·W`) stay whole.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::GroupNorm;
use ultrares_nn::NnBackend;
use ultrares_nn::attention::attention_chunked;
use ultrares_nn::weights::Visitor;

use crate::Result;
use crate::norm::{CtxNorm, NormCtx};
use crate::resnet::{group_norm, walk_norm};

/// Single-head spatial self-attention with GroupNorm and a residual: `[N, C, H, W]` in and out.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// GroupNorm over the input.
    pub group_norm: GroupNorm<B>,
    /// Query projection `C → C`.
    pub to_q: Linear<B>,
    /// Key projection `C → C`.
    pub to_k: Linear<B>,
    /// Value projection `C → C`.
    pub to_v: Linear<B>,
    /// Output projection `C → C` (`to_out.0`).
    pub to_out: Linear<B>,
}

impl<B: NnBackend> Attention<B> {
    /// An attention block over `channels` with `groups` GroupNorm groups.
    pub fn new(channels: usize, groups: usize, device: &B::Device) -> Self {
        let lin = || LinearConfig::new(channels, channels).init(device);
        Self {
            group_norm: group_norm(groups, channels, device),
            to_q: lin(),
            to_k: lin(),
            to_v: lin(),
            to_out: lin(),
        }
    }

    /// `x + to_out(softmax(q·kᵀ/√C)·v)` with `q, k, v` projections of `group_norm(x)`.
    pub fn forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = x.dims();
        let hw = h * w;
        let tokens = self
            .group_norm
            .forward_ctx(x.clone(), ctx)?
            .reshape([n, c, hw])
            .swap_dims(1, 2);
        let head = |t: Tensor<B, 3>| t.reshape([n, 1, hw, c]);
        let q = head(self.to_q.forward(tokens.clone()));
        let k = head(self.to_k.forward(tokens.clone()));
        let v = head(self.to_v.forward(tokens));
        let options = AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: false,
        };
        let a = attention_chunked(q, k, v, None, None, options, ctx.attention_scores);
        let out = self
            .to_out
            .forward(a.reshape([n, hw, c]))
            .swap_dims(1, 2)
            .reshape([n, c, h, w]);
        Ok(out + x)
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_norm(v, &format!("{prefix}.group_norm"), &mut self.group_norm);
        v.linear(&format!("{prefix}.to_q"), &mut self.to_q);
        v.linear(&format!("{prefix}.to_k"), &mut self.to_k);
        v.linear(&format!("{prefix}.to_v"), &mut self.to_v);
        v.linear(&format!("{prefix}.to_out.0"), &mut self.to_out);
    }
}
