//! `nn.LayerNorm` over the last dimension with statistics in f32 for half-precision inputs, and
//! an optional affine part (`elementwise_affine=False` in SD3's and Flux's AdaLN norms).
//!
//! `y = (x − μ) / √(σ² + ε) · weight + bias` over the last `D` features (Ba et al., *Layer
//! Normalization*, 2016; `torch.nn.LayerNorm`).

use burn::module::Param;
use burn::prelude::*;

use crate::ops::upcast_half;

/// Configuration of [`LayerNorm`].
#[derive(Config, Debug)]
pub struct LayerNormConfig {
    /// Features `D` of the last dimension.
    pub d_model: usize,
    /// ε added to the variance.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Whether the norm has `weight` and `bias` (PyTorch's `elementwise_affine`).
    #[config(default = true)]
    pub affine: bool,
}

impl LayerNormConfig {
    /// A LayerNorm with weight 1 and bias 0.
    pub fn init<B: Backend>(&self, device: &B::Device) -> LayerNorm<B> {
        let affine = |v: f32| {
            self.affine
                .then(|| Param::from_tensor(Tensor::full([self.d_model], v, device)))
        };
        LayerNorm {
            weight: affine(1.0),
            bias: affine(0.0),
            eps: self.epsilon,
        }
    }
}

/// `nn.LayerNorm(D, eps, elementwise_affine)`: state-dict names `weight`, `bias`.
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    /// `[D]` scale, when affine.
    pub weight: Option<Param<Tensor<B, 1>>>,
    /// `[D]` shift, when affine.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// ε added to the variance.
    pub eps: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// Normalises over the last dimension.
    ///
    /// # Shapes
    /// `[…, D] → […, D]`, in `x`'s dtype.
    pub fn forward<const R: usize>(&self, x: Tensor<B, R>) -> Tensor<B, R> {
        let dtype = x.dtype();
        let x = upcast_half(x);
        let (var, mean) = x.clone().var_mean_bias(R - 1);
        let mut y = (x - mean) / (var + self.eps).sqrt();
        let up = |p: &Param<Tensor<B, 1>>, like: &Tensor<B, R>| {
            let p = p.val();
            let p = if p.dtype() == like.dtype() {
                p
            } else {
                p.cast(like.dtype())
            };
            p.unsqueeze::<R>()
        };
        if let Some(w) = &self.weight {
            y = y.clone() * up(w, &y);
        }
        if let Some(b) = &self.bias {
            y = y.clone() + up(b, &y);
        }
        if y.dtype() == dtype { y } else { y.cast(dtype) }
    }
}
