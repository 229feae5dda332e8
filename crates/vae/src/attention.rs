//! The mid-block self-attention (diffusers `Attention` built from the deprecated VAE attention
//! block: one head of width `C`, GroupNorm in front, residual, softmax in f32).
//! Source: `diffusers/models/attention_processor.py` (`AttnProcessor2_0`).
//!
//! Memory: queries are processed in row blocks so that the score block `[rows, H·W]` never
//! exceeds [`NormCtx::attention_scores`] elements; keys and values (`2·C·H·W`) stay whole.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::softmax;
use ultrares_core::weights::Visitor;

use crate::Result;
use crate::blocks::concat;
use crate::norm::{GroupNorm, NormCtx};
use crate::resnet::{EPS, walk_norm};

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

impl<B: Backend> Attention<B> {
    /// An attention block over `channels` with `groups` GroupNorm groups.
    pub fn new(channels: usize, groups: usize, device: &B::Device) -> Self {
        let lin = || LinearConfig::new(channels, channels).init(device);
        Self {
            group_norm: GroupNorm::new(groups, channels, EPS, device),
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
            .forward(x.clone(), ctx)?
            .reshape([n, c, hw])
            .swap_dims(1, 2);
        let k = self.to_k.forward(tokens.clone()).swap_dims(1, 2);
        let v = self.to_v.forward(tokens.clone());
        let scale = 1.0 / (c as f64).sqrt();
        let rows = (ctx.attention_scores / hw.max(1)).clamp(1, hw.max(1));
        let mut outs = Vec::with_capacity(hw.div_ceil(rows));
        for start in (0..hw).step_by(rows) {
            let end = (start + rows).min(hw);
            let q = self
                .to_q
                .forward(tokens.clone().slice([0..n, start..end, 0..c]));
            let scores = q.matmul(k.clone()) * scale;
            let dtype = scores.dtype();
            let p = if matches!(dtype, DType::F16 | DType::BF16) {
                softmax(scores.cast(DType::F32), 2).cast(dtype)
            } else {
                softmax(scores, 2)
            };
            outs.push(self.to_out.forward(p.matmul(v.clone())));
        }
        let out = concat(outs, 1).swap_dims(1, 2).reshape([n, c, h, w]);
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
