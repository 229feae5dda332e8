//! Root-mean-square norm (Zhang & Sennrich, 2019) as T5 (`T5LayerNorm`, transformers) and
//! diffusers (`RMSNorm`, the qk-norm of SD3.5 and Flux) compute it: the mean square in f32,
//! `x / √(mean(x²) + ε)`, then — for a half-precision weight — the cast to the weight's dtype
//! *before* the multiplication, as both upstream implementations do.

use burn::module::Param;
use burn::prelude::*;

use crate::ops::upcast_half;

/// Configuration of [`RmsNorm`].
#[derive(Config, Debug)]
pub struct RmsNormConfig {
    /// Features `D` of the last dimension.
    pub d_model: usize,
    /// ε added to the mean square.
    #[config(default = 1e-6)]
    pub epsilon: f64,
    /// Whether the norm has a `weight` (diffusers' `elementwise_affine`; T5's always has).
    #[config(default = true)]
    pub affine: bool,
}

impl RmsNormConfig {
    /// An RMSNorm with weight 1.
    pub fn init<B: Backend>(&self, device: &B::Device) -> RmsNorm<B> {
        RmsNorm {
            weight: self
                .affine
                .then(|| Param::from_tensor(Tensor::ones([self.d_model], device))),
            eps: self.epsilon,
        }
    }
}

/// RMSNorm: state-dict name `weight`.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[D]` scale, when affine.
    pub weight: Option<Param<Tensor<B, 1>>>,
    /// ε added to the mean square.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// Normalises over the last dimension.
    ///
    /// # Shapes
    /// `[…, D] → […, D]`: in the weight's dtype when the weight is half precision, else in
    /// `x`'s dtype.
    pub fn forward<const R: usize>(&self, x: Tensor<B, R>) -> Tensor<B, R> {
        let dtype = x.dtype();
        let x = upcast_half(x);
        let ms = x.clone().powi_scalar(2).mean_dim(R - 1);
        let y = x / (ms + self.eps).sqrt();
        match &self.weight {
            Some(w) => {
                let w = w.val();
                let wd = w.dtype();
                let out = if matches!(wd, burn::tensor::DType::F16 | burn::tensor::DType::BF16) {
                    wd
                } else {
                    dtype
                };
                let y = if y.dtype() == out { y } else { y.cast(out) };
                let w = if wd == out { w } else { w.cast(out) };
                y * w.unsqueeze::<R>()
            }
            None => {
                if y.dtype() == dtype {
                    y
                } else {
                    y.cast(dtype)
                }
            }
        }
    }
}
