//! diffusers' `DownBlock2D` and `CrossAttnDownBlock2D` (`diffusers/models/unets/
//! unet_2d_blocks.py`): resnets, each followed by a [`Transformer2DModel`] in the cross-attention
//! variant, then an optional strided-convolution downsampler. Every resnet(+attention) output and
//! the downsampled output are skip connections for the up path.

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::sample::{Downsample2d, Downsample2dConfig};
use ultrares_nn::weights::Visitor;

use crate::resnet::ResnetBlock2D;
use crate::transformer_2d::Transformer2DModel;

/// `down_blocks.i`: state-dict names `resnets.j`, `attentions.j` (cross-attention blocks only),
/// `downsamplers.0` (all but the last block).
#[derive(Module, Debug)]
pub struct DownBlock<B: Backend> {
    /// `layers_per_block` resnets.
    pub resnets: Vec<ResnetBlock2D<B>>,
    /// One transformer per resnet, or none.
    pub attentions: Vec<Transformer2DModel<B>>,
    /// `Downsample2D` (3×3, stride 2), or none.
    pub downsamplers: Vec<Downsample2d<B>>,
}

impl<B: Backend> DownBlock<B> {
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        for (j, r) in self.resnets.iter_mut().enumerate() {
            r.walk(v, &format!("{prefix}.resnets.{j}"));
        }
        for (j, a) in self.attentions.iter_mut().enumerate() {
            a.walk(v, &format!("{prefix}.attentions.{j}"));
        }
        for (j, d) in self.downsamplers.iter_mut().enumerate() {
            v.conv2d(&format!("{prefix}.downsamplers.{j}.conv"), &mut d.conv);
        }
    }

    /// The downsampler `c → c` with diffusers' `downsample_padding`.
    pub(crate) fn downsampler(c: usize, padding: usize, device: &B::Device) -> Downsample2d<B> {
        Downsample2dConfig::new(c)
            .with_padding(padding)
            .init(device)
    }
}

impl<B: NnBackend> DownBlock<B> {
    /// # Shapes
    /// - `x`: `[N, in, H, W]`, `temb_act`: `[N, temb]`, `context`: `[N, S, context_dim]`
    /// - output: `[N, out, H', W']` (`H' = ⌈H/2⌉` with a downsampler) and the skip connections
    ///   (one per resnet, plus the downsampled output)
    pub fn forward(
        &self,
        mut x: Tensor<B, 4>,
        temb_act: &Tensor<B, 2>,
        context: &Tensor<B, 3>,
        skips: &mut Vec<Tensor<B, 4>>,
    ) -> Tensor<B, 4> {
        for (j, resnet) in self.resnets.iter().enumerate() {
            x = resnet.forward(x, temb_act.clone());
            if let Some(attn) = self.attentions.get(j) {
                x = attn.forward(x, context.clone());
            }
            skips.push(x.clone());
        }
        for down in &self.downsamplers {
            x = down.forward(x, B::conv_gemm_band());
            skips.push(x.clone());
        }
        x
    }
}
