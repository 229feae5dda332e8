//! DDPM's `NIN` (`score_sde/models/layers.py:501`): a per-pixel linear map with its weight stored
//! `[in, out]` as `W` and bias `b`.

use burn::module::Param;
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::init::Init;

/// `NIN(in_dim, num_units)`: state-dict names `W` `[in, out]`, `b` `[out]`.
#[derive(Module, Debug)]
pub struct Nin<B: Backend> {
    /// `[in, out]`.
    pub w: Param<Tensor<B, 2>>,
    /// `[out]`.
    pub b: Param<Tensor<B, 1>>,
}

impl<B: Backend> Nin<B> {
    /// `NIN(cin, cout, init_scale)` with DDPM's initialisation.
    pub fn new(cin: usize, cout: usize, init_scale: f64, device: &B::Device) -> Self {
        Self {
            w: Param::from_tensor(Init::Ddpm(init_scale).tensor([cin, cout], device)),
            b: Param::from_tensor(Tensor::zeros([cout], device)),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.param(&format!("{prefix}.W"), &mut self.w);
        v.param(&format!("{prefix}.b"), &mut self.b);
    }
}

impl<B: NnBackend> Nin<B> {
    /// # Shapes
    /// `[M, in] → [M, out]` (pixels as rows).
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let out = self.b.dims()[0];
        B::nn_matmul(x, self.w.val()) + self.b.val().reshape([1, out])
    }
}
