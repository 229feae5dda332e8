//! The [`Denoiser`] trait: a noise-prediction network such as a UNet or DiT.

use burn::prelude::*;

/// What a [`Denoiser`] predicts, in diffusers' terms (`scheduler_config.json` `prediction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PredictionType {
    /// The added noise ε (SD 1.5, SDXL, DDGAN-free DDPM models).
    #[default]
    Epsilon,
    /// The velocity `v = √ᾱ·ε − √(1−ᾱ)·x₀` (SD 2.x 768-v).
    VPrediction,
    /// The clean sample x₀ (WaveDiff's DDGAN generator).
    Sample,
    /// The flow-matching velocity `ε − x₀` (SD3, Flux).
    Flow,
}

impl PredictionType {
    /// diffusers' spelling: `epsilon`, `v_prediction`, `sample`, `flow_prediction`.
    pub fn as_diffusers_str(self) -> &'static str {
        match self {
            Self::Epsilon => "epsilon",
            Self::VPrediction => "v_prediction",
            Self::Sample => "sample",
            Self::Flow => "flow_prediction",
        }
    }
}

/// A network that predicts noise (or x₀, v, flow — see [`PredictionType`]) from a noisy latent.
///
/// Pipelines call [`Denoiser::predict`] once per step and per view batch; classifier-free
/// guidance, if any, is the implementation's business and is configured through `Cond`.
pub trait Denoiser<B: Backend> {
    /// Conditioning: text embeddings, pooled embeddings, SDXL micro-conditioning, guidance scale…
    type Cond;
    /// The implementation's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// What [`Denoiser::predict`] returns.
    fn prediction_type(&self) -> PredictionType;

    /// Latent channels `C` the network expects (4 for SD 1.5/SDXL, 16 for SD3/Flux).
    fn latent_channels(&self) -> usize;

    /// The prediction for `latent` (`[N, C, h, w]`, model-space latent already scaled by the
    /// scheduler's `scale_model_input`) at `timestep` (in the scheduler's units: 0…999 for
    /// discrete DDPM-family schedules, σ·1000 or t ∈ [0, 1] for flow models, as the scheduler
    /// passes it). Returns a tensor of the same shape as `latent`.
    ///
    /// `h, w` may be any size the network supports (DemoFusion feeds 128×128 views of larger
    /// latents); `N` may be a batch of views sharing `cond`.
    fn predict(
        &self,
        latent: Tensor<B, 4>,
        timestep: f64,
        cond: &Self::Cond,
    ) -> Result<Tensor<B, 4>, Self::Error>;
}
