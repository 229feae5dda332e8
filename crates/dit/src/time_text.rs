//! diffusers' `CombinedTimestepTextProjEmbeddings` (SD3) and
//! `CombinedTimestepGuidanceTextProjEmbeddings` (Flux-dev) (`diffusers/models/embeddings.py`):
//! `temb = timestep_embedder(Timesteps256(t)) [+ guidance_embedder(Timesteps256(g))] +
//! text_embedder(pooled)`, with `Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)`
//! in f32 cast to the pooled embedding's dtype, and `text_embedder` = `linear_1` → SiLU →
//! `linear_2` (`PixArtAlphaTextProjection`).

use burn::nn::LinearConfig;
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::activation::Activation;
use ultrares_nn::embedding::{TimestepEmbedding, Timesteps};
use ultrares_nn::ops::cast_to;
use ultrares_nn::weights::Visitor;

/// `time_text_embed`: state-dict names `timestep_embedder.linear_{1,2}`,
/// `guidance_embedder.linear_{1,2}` (Flux-dev), `text_embedder.linear_{1,2}`.
#[derive(Module, Debug)]
pub struct TimeTextEmbed<B: Backend> {
    /// `256 → D → D`.
    pub timestep_embedder: TimestepEmbedding<B>,
    /// `256 → D → D` (guidance-distilled models).
    pub guidance_embedder: Option<TimestepEmbedding<B>>,
    /// `pooled → D → D`.
    pub text_embedder: TimestepEmbedding<B>,
}

fn mlp<B: Backend>(d_in: usize, d: usize, device: &B::Device) -> TimestepEmbedding<B> {
    TimestepEmbedding {
        linear_1: LinearConfig::new(d_in, d).init(device),
        linear_2: LinearConfig::new(d, d).init(device),
        act: Activation::Silu,
    }
}

fn timesteps() -> Timesteps {
    Timesteps::new(256, true).with_downscale_freq_shift(0.0)
}

impl<B: Backend> TimeTextEmbed<B> {
    /// Embeddings of width `dim` from a `pooled_dim` pooled text embedding.
    pub fn new(dim: usize, pooled_dim: usize, guidance: bool, device: &B::Device) -> Self {
        Self {
            timestep_embedder: mlp(256, dim, device),
            guidance_embedder: guidance.then(|| mlp(256, dim, device)),
            text_embedder: mlp(pooled_dim, dim, device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        let mut mlp = |name: &str, m: &mut TimestepEmbedding<B>| {
            v.linear(&format!("{prefix}.{name}.linear_1"), &mut m.linear_1);
            v.linear(&format!("{prefix}.{name}.linear_2"), &mut m.linear_2);
        };
        mlp("timestep_embedder", &mut self.timestep_embedder);
        if let Some(g) = self.guidance_embedder.as_mut() {
            mlp("guidance_embedder", g);
        }
        mlp("text_embedder", &mut self.text_embedder);
    }
}

impl<B: NnBackend> TimeTextEmbed<B> {
    /// `temb`.
    ///
    /// # Shapes
    /// - `timestep`, `guidance`: `[N]` in the units the embedder sees (SD3: `1000·σ`; Flux:
    ///   already ×1000, see [`crate::FluxTransformer2DModel::forward`])
    /// - `pooled`: `[N, pooled_dim]`
    /// - output: `[N, D]` in `pooled`'s dtype
    pub fn forward(
        &self,
        timestep: Tensor<B, 1>,
        guidance: Option<Tensor<B, 1>>,
        pooled: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let dtype = pooled.dtype();
        let embed = |m: &TimestepEmbedding<B>, t: Tensor<B, 1>| {
            m.forward(cast_to(timesteps().forward(t), dtype))
        };
        let mut temb = embed(&self.timestep_embedder, timestep);
        if let (Some(m), Some(g)) = (&self.guidance_embedder, guidance) {
            temb = temb + embed(m, g);
        }
        temb + self.text_embedder.forward(pooled)
    }
}
