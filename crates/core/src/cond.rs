//! Conditioning the pipelines pass through a [`Denoiser`]: SDXL micro-conditioning per view and
//! classifier-free guidance.

use crate::{Denoiser, PredictionType};
use burn::prelude::*;

/// SDXL's micro-conditioning of one latent in a batch, in pixels (`time_ids = [orig_h, orig_w,
/// crop_top, crop_left, tgt_h, tgt_w]`, SDXL report §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SizeCond {
    /// `(height, width)` the image is said to have been before cropping.
    pub original_size: [usize; 2],
    /// `(top, left)` crop coordinates; DemoFusion passes each view's position ×8.
    pub crop_top_left: [usize; 2],
    /// `(height, width)` of the image being generated.
    pub target_size: [usize; 2],
}

impl SizeCond {
    /// Original and target size `size`, no crop.
    pub fn uncropped(size: [usize; 2]) -> Self {
        Self {
            original_size: size,
            crop_top_left: [0, 0],
            target_size: size,
        }
    }

    /// The same sizes with a crop at `(top, left)` px.
    pub fn cropped(self, top_left: [usize; 2]) -> Self {
        Self {
            crop_top_left: top_left,
            ..self
        }
    }

    /// SDXL's `add_time_ids` row.
    pub fn time_ids(&self) -> [f32; 6] {
        let [a, b] = self.original_size;
        let [c, d] = self.crop_top_left;
        let [e, f] = self.target_size;
        [a, b, c, d, e, f].map(|v| v as f32)
    }
}

/// A denoiser's conditioning that can be specialised per batch element: the pipelines call
/// [`ViewConditioning::for_views`] for every denoiser call with one [`SizeCond`] per latent in
/// the batch (views of one image share the text conditioning and differ in crop coordinates).
///
/// Conditionings without micro-conditioning (SD 1.5, the unit type) ignore the sizes and repeat
/// themselves; an implementation must return a conditioning for exactly `views.len()` latents.
pub trait ViewConditioning: Clone {
    /// The conditioning of a batch whose `i`-th latent has micro-conditioning `views[i]`.
    fn for_views(&self, views: &[SizeCond]) -> Self;
}

impl ViewConditioning for () {
    fn for_views(&self, _views: &[SizeCond]) -> Self {}
}

/// Classifier-free guidance around any [`Denoiser`] (diffusers' `do_classifier_free_guidance`):
/// `ε = ε_u + s·(ε_c − ε_u)`, optionally rescaled (`guidance_rescale`, Lin et al. 2023 §3.4).
///
/// With `guidance_scale ≤ 1` only the positive conditioning is evaluated, as in diffusers.
/// The unconditional and conditional predictions are two calls of the inner denoiser on the same
/// batch (diffusers interleaves them in one batch of 2N; the values are the same for any network
/// whose batch elements are independent).
#[derive(Debug, Clone)]
pub struct Guided<D> {
    /// The wrapped denoiser.
    pub inner: D,
}

/// The conditioning of [`Guided`].
#[derive(Debug, Clone)]
pub struct GuidedCond<C> {
    /// The prompt's conditioning.
    pub positive: C,
    /// The negative prompt's conditioning (the empty prompt's for plain CFG).
    pub negative: C,
    /// Guidance scale `s` (7.5 for LSRNA, 5.0 DemoFusion's default).
    pub guidance_scale: f64,
    /// diffusers' `guidance_rescale` φ (0 = off).
    pub guidance_rescale: f64,
}

impl<C> GuidedCond<C> {
    /// CFG with `scale` and no rescale.
    pub fn new(positive: C, negative: C, guidance_scale: f64) -> Self {
        Self {
            positive,
            negative,
            guidance_scale,
            guidance_rescale: 0.0,
        }
    }
}

impl<C: ViewConditioning> ViewConditioning for GuidedCond<C> {
    fn for_views(&self, views: &[SizeCond]) -> Self {
        Self {
            positive: self.positive.for_views(views),
            negative: self.negative.for_views(views),
            ..*self
        }
    }
}

impl<B: Backend, D: Denoiser<B>> Denoiser<B> for Guided<D> {
    type Cond = GuidedCond<D::Cond>;
    type Error = D::Error;

    fn prediction_type(&self) -> PredictionType {
        self.inner.prediction_type()
    }

    fn latent_channels(&self) -> usize {
        self.inner.latent_channels()
    }

    fn predict(
        &self,
        latent: Tensor<B, 4>,
        timestep: f64,
        cond: &Self::Cond,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        if cond.guidance_scale <= 1.0 {
            return self.inner.predict(latent, timestep, &cond.positive);
        }
        let uncond = self
            .inner
            .predict(latent.clone(), timestep, &cond.negative)?;
        let text = self.inner.predict(latent, timestep, &cond.positive)?;
        let guided = uncond.clone() + (text.clone() - uncond).mul_scalar(cond.guidance_scale);
        if cond.guidance_rescale > 0.0 {
            return Ok(rescale_noise_cfg(guided, text, cond.guidance_rescale));
        }
        Ok(guided)
    }
}

/// diffusers' `rescale_noise_cfg`: rescales the guided prediction to the per-sample standard
/// deviation (unbiased, over C·H·W) of the conditional one, mixed by `phi`.
pub fn rescale_noise_cfg<B: Backend>(
    cfg: Tensor<B, 4>,
    text: Tensor<B, 4>,
    phi: f64,
) -> Tensor<B, 4> {
    let std = |x: &Tensor<B, 4>| {
        let [n, c, h, w] = x.dims();
        let flat = x.clone().reshape([n, c * h * w]);
        let (var, _) = flat.var_mean(1);
        var.sqrt().reshape([n, 1, 1, 1])
    };
    let rescaled = cfg.clone() * (std(&text) / std(&cfg));
    rescaled.mul_scalar(phi) + cfg.mul_scalar(1.0 - phi)
}

/// Classifier-free guidance of a `[2N, …]` prediction whose first half is the unconditional one
/// (diffusers' `noise_pred.chunk(2)` after `torch.cat([latents] * 2)`): `u + s·(c − u)`, then
/// [`rescale_noise_cfg`] when `rescale > 0`.
pub fn guide<B: Backend>(out: Tensor<B, 4>, scale: f64, rescale: f64) -> Tensor<B, 4> {
    let n = out.dims()[0] / 2;
    let uncond = out.clone().narrow(0, 0, n);
    let text = out.narrow(0, n, n);
    let guided = uncond.clone() + (text.clone() - uncond).mul_scalar(scale);
    if rescale > 0.0 {
        rescale_noise_cfg(guided, text, rescale)
    } else {
        guided
    }
}
