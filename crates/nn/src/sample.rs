//! diffusers' `Downsample2D` and `Upsample2D` with a convolution (`diffusers/models/downsampling.py`,
//! `upsampling.py`), as the VAE (`padding=0`) and the UNets (`padding=1`) use them. Convolutions
//! run through [`crate::conv::conv2d`] with a GEMM band (0: native).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::conv::{conv2d_nn, same_conv};
use crate::ops::{pad_zeros, upsample_nearest};

/// Configuration of [`Downsample2d`].
#[derive(Config, Debug)]
pub struct Downsample2dConfig {
    /// Channels in (and out, unless `out_channels` is set).
    pub channels: usize,
    /// Output channels.
    #[config(default = "None")]
    pub out_channels: Option<usize>,
    /// diffusers' `padding`: 1 in the UNets; 0 in the VAE, which pads right and bottom by one
    /// before a valid convolution.
    #[config(default = 1)]
    pub padding: usize,
}

impl Downsample2dConfig {
    /// The downsampler with Burn's default initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Downsample2d<B> {
        let out = self.out_channels.unwrap_or(self.channels);
        let p = self.padding;
        Downsample2d {
            conv: Conv2dConfig::new([self.channels, out], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(device),
            pad_bottom_right: p == 0,
        }
    }
}

/// `Downsample2D(use_conv=True)`: a 3×3 stride-2 convolution; state-dict name `conv`.
#[derive(Module, Debug)]
pub struct Downsample2d<B: Backend> {
    /// The strided 3×3 convolution.
    pub conv: Conv2d<B>,
    /// `padding=0`: zero pad (right 1, bottom 1) first.
    pub pad_bottom_right: bool,
}

impl<B: crate::NnBackend> Downsample2d<B> {
    /// # Shapes
    /// `[N, C, H, W] → [N, C_out, ⌈H/2⌉, ⌈W/2⌉]` (`⌊H/2⌋` with `padding=0`; H, W even in
    /// practice).
    pub fn forward(&self, x: Tensor<B, 4>, gemm_band: usize) -> Tensor<B, 4> {
        let x = if self.pad_bottom_right {
            pad_zeros(x, [0, 1], [0, 1])
        } else {
            x
        };
        conv2d_nn(&self.conv, x, gemm_band)
    }
}

/// Configuration of [`Upsample2d`].
#[derive(Config, Debug)]
pub struct Upsample2dConfig {
    /// Channels in (and out, unless `out_channels` is set).
    pub channels: usize,
    /// Output channels.
    #[config(default = "None")]
    pub out_channels: Option<usize>,
}

impl Upsample2dConfig {
    /// The upsampler with Burn's default initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Upsample2d<B> {
        Upsample2d {
            conv: same_conv(
                self.channels,
                self.out_channels.unwrap_or(self.channels),
                3,
                device,
            ),
        }
    }
}

/// `Upsample2D(use_conv=True)`: nearest ×2, then a 3×3 convolution; state-dict name `conv`.
#[derive(Module, Debug)]
pub struct Upsample2d<B: Backend> {
    /// The 3×3 convolution.
    pub conv: Conv2d<B>,
}

impl<B: crate::NnBackend> Upsample2d<B> {
    /// # Shapes
    /// `[N, C, H, W] → [N, C_out, 2H, 2W]`.
    pub fn forward(&self, x: Tensor<B, 4>, gemm_band: usize) -> Tensor<B, 4> {
        conv2d_nn(&self.conv, upsample_nearest(x, 2), gemm_band)
    }

    /// diffusers' `Upsample2D.forward(x, output_size)`: nearest to `size` (PyTorch's legacy
    /// `nearest`, source index `⌊dst · in / out⌋`), then the convolution. UNets pass the skip
    /// connection's size when the latent side is not a multiple of `2^num_upsamplers`.
    ///
    /// # Shapes
    /// `[N, C, H, W] → [N, C_out, size[0], size[1]]`.
    pub fn forward_to(&self, x: Tensor<B, 4>, size: [usize; 2], gemm_band: usize) -> Tensor<B, 4> {
        let [_, _, h, w] = x.dims();
        if size == [2 * h, 2 * w] {
            return self.forward(x, gemm_band);
        }
        let up = interpolate(x, size, InterpolateOptions::new(InterpolateMode::Nearest));
        conv2d_nn(&self.conv, up, gemm_band)
    }
}
