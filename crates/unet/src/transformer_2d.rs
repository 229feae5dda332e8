//! diffusers' `Transformer2DModel` on image features (`diffusers/models/transformers/
//! transformer_2d.py`, continuous input): GroupNorm (ε 1e-6), `proj_in`, the
//! [`BasicTransformerBlock`]s over the `H·W` tokens (row-major), `proj_out`, plus the input.
//! `proj_in`/`proj_out` are Linear layers on tokens (`use_linear_projection`: SD 2.x, SDXL) or
//! 1×1 convolutions on the feature map (SD 1.5).

use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::conv::{conv2d_nn, same_conv};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{GroupNorm, GroupNormConfig, NnBackend};

use crate::transformer_block::BasicTransformerBlock;

/// `proj_in` / `proj_out`: a Linear or a 1×1 convolution, same state-dict name.
#[derive(Module, Debug)]
pub struct Projection<B: Backend> {
    /// `use_linear_projection = true`.
    pub linear: Option<Linear<B>>,
    /// `use_linear_projection = false`.
    pub conv: Option<Conv2d<B>>,
}

impl<B: Backend> Projection<B> {
    fn new(c: usize, linear: bool, device: &B::Device) -> Self {
        Self {
            linear: linear.then(|| LinearConfig::new(c, c).init(device)),
            conv: (!linear).then(|| same_conv(c, c, 1, device)),
        }
    }

    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        if let Some(l) = self.linear.as_mut() {
            v.linear(prefix, l);
        }
        if let Some(c) = self.conv.as_mut() {
            v.conv2d(prefix, c);
        }
    }
}

/// `attentions.j`: state-dict names `norm`, `proj_in`, `transformer_blocks.k`, `proj_out`.
#[derive(Module, Debug)]
pub struct Transformer2DModel<B: Backend> {
    /// GroupNorm (`norm_num_groups`, ε 1e-6).
    pub norm: GroupNorm<B>,
    /// `C → C`.
    pub proj_in: Projection<B>,
    /// The blocks.
    pub transformer_blocks: Vec<BasicTransformerBlock<B>>,
    /// `C → C`.
    pub proj_out: Projection<B>,
}

impl<B: Backend> Transformer2DModel<B> {
    /// `layers` blocks over `c` channels with `heads` heads, cross-attending to `context_dim`.
    pub fn new(
        c: usize,
        heads: usize,
        layers: usize,
        context_dim: usize,
        groups: usize,
        linear_projection: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            norm: GroupNormConfig::new(groups, c)
                .with_epsilon(1e-6)
                .init(device),
            proj_in: Projection::new(c, linear_projection, device),
            transformer_blocks: (0..layers)
                .map(|_| BasicTransformerBlock::new(c, heads, context_dim, device))
                .collect(),
            proj_out: Projection::new(c, linear_projection, device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.group_norm(&format!("{prefix}.norm"), &mut self.norm);
        self.proj_in.walk(v, &format!("{prefix}.proj_in"));
        for (k, b) in self.transformer_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("{prefix}.transformer_blocks.{k}"));
        }
        self.proj_out.walk(v, &format!("{prefix}.proj_out"));
    }
}

impl<B: NnBackend> Transformer2DModel<B> {
    /// # Shapes
    /// - `x`: `[N, C, H, W]`, `context`: `[N, S, context_dim]`
    /// - output: `[N, C, H, W]`
    pub fn forward(&self, x: Tensor<B, 4>, context: Tensor<B, 3>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let band = B::conv_gemm_band();
        let to_tokens = |t: Tensor<B, 4>| t.permute([0, 2, 3, 1]).reshape([n, h * w, c]);
        let to_map = |t: Tensor<B, 3>| t.reshape([n, h, w, c]).permute([0, 3, 1, 2]);
        let y = self.norm.forward(x.clone());
        let mut tokens = match (&self.proj_in.linear, &self.proj_in.conv) {
            (Some(l), _) => linear(l, to_tokens(y)),
            (None, Some(conv)) => to_tokens(conv2d_nn(conv, y, band)),
            (None, None) => to_tokens(y),
        };
        for block in &self.transformer_blocks {
            tokens = block.forward(tokens, context.clone());
        }
        let y = match (&self.proj_out.linear, &self.proj_out.conv) {
            (Some(l), _) => to_map(linear(l, tokens)),
            (None, Some(conv)) => conv2d_nn(conv, to_map(tokens), band),
            (None, None) => to_map(tokens),
        };
        y + x
    }
}
