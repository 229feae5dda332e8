//! diffusers' timestep embeddings (`diffusers/models/embeddings.py`): the sinusoidal
//! `get_timestep_embedding`, the `Timesteps` module around it, and `TimestepEmbedding`
//! (`linear_1` → SiLU → `linear_2`) that UNets and DiTs put behind it.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use crate::activation::Activation;

/// `get_timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift, scale,
/// max_period)`: frequencies `exp(−ln(max_period) · i / (dim/2 − shift))`, `i < dim/2`, computed
/// in f32 on the host as PyTorch does on its device; `[sin(s·t·f), cos(s·t·f)]` (swapped when
/// `flip_sin_to_cos`), a zero column appended for odd `dim`.
///
/// # Shapes
/// `timesteps`: `[N]` (f32) → `[N, dim]` in f32.
pub fn timestep_embedding<B: Backend>(
    timesteps: Tensor<B, 1>,
    dim: usize,
    flip_sin_to_cos: bool,
    downscale_freq_shift: f64,
    scale: f64,
    max_period: f64,
) -> Tensor<B, 2> {
    let n = timesteps.dims()[0];
    let half = dim / 2;
    let device = timesteps.device();
    let log_period = -(max_period.ln() as f32);
    let denom = (half as f64 - downscale_freq_shift) as f32;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (log_period * i as f32 / denom).exp())
        .collect();
    let freqs = Tensor::<B, 1>::from_floats(freqs.as_slice(), &device).reshape([1, half]);
    let t = timesteps.cast(burn::tensor::DType::F32).reshape([n, 1]);
    let args = (t * freqs).mul_scalar(scale);
    let (sin, cos) = (args.clone().sin(), args.cos());
    let emb = if flip_sin_to_cos {
        Tensor::cat(vec![cos, sin], 1)
    } else {
        Tensor::cat(vec![sin, cos], 1)
    };
    if dim % 2 == 1 {
        Tensor::cat(vec![emb, Tensor::zeros([n, 1], &device)], 1)
    } else {
        emb
    }
}

/// diffusers' `Timesteps(num_channels, flip_sin_to_cos, downscale_freq_shift, scale=1)`.
#[derive(Config, Debug)]
pub struct Timesteps {
    /// Embedding width.
    pub num_channels: usize,
    /// Cosines first (SD/SDXL UNets: true).
    pub flip_sin_to_cos: bool,
    /// `downscale_freq_shift` (UNets' `freq_shift`: 0; the default 1).
    #[config(default = 1.0)]
    pub downscale_freq_shift: f64,
    /// Multiplier of the arguments.
    #[config(default = 1.0)]
    pub scale: f64,
    /// Longest period.
    #[config(default = 10000.0)]
    pub max_period: f64,
}

impl Timesteps {
    /// # Shapes
    /// `[N] → [N, num_channels]`, f32.
    pub fn forward<B: Backend>(&self, timesteps: Tensor<B, 1>) -> Tensor<B, 2> {
        timestep_embedding(
            timesteps,
            self.num_channels,
            self.flip_sin_to_cos,
            self.downscale_freq_shift,
            self.scale,
            self.max_period,
        )
    }
}

/// Configuration of [`TimestepEmbedding`].
#[derive(Config, Debug)]
pub struct TimestepEmbeddingConfig {
    /// Input width (`in_channels`).
    pub in_channels: usize,
    /// Hidden and default output width (`time_embed_dim`).
    pub time_embed_dim: usize,
    /// Output width when it differs (`out_dim`).
    #[config(default = "None")]
    pub out_dim: Option<usize>,
    /// `act_fn` (diffusers' default `silu`).
    #[config(default = "String::from(\"silu\")")]
    pub act_fn: String,
}

impl TimestepEmbeddingConfig {
    /// The module, or `None` if `act_fn` names no known activation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Option<TimestepEmbedding<B>> {
        let out = self.out_dim.unwrap_or(self.time_embed_dim);
        Some(TimestepEmbedding {
            linear_1: LinearConfig::new(self.in_channels, self.time_embed_dim).init(device),
            linear_2: LinearConfig::new(self.time_embed_dim, out).init(device),
            act: Activation::from_name(&self.act_fn)?,
        })
    }
}

/// diffusers' `TimestepEmbedding`: `linear_2(act(linear_1(x)))`.
#[derive(Module, Debug)]
pub struct TimestepEmbedding<B: Backend> {
    /// `in_channels → time_embed_dim`.
    pub linear_1: Linear<B>,
    /// `time_embed_dim → out_dim`.
    pub linear_2: Linear<B>,
    /// The activation between them.
    #[module(skip)]
    pub act: Activation,
}

impl<B: crate::NnBackend> TimestepEmbedding<B> {
    /// # Shapes
    /// `[N, in_channels] → [N, out_dim]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        use crate::linear::linear;
        linear(&self.linear_2, self.act.forward(linear(&self.linear_1, x)))
    }
}
