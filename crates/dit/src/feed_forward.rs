//! diffusers' `FeedForward(dim, dim_out=dim, activation_fn="gelu-approximate")` of the SD3 and
//! Flux blocks (`diffusers/models/attention.py`): `net.0.proj` `dim → 4·dim`, tanh GELU,
//! `net.2` `4·dim → dim` (Vaswani et al., 2017; Hendrycks & Gimpel, *GELUs*, 2016).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::activation::gelu_tanh;
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;

/// `ff` / `ff_context`: state-dict names `net.0.proj`, `net.2`.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    /// `net.0.proj`: `dim → 4·dim`.
    pub net_0_proj: Linear<B>,
    /// `net.2`: `4·dim → dim`.
    pub net_2: Linear<B>,
}

impl<B: Backend> FeedForward<B> {
    /// A feed-forward over `dim` features with a `4·dim` hidden layer.
    pub fn new(dim: usize, device: &B::Device) -> Self {
        Self {
            net_0_proj: LinearConfig::new(dim, 4 * dim).init(device),
            net_2: LinearConfig::new(4 * dim, dim).init(device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}.net.0.proj"), &mut self.net_0_proj);
        v.linear(&format!("{prefix}.net.2"), &mut self.net_2);
    }
}

impl<B: NnBackend> FeedForward<B> {
    /// # Shapes
    /// `[N, L, dim] → [N, L, dim]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        linear(&self.net_2, gelu_tanh(linear(&self.net_0_proj, x)))
    }
}
