//! Activations of the diffusion and text networks, each as its upstream formula
//! (`diffusers/models/activations.py`, `transformers/activations.py`).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;

use crate::NnBackend;

/// SiLU (swish): `x · σ(x)`, through [`NnBackend::nn_activation`] (portable formula:
/// [`Activation::forward_portable`]).
pub fn silu<B: NnBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    B::nn_activation(x, Activation::Silu)
}

/// Exact GELU: `x · Φ(x) = x/2 · (1 + erf(x/√2))` (`nn.GELU()`, `approximate="none"`).
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    activation::gelu(x)
}

/// GELU, tanh approximation: `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`
/// (`nn.GELU(approximate="tanh")`, transformers' `gelu_new` / `gelu_pytorch_tanh`, T5's
/// gated-GELU), through [`NnBackend::nn_activation`].
pub fn gelu_tanh<B: NnBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    B::nn_activation(x, Activation::GeluTanh)
}

/// Quick GELU: `x · σ(1.702 x)` (CLIP ViT-L/14's `quick_gelu`), through
/// [`NnBackend::nn_activation`].
pub fn quick_gelu<B: NnBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    B::nn_activation(x, Activation::QuickGelu)
}

/// An activation named as in upstream configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `silu` / `swish`.
    Silu,
    /// `gelu` (exact).
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu-approximate`.
    GeluTanh,
    /// `quick_gelu`.
    QuickGelu,
}

impl Activation {
    /// The activation a config names (`hidden_act`, `act_fn`), or `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "silu" | "swish" => Self::Silu,
            "gelu" => Self::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu-approximate" | "gelu_tanh" => Self::GeluTanh,
            "quick_gelu" => Self::QuickGelu,
            _ => return None,
        })
    }

    /// Applies the activation through [`NnBackend::nn_activation`].
    pub fn forward<B: NnBackend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        B::nn_activation(x, self)
    }

    /// Applies the activation with tensor ops (the default of [`NnBackend::nn_activation`]):
    /// SiLU as `x / (1 + e^(−x))` (four elementwise passes where Burn's `activation::silu`,
    /// `x · exp(−log(1 + e^(−x)))`, makes seven), exact GELU as Burn's, the tanh GELU and quick
    /// GELU as their formulas.
    pub fn forward_portable<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Self::Silu => x.clone() / (x.neg().exp() + 1.0),
            Self::Gelu => gelu(x),
            Self::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let inner =
                    (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715)).mul_scalar(c);
                x.mul_scalar(0.5) * (inner.tanh() + 1.0)
            }
            Self::QuickGelu => x.clone() * activation::sigmoid(x.mul_scalar(1.702)),
        }
    }
}

/// diffusers' `GEGLU`: `proj` maps `D_in → 2·D_out`; the first half times the exact GELU of the
/// second (Shazeer, *GLU Variants Improve Transformer*, 2020). State-dict name `proj`.
#[derive(Module, Debug)]
pub struct Geglu<B: Backend> {
    /// `D_in → 2·D_out`.
    pub proj: Linear<B>,
}

/// Configuration of [`Geglu`].
#[derive(Config, Debug)]
pub struct GegluConfig {
    /// Input features.
    pub dim_in: usize,
    /// Output features.
    pub dim_out: usize,
}

impl GegluConfig {
    /// A GEGLU `dim_in → dim_out` with Burn's default initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Geglu<B> {
        Geglu {
            proj: LinearConfig::new(self.dim_in, 2 * self.dim_out).init(device),
        }
    }
}

impl<B: crate::NnBackend> Geglu<B> {
    /// # Shapes
    /// `[…, D_in] → […, D_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let h = crate::linear::linear(&self.proj, x);
        let d = h.dims()[D - 1] / 2;
        let gate = h.clone().narrow(D - 1, d, d);
        h.narrow(D - 1, 0, d) * gelu(gate)
    }
}

/// Host kernels of burn-ndarray's [`NnBackend::nn_activation`]: SiLU, quick GELU and the tanh
/// GELU all as `x / (1 + e^(−g(x)))` — the tanh GELU because `(1 + tanh u)/2 = σ(2u)` — with
/// `crate::attention`'s branch-free `exp` in parallel blocks compiled for AVX2 where the CPU has
/// it. No `tanh`/`powf` calls (libm, per element: 16 % of an SD3 forward before).
#[cfg(feature = "ndarray")]
pub(crate) mod host {
    use rayon::prelude::*;

    use super::Activation;
    use crate::attention::exp_approx;

    /// `y · σ(y)`.
    #[inline(always)]
    pub(crate) fn silu(y: f32) -> f32 {
        y / (1.0 + exp_approx(-y))
    }

    #[inline(always)]
    fn map(o: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32) {
        for (o, &v) in o.iter_mut().zip(x) {
            *o = f(v);
        }
    }

    /// The activation of every element, or `None` for one without a host kernel (exact GELU).
    pub(crate) fn apply(x: &[f32], act: Activation) -> Option<Vec<f32>> {
        const C2: f32 = 2.0 * 0.797_884_6; // 2·√(2/π)
        if act == Activation::Gelu {
            return None;
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(1 << 15)
            .zip(x.par_chunks(1 << 15))
            .for_each(|(o, x)| {
                crate::simd::with_avx2(|| match act {
                    Activation::Silu => map(o, x, silu),
                    Activation::QuickGelu => map(o, x, |v| v / (1.0 + exp_approx(-1.702 * v))),
                    Activation::GeluTanh | Activation::Gelu => map(o, x, |v| {
                        v / (1.0 + exp_approx(-C2 * (v + 0.044715 * v * v * v)))
                    }),
                })
            });
        Some(out)
    }
}
