//! [`FluxDenoiser`]: a [`FluxTransformer2DModel`] as ultrares' [`Denoiser`] (flow prediction) on
//! unpacked latents, as diffusers' `FluxPipeline.__call__` runs it: the latent packed
//! ([`pack_latents`]) with ids `[0, row, col]`, the scheduler's timestep divided by 1000, the
//! distilled guidance scale as an embedding (`guidance_embeds`, FLUX.1-dev) instead of
//! classifier-free guidance, and the prediction unpacked.

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ultrares_core::{Denoiser, PredictionType, SizeCond, ViewConditioning, check_finite};
use ultrares_nn::NnBackend;

use crate::flux::FluxTransformer2DModel;
use crate::pack::{latent_image_ids, pack_latents, unpack_latents};
use crate::sd3_denoiser::repeat_rows;
use crate::{DitError, Result};

/// The conditioning of one Flux prompt (`encode_prompt`'s outputs) and the guidance scale.
#[derive(Debug, Clone)]
pub struct FluxCond<B: Backend> {
    /// `encoder_hidden_states` (T5), `[1, T, 4096]` (repeated per view) or `[N, T, 4096]`.
    pub prompt_embeds: Tensor<B, 3>,
    /// `pooled_projections` (CLIP-L), `[1, 768]` or `[N, 768]`.
    pub pooled_prompt_embeds: Tensor<B, 2>,
    /// `txt_ids`, `[T, 3]` (zeros).
    pub text_ids: Tensor<B, 2>,
    /// The distilled guidance scale (FLUX.1-dev: 3.5 by default); ignored by models without
    /// `guidance_embeds` (schnell), as diffusers ignores it.
    pub guidance_scale: f64,
}

impl<B: Backend> FluxCond<B> {
    /// The conditioning of `prompt_embeds` `[B, T, D]`, `pooled` `[B, P]` and `text_ids`
    /// `[T, 3]`.
    ///
    /// # Errors
    /// [`DitError::Input`] for sizes that do not match; [`DitError::Model`] for non-finite
    /// values.
    pub fn new(
        prompt_embeds: Tensor<B, 3>,
        pooled: Tensor<B, 2>,
        text_ids: Tensor<B, 2>,
        guidance_scale: f64,
    ) -> Result<Self> {
        let [b, t, _] = prompt_embeds.dims();
        if pooled.dims()[0] != b {
            return Err(DitError::input(
                "pooled_prompt_embeds",
                format!("[{b}, P] (as many rows as prompt_embeds)"),
                format!("{:?}", pooled.dims()),
            ));
        }
        if text_ids.dims()[0] != t {
            return Err(DitError::input(
                "text_ids",
                format!("[{t}, 3] (one row per text token)"),
                format!("{:?}", text_ids.dims()),
            ));
        }
        if !guidance_scale.is_finite() {
            return Err(DitError::input(
                "guidance_scale",
                "a finite number",
                guidance_scale,
            ));
        }
        check_finite(&prompt_embeds, "prompt_embeds")?;
        check_finite(&pooled, "pooled_prompt_embeds")?;
        Ok(Self {
            prompt_embeds,
            pooled_prompt_embeds: pooled,
            text_ids,
            guidance_scale,
        })
    }
}

impl<B: Backend> ViewConditioning for FluxCond<B> {
    /// One row per view (Flux has no micro-conditioning).
    fn for_views(&self, views: &[SizeCond]) -> Self {
        let n = views.len();
        Self {
            prompt_embeds: repeat_rows(&self.prompt_embeds, n),
            pooled_prompt_embeds: repeat_rows(&self.pooled_prompt_embeds, n),
            ..self.clone()
        }
    }
}

/// A [`FluxTransformer2DModel`] as a [`Denoiser`] over `[N, C, h, w]` latents.
#[derive(Debug, Clone)]
pub struct FluxDenoiser<B: Backend> {
    /// The network.
    pub transformer: FluxTransformer2DModel<B>,
}

impl<B: NnBackend> Denoiser<B> for FluxDenoiser<B> {
    type Cond = FluxCond<B>;
    type Error = DitError;

    fn prediction_type(&self) -> PredictionType {
        PredictionType::Flow
    }

    fn latent_channels(&self) -> usize {
        self.transformer.in_channels() / 4
    }

    fn predict(
        &self,
        latent: Tensor<B, 4>,
        timestep: f64,
        cond: &FluxCond<B>,
    ) -> Result<Tensor<B, 4>> {
        let dtype = latent.dtype();
        let [n, _, h, w] = latent.dims();
        let rows = cond.prompt_embeds.dims()[0];
        if rows != n {
            return Err(DitError::input(
                "cond",
                format!("{n} rows (one per latent: use ViewConditioning::for_views)"),
                rows,
            ));
        }
        let device = latent.device();
        let packed = pack_latents(latent)?;
        let ts = TensorData::new(vec![timestep as f32 / 1000.0; n], [n]);
        let guidance = self.transformer.guidance_embeds().then(|| {
            Tensor::from_data(
                TensorData::new(vec![cond.guidance_scale as f32; n], [n]),
                &device,
            )
        });
        let out = self.transformer.forward(
            packed,
            cond.prompt_embeds.clone(),
            cond.pooled_prompt_embeds.clone(),
            Tensor::from_data(ts, &device),
            latent_image_ids(h / 2, w / 2, &device),
            cond.text_ids.clone(),
            guidance,
        )?;
        Ok(unpack_latents(out.cast(DType::F32), h, w)?.cast(dtype))
    }
}
