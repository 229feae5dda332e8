//! diffusers' adaptive LayerNorms of the DiTs (`diffusers/models/normalization.py`):
//! `AdaLayerNormZero` (6 chunks), `SD35AdaLayerNormZeroX` (9), `AdaLayerNormZeroSingle` (3) and
//! `AdaLayerNormContinuous` (2, **scale before shift**) all compute `linear(SiLU(temb))` and cut
//! it into chunks that modulate a LayerNorm without affine part (ε 1e-6):
//! `LN(x)·(1 + scale) + shift` (Peebles & Xie, *Scalable Diffusion Models with Transformers*,
//! ICCV 2023, §3.2 "adaLN-Zero").

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::LayerNorm;
use ultrares_nn::NnBackend;
use ultrares_nn::activation::silu;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::cast_to;
use ultrares_nn::weights::Visitor;

/// `linear(SiLU(temb))` cut into `chunks` modulation vectors: state-dict name `linear`.
#[derive(Module, Debug)]
pub struct AdaNorm<B: Backend> {
    /// `temb_dim → chunks · dim`.
    pub linear: Linear<B>,
    chunks: usize,
}

impl<B: Backend> AdaNorm<B> {
    /// `chunks` modulation vectors of `dim` from a `temb_dim` conditioning.
    pub fn new(temb_dim: usize, dim: usize, chunks: usize, device: &B::Device) -> Self {
        Self {
            linear: LinearConfig::new(temb_dim, chunks * dim).init(device),
            chunks,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}.linear"), &mut self.linear);
    }
}

impl<B: NnBackend> AdaNorm<B> {
    /// The chunks in diffusers' order, each `[N, 1, dim]` (broadcast over tokens), in the
    /// linear's dtype (`AdaLayerNormContinuous` casts `SiLU(temb)` to it).
    ///
    /// # Shapes
    /// `temb`: `[N, temb_dim]`.
    pub fn chunks(&self, temb: Tensor<B, 2>) -> Vec<Tensor<B, 3>> {
        let dtype = self.linear.weight.val().dtype();
        let e = linear(&self.linear, cast_to(silu(temb), dtype));
        e.chunk(self.chunks, 1)
            .into_iter()
            .map(|c| c.unsqueeze_dim(1))
            .collect()
    }
}

/// `LayerNorm(dim, elementwise_affine=False, eps=1e-6)` over the last dimension (statistics in
/// f32).
pub fn layer_norm<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    LayerNorm {
        weight: None,
        bias: None,
        eps: 1e-6,
    }
    .forward(x)
}

/// `x · (1 + scale) + shift`.
///
/// # Shapes
/// `x`: `[N, L, D]`; `shift`, `scale`: `[N, 1, D]`.
pub fn modulate<B: Backend>(
    x: Tensor<B, 3>,
    shift: &Tensor<B, 3>,
    scale: &Tensor<B, 3>,
) -> Tensor<B, 3> {
    x * (scale.clone() + 1.0) + shift.clone()
}
