//! [`UnetDenoiser`]: a [`UNet2DConditionModel`] as ultrares' [`Denoiser`], with classifier-free
//! guidance computed as diffusers' SD/SDXL pipelines do (`pipeline_stable_diffusion_xl.py`
//! `__call__`): the negative and positive conditionings in one batch of `2N`
//! (`torch.cat([latents] * 2)`), `ε = ε_u + s·(ε_c − ε_u)`, optionally rescaled, only when
//! `s > 1`.

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ultrares_core::{
    Denoiser, GuidedCond, PredictionType, SizeCond, ViewConditioning, check_finite, guide,
};
use ultrares_nn::NnBackend;

use crate::unet::{AddedCond, UNet2DConditionModel};
use crate::{Result, UnetError};

/// The text conditioning of one prompt: the UNet's `encoder_hidden_states`, SDXL's pooled
/// `text_embeds`, and the micro-conditioning ids that [`ViewConditioning::for_views`] sets per
/// latent from the pipeline's [`SizeCond`]s.
#[derive(Debug, Clone)]
pub struct TextCond<B: Backend> {
    /// `[1, S, D]` (repeated per view) or `[N, S, D]`.
    pub encoder_hidden_states: Tensor<B, 3>,
    /// `[1, P]` or `[N, P]` (SDXL), or `None` (SD 1.x/2.x).
    pub text_embeds: Option<Tensor<B, 2>>,
    /// `[N, K]` time ids; `None` until [`ViewConditioning::for_views`] sets them (SDXL then
    /// needs them).
    pub time_ids: Option<Tensor<B, 2>>,
    /// The SDXL refiner's aesthetic score: time ids become `[orig_h, orig_w, crop_top,
    /// crop_left, score]` (diffusers' `requires_aesthetics_score`; 6.0 positive, 2.5 negative).
    pub aesthetic_score: Option<f64>,
}

impl<B: Backend> TextCond<B> {
    /// SDXL's conditioning from `prompt_embeds` `[B, S, D]` and `pooled_prompt_embeds` `[B, P]`.
    ///
    /// # Errors
    /// [`UnetError::Input`] for batch sizes that differ or non-finite values.
    pub fn sdxl(prompt_embeds: Tensor<B, 3>, pooled: Tensor<B, 2>) -> Result<Self> {
        let (b, p) = (prompt_embeds.dims()[0], pooled.dims()[0]);
        if b != p {
            return Err(UnetError::input(
                "pooled_prompt_embeds",
                format!("[{b}, P] (as many rows as prompt_embeds)"),
                pooled.dims(),
            ));
        }
        check_finite(&pooled, "pooled_prompt_embeds")?;
        Ok(Self {
            text_embeds: Some(pooled),
            ..Self::text(prompt_embeds)?
        })
    }

    /// SD 1.x/2.x conditioning: text states only.
    ///
    /// # Errors
    /// [`UnetError::Input`] for non-finite values.
    pub fn text(prompt_embeds: Tensor<B, 3>) -> Result<Self> {
        check_finite(&prompt_embeds, "prompt_embeds")?;
        Ok(Self {
            encoder_hidden_states: prompt_embeds,
            text_embeds: None,
            time_ids: None,
            aesthetic_score: None,
        })
    }

    /// The same conditioning with the refiner's aesthetic score.
    pub fn with_aesthetic_score(self, score: f64) -> Self {
        Self {
            aesthetic_score: Some(score),
            ..self
        }
    }

    fn rows(&self) -> usize {
        self.encoder_hidden_states.dims()[0]
    }
}

fn repeat_rows<B: Backend, const D: usize>(x: &Tensor<B, D>, n: usize) -> Tensor<B, D> {
    if x.dims()[0] == 1 && n != 1 {
        x.clone().repeat_dim(0, n)
    } else {
        x.clone()
    }
}

impl<B: Backend> ViewConditioning for TextCond<B> {
    /// Repeats a one-prompt conditioning to `views.len()` rows and sets the time ids from the
    /// views (`[orig, crop, target]`, or `[orig, crop, aesthetic_score]` for the refiner).
    fn for_views(&self, views: &[SizeCond]) -> Self {
        let n = views.len();
        let device = self.encoder_hidden_states.device();
        let time_ids = self.text_embeds.as_ref().map(|_| {
            let rows: Vec<f32> = views
                .iter()
                .flat_map(|v| {
                    let ids = v.time_ids();
                    match self.aesthetic_score {
                        Some(s) => ids[..4]
                            .iter()
                            .copied()
                            .chain([s as f32])
                            .collect::<Vec<_>>(),
                        None => ids.to_vec(),
                    }
                })
                .collect();
            let k = rows.len() / n.max(1);
            Tensor::from_data(TensorData::new(rows, [n, k]), &device)
        });
        Self {
            encoder_hidden_states: repeat_rows(&self.encoder_hidden_states, n),
            text_embeds: self.text_embeds.as_ref().map(|t| repeat_rows(t, n)),
            time_ids,
            aesthetic_score: self.aesthetic_score,
        }
    }
}

/// A [`UNet2DConditionModel`] as a [`Denoiser`] with [`GuidedCond`]`<`[`TextCond`]`>`.
#[derive(Debug, Clone)]
pub struct UnetDenoiser<B: Backend> {
    /// The network.
    pub unet: UNet2DConditionModel<B>,
    /// What it predicts (`prediction_type` of `scheduler_config.json`: `epsilon` for SD 1.5 and
    /// SDXL, `v_prediction` for SD 2.x 768).
    pub prediction_type: PredictionType,
}

impl<B: NnBackend> UnetDenoiser<B> {
    /// The UNet's prediction for one batch (no guidance), in `f32`.
    fn eval(&self, x: Tensor<B, 4>, t: f64, c: &TextCond<B>) -> Result<Tensor<B, 4>> {
        let device = x.device();
        let added = match (&c.text_embeds, &c.time_ids) {
            (Some(te), Some(ids)) => Some(AddedCond {
                text_embeds: te.clone(),
                time_ids: ids.clone(),
            }),
            (Some(_), None) => {
                return Err(UnetError::input(
                    "cond.time_ids",
                    "SDXL time ids (call ViewConditioning::for_views with the latents' sizes)",
                    "none",
                ));
            }
            _ => None,
        };
        let ts = Tensor::<B, 1>::from_data(TensorData::new(vec![t as f32], [1]), &device);
        Ok(self
            .unet
            .forward(x, ts, c.encoder_hidden_states.clone(), added)?
            .cast(DType::F32))
    }
}

fn cat_opt<B: Backend, const D: usize>(
    a: &Option<Tensor<B, D>>,
    b: &Option<Tensor<B, D>>,
) -> Option<Tensor<B, D>> {
    Some(Tensor::cat(vec![a.clone()?, b.clone()?], 0))
}

impl<B: NnBackend> Denoiser<B> for UnetDenoiser<B> {
    type Cond = GuidedCond<TextCond<B>>;
    type Error = UnetError;

    fn prediction_type(&self) -> PredictionType {
        self.prediction_type
    }

    fn latent_channels(&self) -> usize {
        self.unet.in_channels()
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
            return Err(UnetError::input(
                "cond",
                format!("{n} rows (one per latent: use ViewConditioning::for_views)"),
                pos.rows(),
            ));
        }
        if cond.guidance_scale <= 1.0 {
            return Ok(self.eval(latent, timestep, pos)?.cast(dtype));
        }
        let neg = &cond.negative;
        if neg.rows() != n
            || neg.encoder_hidden_states.dims()[1..] != pos.encoder_hidden_states.dims()[1..]
        {
            return Err(UnetError::input(
                "cond.negative",
                format!(
                    "the positive conditioning's shape {:?}",
                    pos.encoder_hidden_states.dims()
                ),
                neg.encoder_hidden_states.dims(),
            ));
        }
        let both = TextCond {
            encoder_hidden_states: Tensor::cat(
                vec![
                    neg.encoder_hidden_states.clone(),
                    pos.encoder_hidden_states.clone(),
                ],
                0,
            ),
            text_embeds: cat_opt(&neg.text_embeds, &pos.text_embeds),
            time_ids: cat_opt(&neg.time_ids, &pos.time_ids),
            aesthetic_score: None,
        };
        let x = Tensor::cat(vec![latent.clone(), latent], 0);
        let guided = guide(
            self.eval(x, timestep, &both)?,
            cond.guidance_scale,
            cond.guidance_rescale,
        );
        Ok(guided.cast(dtype))
    }
}
