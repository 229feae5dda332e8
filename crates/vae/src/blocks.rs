//! The three block kinds of `diffusers/models/unets/unet_2d_blocks.py` that the VAE uses:
//! `DownEncoderBlock2D`, `UpDecoderBlock2D` and `UNetMidBlock2D`.

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::Result;
use crate::attention::Attention;
use crate::norm::NormCtx;
use crate::resnet::ResnetBlock2d;
pub use ultrares_nn::sample::{Downsample2d, Upsample2d};
use ultrares_nn::sample::{Downsample2dConfig, Upsample2dConfig};

/// `layers` ResNets, the first `cin → cout`, the others `cout → cout`.
fn resnet_stack<B: NnBackend>(
    cin: usize,
    cout: usize,
    layers: usize,
    groups: usize,
    device: &B::Device,
) -> Vec<ResnetBlock2d<B>> {
    (0..layers)
        .map(|i| ResnetBlock2d::new(if i == 0 { cin } else { cout }, cout, groups, device))
        .collect()
}

/// Runs the ResNets in order.
fn run_resnets<B: NnBackend>(
    resnets: &[ResnetBlock2d<B>],
    mut x: Tensor<B, 4>,
    ctx: &mut NormCtx,
) -> Result<Tensor<B, 4>> {
    for r in resnets {
        x = r.forward(x, ctx)?;
    }
    Ok(x)
}

/// Visits `prefix.resnets.{i}`.
fn walk_resnets<B: NnBackend>(
    resnets: &mut [ResnetBlock2d<B>],
    v: &mut impl Visitor<B>,
    prefix: &str,
) {
    for (i, r) in resnets.iter_mut().enumerate() {
        r.walk(v, &format!("{prefix}.resnets.{i}"));
    }
}

/// `DownEncoderBlock2D`: ResNet blocks, then (except in the last block) a downsampler.
#[derive(Module, Debug)]
pub struct DownEncoderBlock2d<B: Backend> {
    /// `resnets.*`.
    pub resnets: Vec<ResnetBlock2d<B>>,
    /// `downsamplers.0`.
    pub downsamplers: Option<Downsample2d<B>>,
}

impl<B: NnBackend> DownEncoderBlock2d<B> {
    /// `layers` ResNets `cin → cout`, a downsampler when `down`.
    pub fn new(
        cin: usize,
        cout: usize,
        layers: usize,
        groups: usize,
        down: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            resnets: resnet_stack(cin, cout, layers, groups, device),
            downsamplers: down.then(|| Downsample2dConfig::new(cout).with_padding(0).init(device)),
        }
    }

    /// `[N, in, H, W] → [N, out, H/2, W/2]` (no halving in the last block).
    pub fn forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let x = run_resnets(&self.resnets, x, ctx)?;
        Ok(match &self.downsamplers {
            Some(d) => d.forward(x, ctx.gemm_band),
            None => x,
        })
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_resnets(&mut self.resnets, v, prefix);
        if let Some(d) = self.downsamplers.as_mut() {
            v.conv2d(&format!("{prefix}.downsamplers.0.conv"), &mut d.conv);
        }
    }
}

/// `UpDecoderBlock2D`: ResNet blocks, then (except in the last block) an upsampler.
#[derive(Module, Debug)]
pub struct UpDecoderBlock2d<B: Backend> {
    /// `resnets.*`.
    pub resnets: Vec<ResnetBlock2d<B>>,
    /// `upsamplers.0`.
    pub upsamplers: Option<Upsample2d<B>>,
}

impl<B: NnBackend> UpDecoderBlock2d<B> {
    /// `layers` ResNets `cin → cout`, an upsampler when `up`.
    pub fn new(
        cin: usize,
        cout: usize,
        layers: usize,
        groups: usize,
        up: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            resnets: resnet_stack(cin, cout, layers, groups, device),
            upsamplers: up.then(|| Upsample2dConfig::new(cout).init(device)),
        }
    }

    /// `[N, in, H, W] → [N, out, 2H, 2W]` (no doubling in the last block).
    pub fn forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let x = self.resnets_forward(x, ctx)?;
        Ok(self.upsample(x, ctx.gemm_band))
    }

    /// The ResNets only: `[N, in, H, W] → [N, out, H, W]`.
    pub fn resnets_forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        run_resnets(&self.resnets, x, ctx)
    }

    /// The upsampler only (identity in the last block).
    pub fn upsample(&self, x: Tensor<B, 4>, gemm_band: usize) -> Tensor<B, 4> {
        match &self.upsamplers {
            Some(u) => u.forward(x, gemm_band),
            None => x,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_resnets(&mut self.resnets, v, prefix);
        if let Some(u) = self.upsamplers.as_mut() {
            v.conv2d(&format!("{prefix}.upsamplers.0.conv"), &mut u.conv);
        }
    }
}

/// `UNetMidBlock2D`: ResNet, attention (optional), ResNet, all at `C` channels.
#[derive(Module, Debug)]
pub struct MidBlock2d<B: Backend> {
    /// `resnets.0` and `resnets.1`.
    pub resnets: Vec<ResnetBlock2d<B>>,
    /// `attentions.0`, absent when `mid_block_add_attention` is false.
    pub attentions: Option<Attention<B>>,
}

impl<B: NnBackend> MidBlock2d<B> {
    /// A mid block over `channels`.
    pub fn new(channels: usize, groups: usize, attention: bool, device: &B::Device) -> Self {
        Self {
            resnets: (0..2)
                .map(|_| ResnetBlock2d::new(channels, channels, groups, device))
                .collect(),
            attentions: attention.then(|| Attention::new(channels, groups, device)),
        }
    }

    /// `[N, C, H, W] → [N, C, H, W]`.
    pub fn forward(&self, mut x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        for (i, r) in self.resnets.iter().enumerate() {
            if i == 1
                && let Some(a) = &self.attentions
            {
                x = a.forward(x, ctx)?;
            }
            x = r.forward(x, ctx)?;
        }
        Ok(x)
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_resnets(&mut self.resnets, v, prefix);
        if let Some(a) = self.attentions.as_mut() {
            a.walk(v, &format!("{prefix}.attentions.0"));
        }
    }
}
