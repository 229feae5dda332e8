//! LSRNA (Jeong et al., CVPR 2025; `3587jjh/LSRNA`, spec `lsrna.md` §4): one jump from the
//! reference latent to the target latent with the latent upsampler (LSR), region-wise noise from
//! the reference's Canny edges (RNA), then the last `inversion_depth` steps with DemoFusion's
//! machinery (LSRNA-DemoFusion) or Pixelsmith's patch sampler (LSRNA-Pixelsmith).

use std::time::Instant;

use burn::prelude::*;
use ultrares_core::image::{ValueRange, tensor_to_rgb8};
use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use crate::pipeline::{PhaseCtx, Run};
use crate::{Draw, Error, HighResPipeline, Intermediate, Result, Stage, ViewConditioning};

impl<B, D, C, U, S> HighResPipeline<'_, B, D, C, U, S>
where
    B: Backend,
    D: Denoiser<B>,
    D::Cond: ViewConditioning,
    C: LatentCodec<B>,
    U: LatentUpsampler<B>,
    S: Scheduler<B>,
{
    /// The guide both LSRNA strategies refine: LSR of the reference latent to the target latent
    /// size (a multiple of `s`), plus region-wise noise from the decoded reference when
    /// configured; and the step index the refinement starts at (`steps − inversion_depth`).
    pub(crate) fn lsrna_guide(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        reference: &Tensor<B, 4>,
        reference_image: &Tensor<B, 4>,
        s: usize,
        run: &mut Run<'_, B>,
    ) -> Result<(Tensor<B, 4>, usize)> {
        let config = ctx.config;
        let f = self.codec.downscale_factor();
        let (h, w) = (config.height, config.width);
        let start = Instant::now();
        let size = [h / s / f * s, w / s / f * s];
        let up = run.reported(
            Stage::Upsample,
            |e| Error::Upsampler(Box::new(e)),
            |r| self.upsampler.upsample_with(reference.clone(), size, r),
        )?;
        run.observer.on_latent(Intermediate::Upsampled, &up);
        let guide = match &config.rna {
            Some(rna) => {
                let rgb = tensor_to_rgb8(reference_image.clone(), ValueRange::MinusOneOne)?;
                let eps = run.noise(Draw::RegionNoise, up.dims(), &up.device())?;
                rna.apply_with_noise(up, &rgb[0], eps)?
            }
            None => up,
        };
        run.observer.on_latent(Intermediate::Guide, &guide);
        run.timed(Stage::Upsample, start, ());
        Ok((
            guide,
            self.scheduler.timesteps().len() - config.inversion_depth,
        ))
    }
}
