//! `nn.GroupNorm` with statistics in f32 (or wider) whatever the activation dtype: half-precision
//! activations of the SDXL VAE and UNet overflow or lose the variance otherwise. Burn's own
//! `GroupNorm` (0.21) does not upcast (`burn-nn/src/modules/norm/group.rs:168`).
//!
//! `y = (x − μ_g) / √(σ²_g + ε) · weight + bias`, μ_g and σ²_g the mean and biased variance of
//! each (sample, group) (Wu & He, *Group Normalization*, 2018; `torch.nn.GroupNorm`), applied as
//! PyTorch's kernels do (`aten/src/ATen/native/cpu/group_norm_kernel.cpp`,
//! `ComputeFusedParams`): one scale `a = weight/σ` and shift `b = bias − μ·a` per (sample,
//! channel), then `y = x·a + b` — through [`NnBackend::nn_scale_shift`], which may also fuse the
//! SiLU that follows every GroupNorm of the UNet and VAE resnets ([`GroupNorm::forward_silu`]).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::DType;

use crate::NnBackend;
use crate::activation::Activation;
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

impl<B: NnBackend> GroupNorm<B> {
    /// Normalises with the statistics of `x` itself (PyTorch's `nn.GroupNorm`).
    ///
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`, in `x`'s dtype.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_act(x, false)
    }

    /// `silu(self.forward(x))` (diffusers' `ResnetBlock2D`: `norm1` → `nonlinearity`), fused on
    /// backends whose [`NnBackend::nn_scale_shift`] fuses it.
    ///
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`, in `x`'s dtype.
    pub fn forward_silu(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_act(x, true)
    }

    fn forward_act(&self, x: Tensor<B, 4>, silu: bool) -> Tensor<B, 4> {
        let dtype = x.dtype();
        let x32 = upcast_half(x);
        let (var, mean) = group_var_mean(x32.clone(), self.groups);
        self.normalize(x32, mean, (var + self.eps).sqrt(), dtype, silu)
    }

    /// `(x − mean) / std · weight + bias` in f32, then SiLU when `silu`, with given
    /// per-(sample, group) statistics, cast to `dtype`.
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
        silu: bool,
    ) -> Tensor<B, 4> {
        let [n, c, _, _] = x32.dims();
        let g = self.groups;
        let param = |p: Tensor<B, 1>| {
            let p = if p.dtype() == x32.dtype() {
                p
            } else {
                p.cast(x32.dtype())
            };
            p.reshape([1, c])
        };
        let (weight, bias) = (param(self.weight.val()), param(self.bias.val()));
        let per_channel = |t: Tensor<B, 3>| t.expand([n, g, c / g]).reshape([n, c]);
        // Division, not `recip`: burn-ndarray's SIMD reciprocal is an approximation with ~1e-4
        // relative error.
        let scale = weight / per_channel(std);
        let shift = bias - per_channel(mean) * scale.clone();
        let y = B::nn_scale_shift(x32, scale, shift, silu);
        if y.dtype() != dtype { y.cast(dtype) } else { y }
    }
}

/// `x · scale + shift` per (sample, channel), then SiLU when `silu`: the portable default of
/// [`NnBackend::nn_scale_shift`].
///
/// # Shapes
/// - `x`: `[N, C, H, W]`
/// - `scale`, `shift`: `[N, C]` in `x`'s dtype
pub fn scale_shift<B: Backend>(
    x: Tensor<B, 4>,
    scale: Tensor<B, 2>,
    shift: Tensor<B, 2>,
    silu_after: bool,
) -> Tensor<B, 4> {
    let [n, c, _, _] = x.dims();
    let y = x * scale.reshape([n, c, 1, 1]) + shift.reshape([n, c, 1, 1]);
    if silu_after {
        Activation::Silu.forward_portable(y)
    } else {
        y
    }
}

/// Biased variance and mean per (sample, group) of `[N, C, H, W]` as `[N, G, 1]`, through
/// [`NnBackend::nn_group_var_mean`] (default [`group_var_mean_portable`]).
pub fn group_var_mean<B: NnBackend>(x: Tensor<B, 4>, g: usize) -> (Tensor<B, 3>, Tensor<B, 3>) {
    B::nn_group_var_mean(x, g)
}

/// Biased variance and mean per (sample, group) of `[N, C, H, W]` as `[N, G, 1]`, summed in two
/// levels (rows, then the rows' sums): one f32 sum over millions of elements (burn-ndarray's
/// `sum_dim` accumulates sequentially) loses ~1e-4 relative at 1024×2048, two levels keep the
/// statistics at PyTorch's accuracy.
pub fn group_var_mean_portable<B: Backend>(
    x: Tensor<B, 4>,
    g: usize,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [n, c, h, w] = x.dims();
    let count = ((c / g) * h * w) as f32;
    let sum2 = |t: Tensor<B, 4>| t.sum_dim(3).sum_dim(2).reshape([n, g, 1]);
    let x = x.reshape([n, g, (c / g) * h, w]);
    let mean = sum2(x.clone()).div_scalar(count);
    let centred = x - mean.clone().reshape([n, g, 1, 1]);
    let var = sum2(centred.powi_scalar(2)).div_scalar(count);
    (var, mean)
}

/// Host kernels of burn-ndarray's [`NnBackend::nn_group_var_mean`] and
/// [`NnBackend::nn_scale_shift`] on contiguous f32 arrays: parallel over (sample, group) or
/// (sample, channel) blocks (rayon), statistics accumulated in f64 (8 lanes, so they vectorise),
/// the SiLU as `y / (1 + e^(−y))` with [`crate::attention`]'s branch-free `exp`; loops compiled
/// for AVX2 where the CPU has it (`crate::simd`).
#[cfg(feature = "ndarray")]
pub(crate) mod host {
    use rayon::prelude::*;

    use crate::activation::host::silu as host_silu;

    /// Elements below which a block is not worth a task of its own.
    const MIN_TASK: usize = 1 << 15;

    #[inline(always)]
    fn sum_f64(x: &[f32], centre: f64, square: bool) -> f64 {
        let mut acc = [0f64; 8];
        let chunks = x.chunks_exact(8);
        let tail = chunks.remainder();
        let term = |v: f32| {
            let d = f64::from(v) - centre;
            if square { d * d } else { d }
        };
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += term(v);
            }
        }
        acc.iter().sum::<f64>() + tail.iter().map(|&v| term(v)).sum::<f64>()
    }

    /// `(variances, means)` of the `blocks` equal contiguous blocks of `x`.
    pub(crate) fn var_mean(x: &[f32], blocks: usize) -> (Vec<f32>, Vec<f32>) {
        let len = x.len() / blocks.max(1);
        if len == 0 {
            return (vec![f32::NAN; blocks], vec![f32::NAN; blocks]);
        }
        let stats: Vec<(f32, f32)> = x
            .par_chunks(len)
            .with_min_len(MIN_TASK.div_ceil(len))
            .map(|b| {
                crate::simd::with_avx2(|| {
                    let mean = sum_f64(b, 0.0, false) / len as f64;
                    let var = sum_f64(b, mean, true) / len as f64;
                    (var as f32, mean as f32)
                })
            })
            .collect();
        stats.into_iter().unzip()
    }

    /// `x · scale[i] + shift[i]` on the i-th of `scale.len()` equal contiguous blocks of `x`,
    /// then SiLU when `silu`.
    pub(crate) fn scale_shift(x: &[f32], scale: &[f32], shift: &[f32], silu: bool) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        let len = x.len() / scale.len().max(1);
        if len == 0 {
            return out;
        }
        out.par_chunks_mut(len)
            .zip(x.par_chunks(len))
            .zip(scale.par_iter().zip(shift))
            .with_min_len(MIN_TASK.div_ceil(len))
            .for_each(|((o, x), (&a, &b))| {
                crate::simd::with_avx2(|| {
                    if silu {
                        for (o, &v) in o.iter_mut().zip(x) {
                            *o = host_silu(v * a + b);
                        }
                    } else {
                        for (o, &v) in o.iter_mut().zip(x) {
                            *o = v * a + b;
                        }
                    }
                })
            });
        out
    }
}
