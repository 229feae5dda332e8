//! `AdaptiveGroupNorm` (`score_sde/models/layerspp.py`): a GroupNorm without affine parameters
//! (statistics in f32) whose scale and shift come from the z embedding,
//! `γ·GN(x) + β` with `[γ, β] = style(zemb)` (DDGAN, Xiao et al., ICLR 2022).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::upcast_half;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{NnBackend, group_var_mean};

use crate::config::groups;
use crate::init::Init;

/// `AdaptiveGroupNorm(min(C/4, 32), C, z_emb_dim)`: state-dict name `style` (`z_emb → 2C`).
#[derive(Module, Debug)]
pub struct AdaptiveGroupNorm<B: Backend> {
    /// `z_emb_dim → 2C`: `[γ, β]`.
    pub style: Linear<B>,
    /// Groups.
    pub groups: usize,
}

impl<B: Backend> AdaptiveGroupNorm<B> {
    /// For `c` channels; the style bias starts at γ = 1, β = 0.
    pub fn new(c: usize, z_emb_dim: usize, device: &B::Device) -> Self {
        let mut style = Init::Dense(1.0).linear(z_emb_dim, 2 * c, device);
        let bias = Tensor::cat(
            vec![Tensor::ones([c], device), Tensor::zeros([c], device)],
            0,
        );
        style.bias = Some(Param::from_tensor(bias));
        Self {
            style,
            groups: groups(c),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}.style"), &mut self.style);
    }
}

impl<B: NnBackend> AdaptiveGroupNorm<B> {
    /// # Shapes
    /// - `x`: `[N, C, H, W]`
    /// - `zemb`: `[N, z_emb_dim]`
    /// - output: `[N, C, H, W]` in `x`'s dtype
    pub fn forward(&self, x: Tensor<B, 4>, zemb: Tensor<B, 2>) -> Tensor<B, 4> {
        self.forward_act(x, zemb, false)
    }

    /// `silu(self.forward(x, zemb))`, the SiLU fused where the backend fuses it
    /// ([`NnBackend::nn_scale_shift`]).
    ///
    /// # Shapes
    /// As [`AdaptiveGroupNorm::forward`].
    pub fn forward_silu(&self, x: Tensor<B, 4>, zemb: Tensor<B, 2>) -> Tensor<B, 4> {
        self.forward_act(x, zemb, true)
    }

    fn forward_act(&self, x: Tensor<B, 4>, zemb: Tensor<B, 2>, silu: bool) -> Tensor<B, 4> {
        let [n, c, _, _] = x.dims();
        let dtype = x.dtype();
        let style = linear(&self.style, zemb);
        let gamma = style.clone().narrow(1, 0, c);
        let beta = style.narrow(1, c, c);
        let x32 = upcast_half(x);
        let g = self.groups;
        let (var, mean) = group_var_mean(x32.clone(), g);
        // γ·(x − μ)/σ + β as one scale and shift per (sample, channel): two passes over x.
        let per_channel = |t: Tensor<B, 3>| t.expand([n, g, c / g]).reshape([n, c]);
        let scale = gamma / per_channel((var + 1e-6).sqrt());
        let shift = beta - per_channel(mean) * scale.clone();
        let (scale, shift) = if scale.dtype() == x32.dtype() {
            (scale, shift)
        } else {
            (scale.cast(x32.dtype()), shift.cast(x32.dtype()))
        };
        let y = B::nn_scale_shift(x32, scale, shift, silu);
        if y.dtype() == dtype { y } else { y.cast(dtype) }
    }
}
