//! `nn.GroupNorm` with statistics in f32 (or wider) whatever the activation dtype: half-precision
//! activations of the SDXL VAE and UNet overflow or lose the variance otherwise. Burn's own
//! `GroupNorm` (0.21) does not upcast (`burn-nn/src/modules/norm/group.rs:168`).
//!
//! `y = (x − μ_g) / √(σ²_g + ε) · weight + bias`, μ_g and σ²_g the mean and biased variance of
//! each (sample, group) (Wu & He, *Group Normalization*, 2018; `torch.nn.GroupNorm`).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::DType;

use crate::ops::upcast_half;

/// Configuration of [`GroupNorm`].
#[derive(Config, Debug)]
pub struct GroupNormConfig {
    /// Groups `G` (must divide `num_channels`).
    pub num_groups: usize,
    /// Channels `C`.
    pub num_channels: usize,
    /// ε added to the variance.
    #[config(default = 1e-5)]
    pub epsilon: f64,
}

impl GroupNormConfig {
    /// A GroupNorm with weight 1 and bias 0.
    ///
    /// # Panics
    /// If `num_groups` is 0 or does not divide `num_channels` (a programming error, as in
    /// burn-nn).
    pub fn init<B: Backend>(&self, device: &B::Device) -> GroupNorm<B> {
        assert!(
            self.num_groups > 0 && self.num_channels.is_multiple_of(self.num_groups),
            "GroupNorm: num_groups ({}) must divide num_channels ({})",
            self.num_groups,
            self.num_channels
        );
        GroupNorm {
            weight: Param::from_tensor(Tensor::ones([self.num_channels], device)),
            bias: Param::from_tensor(Tensor::zeros([self.num_channels], device)),
            groups: self.num_groups,
            eps: self.epsilon,
        }
    }
}

/// `nn.GroupNorm(groups, C, eps, affine=True)`: state-dict names `weight`, `bias`.
#[derive(Module, Debug)]
pub struct GroupNorm<B: Backend> {
    /// `[C]` scale.
    pub weight: Param<Tensor<B, 1>>,
    /// `[C]` shift.
    pub bias: Param<Tensor<B, 1>>,
    /// Groups.
    pub groups: usize,
    /// ε added to the variance.
    pub eps: f64,
}

impl<B: Backend> GroupNorm<B> {
    /// Normalises with the statistics of `x` itself (PyTorch's `nn.GroupNorm`).
    ///
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`, in `x`'s dtype.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let dtype = x.dtype();
        let x32 = upcast_half(x);
        let (var, mean) = group_var_mean(x32.clone(), self.groups);
        self.normalize(x32, mean, (var + self.eps).sqrt(), dtype)
    }

    /// `(x − mean) / std · weight + bias` in f32 with given per-(sample, group) statistics, cast to
    /// `dtype`.
    ///
    /// # Shapes
    /// - `x32`: `[N, C, H, W]` in f32 (or f64)
    /// - `mean`, `std`: `[N, G, 1]`
    pub fn normalize(
        &self,
        x32: Tensor<B, 4>,
        mean: Tensor<B, 3>,
        std: Tensor<B, 3>,
        dtype: DType,
    ) -> Tensor<B, 4> {
        let [n, c, h, w] = x32.dims();
        let g = self.groups;
        let param = |p: Tensor<B, 1>| {
            let p = if p.dtype() == x32.dtype() {
                p
            } else {
                p.cast(x32.dtype())
            };
            p.reshape([1, c, 1, 1])
        };
        let (weight, bias) = (param(self.weight.val()), param(self.bias.val()));
        // Division, not `recip`: burn-ndarray's SIMD reciprocal is an approximation with ~1e-4
        // relative error.
        let normed = (x32.reshape([n, g, (c / g) * h * w]) - mean) / std;
        let y = normed.reshape([n, c, h, w]) * weight + bias;
        if y.dtype() != dtype { y.cast(dtype) } else { y }
    }
}

/// Biased variance and mean per (sample, group) of `[N, C, H, W]` as `[N, G, 1]`, summed in two
/// levels (rows, then the rows' sums): one f32 sum over millions of elements (burn-ndarray's
/// `sum_dim` accumulates sequentially) loses ~1e-4 relative at 1024×2048, two levels keep the
/// statistics at PyTorch's accuracy.
pub fn group_var_mean<B: Backend>(x: Tensor<B, 4>, g: usize) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [n, c, h, w] = x.dims();
    let count = ((c / g) * h * w) as f32;
    let sum2 = |t: Tensor<B, 4>| t.sum_dim(3).sum_dim(2).reshape([n, g, 1]);
    let x = x.reshape([n, g, (c / g) * h, w]);
    let mean = sum2(x.clone()).div_scalar(count);
    let centred = x - mean.clone().reshape([n, g, 1, 1]);
    let var = sum2(centred.powi_scalar(2)).div_scalar(count);
    (var, mean)
}
