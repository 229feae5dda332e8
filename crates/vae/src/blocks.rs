//! The three block kinds of `diffusers/models/unets/unet_2d_blocks.py` that the VAE uses:
//! `DownEncoderBlock2D`, `UpDecoderBlock2D` and `UNetMidBlock2D`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use ultrares_core::weights::Visitor;

use crate::Result;
use crate::attention::Attention;
use crate::conv::conv2d;
use crate::norm::NormCtx;
use crate::resnet::{ResnetBlock2d, conv};

/// `Downsample2D(use_conv=True, padding=0)`: zero pad (right 1, bottom 1), 3×3 stride-2 conv.
#[derive(Module, Debug)]
pub struct Downsample2d<B: Backend> {
    /// The strided 3×3 convolution, `C → C`.
    pub conv: Conv2d<B>,
}

impl<B: Backend> Downsample2d<B> {
    /// `[N, C, H, W] → [N, C, ⌊H/2⌋, ⌊W/2⌋]` (H, W even in practice).
    pub fn forward(&self, x: Tensor<B, 4>, gemm_band: usize) -> Tensor<B, 4> {
        conv2d(&self.conv, pad_zeros(x, [0, 1], [0, 1]), gemm_band)
    }
}

/// Zero padding `[top, bottom]` × `[left, right]` in `x`'s own dtype (`Tensor::pad` creates its
/// fill in the default float dtype, which half-precision tensors reject on some backends).
pub(crate) fn pad_zeros<B: Backend>(
    x: Tensor<B, 4>,
    rows: [usize; 2],
    cols: [usize; 2],
) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let shape = [n, c, h + rows[0] + rows[1], w + cols[0] + cols[1]];
    Tensor::zeros(shape, (&x.device(), x.dtype()))
        .slice_assign([0..n, 0..c, rows[0]..rows[0] + h, cols[0]..cols[0] + w], x)
}

/// `Tensor::cat(parts, dim)` written as one allocation and a `slice_assign` per part:
/// burn-ndarray's `cat` along a non-leading dimension copies element by element (≈ 30× slower
/// for a 128-channel 256² map).
pub(crate) fn concat<B: Backend, const D: usize>(
    mut parts: Vec<Tensor<B, D>>,
    dim: usize,
) -> Tensor<B, D> {
    if parts.len() == 1 {
        return parts.swap_remove(0);
    }
    let Some(first) = parts.first() else {
        return Tensor::cat(parts, dim);
    };
    let mut shape = first.dims();
    shape[dim] = parts.iter().map(|p| p.dims()[dim]).sum();
    let mut out = Tensor::zeros(shape, (&first.device(), first.dtype()));
    let mut start = 0;
    for p in parts {
        let len = p.dims()[dim];
        let ranges: [std::ops::Range<usize>; D] = std::array::from_fn(|d| {
            if d == dim {
                start..start + len
            } else {
                0..shape[d]
            }
        });
        out = out.slice_assign(ranges, p);
        start += len;
    }
    out
}

/// `Upsample2D(use_conv=True)`: nearest ×2, then a 3×3 conv.
#[derive(Module, Debug)]
pub struct Upsample2d<B: Backend> {
    /// The 3×3 convolution, `C → C`.
    pub conv: Conv2d<B>,
}

/// Nearest-neighbour ×`f` upsampling (`F.interpolate(scale_factor=f, mode="nearest")`).
pub(crate) fn upsample_nearest<B: Backend>(x: Tensor<B, 4>, f: usize) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        [h * f, w * f],
        InterpolateOptions::new(InterpolateMode::Nearest),
    )
}

impl<B: Backend> Upsample2d<B> {
    /// `[N, C, H, W] → [N, C, 2H, 2W]`.
    pub fn forward(&self, x: Tensor<B, 4>, gemm_band: usize) -> Tensor<B, 4> {
        conv2d(&self.conv, upsample_nearest(x, 2), gemm_band)
    }
}

/// `layers` ResNets, the first `cin → cout`, the others `cout → cout`.
fn resnet_stack<B: Backend>(
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
fn run_resnets<B: Backend>(
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
fn walk_resnets<B: Backend>(
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

impl<B: Backend> DownEncoderBlock2d<B> {
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
            downsamplers: down.then(|| Downsample2d {
                conv: Conv2dConfig::new([cout, cout], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Valid)
                    .init(device),
            }),
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

impl<B: Backend> UpDecoderBlock2d<B> {
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
            upsamplers: up.then(|| Upsample2d {
                conv: conv(cout, cout, 3, device),
            }),
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

impl<B: Backend> MidBlock2d<B> {
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
