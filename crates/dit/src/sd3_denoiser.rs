//! [`Sd3Denoiser`]: an [`Sd3Transformer2DModel`] as ultrares' [`Denoiser`] (flow prediction),
//! with classifier-free guidance as diffusers' `StableDiffusion3Pipeline.__call__` computes it:
//! the negative and positive conditionings in one batch of `2N` (`torch.cat([latents] * 2)`,
//! negative first), `v = v_u + s·(v_c − v_u)` only when `s > 1` (and diffusers' `guidance_rescale`
//! when the conditioning sets one; SD3's pipeline has none, so leave it 0 for parity), the scheduler's timestep
//! (`1000·σ`) passed unchanged.

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ultrares_core::{
    Denoiser, GuidedCond, PredictionType, SizeCond, ViewConditioning, check_finite, guide,
};
use ultrares_nn::NnBackend;

use crate::sd3::Sd3Transformer2DModel;
use crate::{DitError, Result};

/// The text conditioning of one SD3 prompt (`encode_prompt`'s outputs).
#[derive(Debug, Clone)]
pub struct Sd3Cond<B: Backend> {
    /// `encoder_hidden_states`, `[1, 77 + T, 4096]` (repeated per view) or `[N, …]`.
    pub prompt_embeds: Tensor<B, 3>,
    /// `pooled_projections`, `[1, 2048]` or `[N, 2048]`.
    pub pooled_prompt_embeds: Tensor<B, 2>,
}

impl<B: Backend> Sd3Cond<B> {
    /// The conditioning of `prompt_embeds` `[B, S, D]` and `pooled` `[B, P]`.
    ///
    /// # Errors
    /// [`DitError::Input`] for batch sizes that differ; [`DitError::Model`] for non-finite
    /// values.
    pub fn new(prompt_embeds: Tensor<B, 3>, pooled: Tensor<B, 2>) -> Result<Self> {
        let (b, p) = (prompt_embeds.dims()[0], pooled.dims()[0]);
        if b != p {
            return Err(DitError::input(
                "pooled_prompt_embeds",
                format!("[{b}, P] (as many rows as prompt_embeds)"),
                format!("{:?}", pooled.dims()),
            ));
        }
        check_finite(&prompt_embeds, "prompt_embeds")?;
        check_finite(&pooled, "pooled_prompt_embeds")?;
        Ok(Self {
            prompt_embeds,
            pooled_prompt_embeds: pooled,
        })
    }

    fn rows(&self) -> usize {
        self.prompt_embeds.dims()[0]
    }
}

/// `x` with `n` rows: a one-row tensor repeated, any other returned as is.
pub(crate) fn repeat_rows<B: Backend, const D: usize>(x: &Tensor<B, D>, n: usize) -> Tensor<B, D> {
    if x.dims()[0] == 1 && n != 1 {
        x.clone().repeat_dim(0, n)
    } else {
        x.clone()
    }
}

impl<B: Backend> ViewConditioning for Sd3Cond<B> {
    /// One row per view (SD3 has no micro-conditioning).
    fn for_views(&self, views: &[SizeCond]) -> Self {
        let n = views.len();
        Self {
            prompt_embeds: repeat_rows(&self.prompt_embeds, n),
            pooled_prompt_embeds: repeat_rows(&self.pooled_prompt_embeds, n),
        }
    }
}

/// An [`Sd3Transformer2DModel`] as a [`Denoiser`] with [`GuidedCond`]`<`[`Sd3Cond`]`>`.
#[derive(Debug, Clone)]
pub struct Sd3Denoiser<B: Backend> {
    /// The network.
    pub transformer: Sd3Transformer2DModel<B>,
}

impl<B: NnBackend> Sd3Denoiser<B> {
    fn eval(&self, x: Tensor<B, 4>, t: f64, c: &Sd3Cond<B>) -> Result<Tensor<B, 4>> {
        let n = x.dims()[0];
        let ts = Tensor::<B, 1>::from_data(TensorData::new(vec![t as f32; n], [n]), &x.device());
        Ok(self
            .transformer
            .forward(
                x,
                c.prompt_embeds.clone(),
                c.pooled_prompt_embeds.clone(),
                ts,
            )?
            .cast(DType::F32))
    }
}

impl<B: NnBackend> Denoiser<B> for Sd3Denoiser<B> {
    type Cond = GuidedCond<Sd3Cond<B>>;
    type Error = DitError;

    fn prediction_type(&self) -> PredictionType {
        PredictionType::Flow
    }

    fn latent_channels(&self) -> usize {
        self.transformer.in_channels()
    }

    fn predict(
        &self,
        latent: Tensor<B, 4>,
        timestep: f64,
        cond: &Self::Cond,
    ) -> Result<Tensor<B, 4>> {
        let dtype = latent.dtype();
        let n = latent.dims()[0];
        let pos = &cond.positive;
        if pos.rows() != n {
            return Err(DitError::input(
                "cond",
                format!("{n} rows (one per latent: use ViewConditioning::for_views)"),
                pos.rows(),
            ));
        }
        if cond.guidance_scale <= 1.0 {
            return Ok(self.eval(latent, timestep, pos)?.cast(dtype));
        }
        let neg = &cond.negative;
        if neg.rows() != n || neg.prompt_embeds.dims()[1..] != pos.prompt_embeds.dims()[1..] {
            return Err(DitError::input(
                "cond.negative",
                format!(
                    "the positive conditioning's shape {:?}",
                    pos.prompt_embeds.dims()
                ),
                format!("{:?}", neg.prompt_embeds.dims()),
            ));
        }
        let both = Sd3Cond {
            prompt_embeds: Tensor::cat(
                vec![neg.prompt_embeds.clone(), pos.prompt_embeds.clone()],
                0,
            ),
            pooled_prompt_embeds: Tensor::cat(
                vec![
                    neg.pooled_prompt_embeds.clone(),
                    pos.pooled_prompt_embeds.clone(),
                ],
                0,
            ),
        };
        let out = self.eval(
            Tensor::cat(vec![latent.clone(), latent], 0),
            timestep,
            &both,
        )?;
        Ok(guide(out, cond.guidance_scale, cond.guidance_rescale).cast(dtype))
    }
}
