//! diffusers' `UpBlock2D` and `CrossAttnUpBlock2D` (`diffusers/models/unets/unet_2d_blocks.py`):
//! before each resnet the last skip connection is concatenated on channels (`[x, skip]`); a
//! [`Transformer2DModel`] follows each resnet in the cross-attention variant; then an optional
//! nearest-neighbour upsampler (to the next skip's size when the latent side is not a multiple of
//! `2^num_upsamplers`).

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::sample::Upsample2d;
use ultrares_nn::weights::Visitor;

use crate::resnet::ResnetBlock2D;
use crate::transformer_2d::Transformer2DModel;

/// `up_blocks.i`: state-dict names `resnets.j`, `attentions.j` (cross-attention blocks only),
/// `upsamplers.0` (all but the last block).
#[derive(Module, Debug)]
pub struct UpBlock<B: Backend> {
    /// `layers_per_block + 1` resnets over `[x, skip]`.
    pub resnets: Vec<ResnetBlock2D<B>>,
    /// One transformer per resnet, or none.
    pub attentions: Vec<Transformer2DModel<B>>,
    /// `Upsample2D` (nearest, 3×3 convolution), or none.
    pub upsamplers: Vec<Upsample2d<B>>,
}

impl<B: Backend> UpBlock<B> {
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        for (j, r) in self.resnets.iter_mut().enumerate() {
            r.walk(v, &format!("{prefix}.resnets.{j}"));
        }
        for (j, a) in self.attentions.iter_mut().enumerate() {
            a.walk(v, &format!("{prefix}.attentions.{j}"));
        }
        for (j, u) in self.upsamplers.iter_mut().enumerate() {
            v.conv2d(&format!("{prefix}.upsamplers.{j}.conv"), &mut u.conv);
        }
    }
}

impl<B: NnBackend> UpBlock<B> {
    /// Pops one skip connection per resnet from the end of `skips`.
    ///
    /// # Shapes
    /// - `x`: `[N, prev, H, W]`, skips `[N, c_j, H, W]`
    /// - output: `[N, out, H', W']`, `H' = upsample_size` or `2H` with an upsampler
    pub fn forward(
        &self,
        mut x: Tensor<B, 4>,
        skips: &mut Vec<Tensor<B, 4>>,
        temb_act: &Tensor<B, 2>,
        context: &Tensor<B, 3>,
        upsample_size: Option<[usize; 2]>,
    ) -> Tensor<B, 4> {
        for (j, resnet) in self.resnets.iter().enumerate() {
            if let Some(skip) = skips.pop() {
                x = Tensor::cat(vec![x, skip], 1);
            }
            x = resnet.forward(x, temb_act.clone());
            if let Some(attn) = self.attentions.get(j) {
                x = attn.forward(x, context.clone());
            }
        }
        for up in &self.upsamplers {
            let [_, _, h, w] = x.dims();
            let size = upsample_size.unwrap_or([2 * h, 2 * w]);
            x = up.forward_to(x, size, B::conv_gemm_band());
        }
        x
    }
}
