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

/// Exact GELU: `x · Φ(x) = x/2 · (1 + erf(x/√2))` (`nn.GELU()`, `approximate="none"`), Burn's
/// portable formula; `Activation::Gelu.forward` goes through [`NnBackend::nn_activation`].
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
        B::nn_glu(crate::linear::linear(&self.proj, x), Activation::Gelu)
    }
}

/// Host kernels of burn-ndarray's [`NnBackend::nn_activation`]: SiLU, quick GELU and the tanh
/// GELU all as `x / (1 + e^(−g(x)))` — the tanh GELU because `(1 + tanh u)/2 = σ(2u)` — with
/// `crate::attention`'s branch-free `exp`; the exact GELU through an f64 polynomial `erf`
/// ([`host::gelu_exact`]). Parallel blocks compiled for AVX2 where the CPU has it; no libm
/// `tanh`/`powf`/`erf` calls (per element: 16 % of an SD3 forward, and 11 ms per 1.3 M elements of
/// the SDXL UNet's GEGLU, before).
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

    // `tools/fit/erf_poly.py` prints these: erf(t) = t·P(u), u = 2t²/T² − 1, for |t| ≤ T.
    const ERF_T: f64 = 4.5;
    const ERF_P: [f64; 21] = [
        0.3142675449803001,
        -0.15711116560263344,
        0.11771893532218733,
        -0.09771307810837962,
        0.08452140470257469,
        -0.07408557878984917,
        0.06457101574169105,
        -0.05516728561754383,
        0.04559701035372017,
        -0.03595781787868116,
        0.027253912145307913,
        -0.02036480953808814,
        0.01386304924936251,
        -0.007492997641577828,
        0.004733951500218777,
        -0.004734335273402837,
        0.0025305739965520444,
        0.00021716711746276162,
        -5.511883312212703e-05,
        -0.0006685709985857313,
        0.00029841545207145396,
    ];

    /// Exact GELU `x/2 · (1 + erf(x/√2))` evaluated in f64 and rounded once. `erf` is the
    /// polynomial above with `t` clamped to `[−T, T]`: within 4.6e-10 of `erf` everywhere, so the
    /// result is within `2.3e-10·|x|` (plus the final rounding) of the true GELU — closer than
    /// f32 evaluations of the formula, PyTorch's included (`1 + erf` in f32 alone errs by up to
    /// `3e-8`). Branch-free and vectorisable: 20 f64 multiply-adds per element.
    #[inline(always)]
    pub(crate) fn gelu_exact(v: f32) -> f32 {
        let x = f64::from(v);
        let t = (x * std::f64::consts::FRAC_1_SQRT_2).clamp(-ERF_T, ERF_T);
        let u = t * t * (2.0 / (ERF_T * ERF_T)) - 1.0;
        // Four Horner chains in u⁴ (coefficients k, k + 4, …) instead of one in u: a quarter of
        // the dependency chain's latency, the same rounding (|u| ≤ 1, |coefficients| < 0.32).
        let (u2, u4) = (u * u, u * u * u * u);
        let chain = |k: usize| {
            ERF_P[k..]
                .iter()
                .step_by(4)
                .rev()
                .fold(0.0, |p, &c| p * u4 + c)
        };
        let p = (chain(0) + u * chain(1)) + u2 * (chain(2) + u * chain(3));
        (0.5 * x * (1.0 + t * p)) as f32
    }

    #[inline(always)]
    fn map(o: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32) {
        for (o, &v) in o.iter_mut().zip(x) {
            *o = f(v);
        }
    }

    /// The activation `act` of one element.
    #[inline(always)]
    fn one(act: Activation, v: f32) -> f32 {
        const C2: f32 = 2.0 * 0.797_884_6; // 2·√(2/π)
        match act {
            Activation::Silu => silu(v),
            Activation::QuickGelu => v / (1.0 + exp_approx(-1.702 * v)),
            Activation::GeluTanh => v / (1.0 + exp_approx(-C2 * (v + 0.044715 * v * v * v))),
            Activation::Gelu => gelu_exact(v),
        }
    }

    /// The activation of every element.
    pub(crate) fn apply(x: &[f32], act: Activation) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(1 << 15)
            .zip(x.par_chunks(1 << 15))
            .for_each(|(o, x)| {
                crate::simd::with_avx2(|| match act {
                    Activation::Silu => map(o, x, |v| one(Activation::Silu, v)),
                    Activation::QuickGelu => map(o, x, |v| one(Activation::QuickGelu, v)),
                    Activation::GeluTanh => map(o, x, |v| one(Activation::GeluTanh, v)),
                    Activation::Gelu => map(o, x, |v| one(Activation::Gelu, v)),
                })
            });
        out
    }

    /// A gated activation over rows of `2d` (`h` `[rows, 2d]` row-major): `h[:, :d] ·
    /// act(h[:, d:])`, `[rows, d]` — diffusers' `GEGLU` after its projection, in one pass.
    pub(crate) fn glu(h: &[f32], d: usize, act: Activation) -> Vec<f32> {
        let rows = h.len() / (2 * d).max(1);
        let mut out = vec![0f32; rows * d];
        let per = ((1 << 15) / d.max(1)).max(1);
        out.par_chunks_mut(per * d)
            .zip(h.par_chunks(per * 2 * d))
            .for_each(|(o, h)| {
                crate::simd::with_avx2(|| match act {
                    Activation::Silu => glu_rows(o, h, d, |v| one(Activation::Silu, v)),
                    Activation::QuickGelu => glu_rows(o, h, d, |v| one(Activation::QuickGelu, v)),
                    Activation::GeluTanh => glu_rows(o, h, d, |v| one(Activation::GeluTanh, v)),
                    Activation::Gelu => glu_rows(o, h, d, |v| one(Activation::Gelu, v)),
                })
            });
        out
    }

    #[inline(always)]
    fn glu_rows(o: &mut [f32], h: &[f32], d: usize, f: impl Fn(f32) -> f32) {
        for (o, h) in o.chunks_exact_mut(d).zip(h.chunks_exact(2 * d)) {
            let (a, g) = h.split_at(d);
            for ((o, &a), &g) in o.iter_mut().zip(a).zip(g) {
                *o = a * f(g);
            }
        }
    }
}
