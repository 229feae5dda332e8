//! The VAE `Encoder` (`diffusers/models/autoencoders/vae.py`): `conv_in`, `DownEncoderBlock2D`s,
//! `UNetMidBlock2D`, GroupNorm, SiLU, `conv_out` to the `2C` posterior moments.
//!
//! The forward pass is split in two for seamless tiling: [`Encoder::head`] (every block above
//! latent resolution, run tile by tile) and [`Encoder::tail`] (the last down block, the mid block
//! with its global attention and the output layers, all at latent resolution, run on the whole
//! latent).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::Result;
use crate::blocks::{DownEncoderBlock2d, MidBlock2d};
use crate::config::AutoencoderKlConfig;
use crate::norm::{CtxNorm, NormCtx};
use crate::resnet::{conv, group_norm, walk_norm};
use ultrares_nn::GroupNorm;
use ultrares_nn::conv::conv2d_nn;

/// `[N, 3, H, W] → [N, 2C, H/f, W/f]` (mean and log-variance of the posterior).
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    /// 3×3 `in_channels → block_out_channels[0]` (stride `config.stride`).
    pub conv_in: Conv2d<B>,
    /// The down blocks.
    pub down_blocks: Vec<DownEncoderBlock2d<B>>,
    /// The mid block.
    pub mid_block: MidBlock2d<B>,
    /// GroupNorm before `conv_out`.
    pub conv_norm_out: GroupNorm<B>,
    /// 3×3 `block_out_channels[-1] → 2C`.
    pub conv_out: Conv2d<B>,
}

impl<B: NnBackend> Encoder<B> {
    /// The encoder of `cfg` (validated by the caller).
    pub fn new(cfg: &AutoencoderKlConfig, device: &B::Device) -> Self {
        let boc = &cfg.block_out_channels;
        let g = cfg.norm_num_groups;
        let top = boc[boc.len() - 1];
        let mut cout = boc[0];
        let down_blocks = boc
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let cin = cout;
                cout = c;
                DownEncoderBlock2d::new(cin, c, cfg.layers_per_block, g, i + 1 < boc.len(), device)
            })
            .collect();
        Self {
            conv_in: Conv2dConfig::new([cfg.in_channels, boc[0]], [3, 3])
                .with_stride([cfg.stride, cfg.stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            down_blocks,
            mid_block: MidBlock2d::new(top, g, cfg.mid_block_add_attention, device),
            conv_norm_out: group_norm(g, top, device),
            conv_out: conv(top, 2 * cfg.latent_channels, 3, device),
        }
    }

    /// `conv_in` and the down blocks but the last: `[N, 3, H, W] → [N, C_{n−2}, H/f, W/f]`.
    pub fn head(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let mut x = conv2d_nn(&self.conv_in, x, ctx.gemm_band);
        for b in &self.down_blocks[..self.down_blocks.len().saturating_sub(1)] {
            x = b.forward(x, ctx)?;
        }
        Ok(x)
    }

    /// Channels of [`Encoder::head`]'s output (the last down block's input).
    pub fn head_channels(&self) -> usize {
        match self.down_blocks.last() {
            Some(b) => b.resnets[0].norm1.weight.dims()[0],
            None => self.conv_in.weight.dims()[0],
        }
    }

    /// The last down block, the mid block, norm, SiLU and `conv_out` (all at latent
    /// resolution): `[N, C_{n−2}, h, w] → [N, 2C, h, w]`.
    pub fn tail(&self, mut x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        if let Some(b) = self.down_blocks.last() {
            x = b.forward(x, ctx)?;
        }
        let x = self.mid_block.forward(x, ctx)?;
        let x = self.conv_norm_out.forward_ctx_silu(x, ctx)?;
        Ok(conv2d_nn(&self.conv_out, x, ctx.gemm_band))
    }

    /// The whole encoder (`Encoder.forward`).
    pub fn forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let h = self.head(x, ctx)?;
        self.tail(h, ctx)
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.conv2d(&format!("{prefix}.conv_in"), &mut self.conv_in);
        for (i, b) in self.down_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("{prefix}.down_blocks.{i}"));
        }
        self.mid_block.walk(v, &format!("{prefix}.mid_block"));
        walk_norm(
            v,
            &format!("{prefix}.conv_norm_out"),
            &mut self.conv_norm_out,
        );
        v.conv2d(&format!("{prefix}.conv_out"), &mut self.conv_out);
    }
}
