//! diffusers' `UNetMidBlock2DCrossAttn` (`diffusers/models/unets/unet_2d_blocks.py`): a resnet,
//! then (transformer, resnet) pairs, at the lowest resolution.

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::resnet::ResnetBlock2D;
use crate::transformer_2d::Transformer2DModel;

/// `mid_block`: state-dict names `resnets.0`, `attentions.0`, `resnets.1` (one layer, as every
/// Stable Diffusion UNet).
#[derive(Module, Debug)]
pub struct MidBlock<B: Backend> {
    /// `layers + 1` resnets.
    pub resnets: Vec<ResnetBlock2D<B>>,
    /// `layers` transformers.
    pub attentions: Vec<Transformer2DModel<B>>,
}

impl<B: Backend> MidBlock<B> {
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        for (j, r) in self.resnets.iter_mut().enumerate() {
            r.walk(v, &format!("{prefix}.resnets.{j}"));
        }
        for (j, a) in self.attentions.iter_mut().enumerate() {
            a.walk(v, &format!("{prefix}.attentions.{j}"));
        }
    }
}

impl<B: NnBackend> MidBlock<B> {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`.
    pub fn forward(
        &self,
        x: Tensor<B, 4>,
        temb_act: &Tensor<B, 2>,
        context: &Tensor<B, 3>,
    ) -> Tensor<B, 4> {
        let mut x = self.resnets[0].forward(x, temb_act.clone());
        for (attn, resnet) in self.attentions.iter().zip(&self.resnets[1..]) {
            x = attn.forward(x, context.clone());
            x = resnet.forward(x, temb_act.clone());
        }
        x
    }
}
