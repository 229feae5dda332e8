//! Direct generation: every step of the schedule on the whole target latent, then the decode —
//! the baseline the reference-based strategies are compared against.

use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use burn::prelude::*;

use crate::pipeline::Run;
use crate::{
    HighResConfig, HighResOutput, HighResPipeline, Intermediate, Result, ViewConditioning,
};

impl<B, D, C, U, S> HighResPipeline<'_, B, D, C, U, S>
where
    B: Backend,
    D: Denoiser<B>,
    D::Cond: ViewConditioning,
    C: LatentCodec<B>,
    U: LatentUpsampler<B>,
    S: Scheduler<B>,
{
    /// [`crate::Strategy::Direct`]: the "reference" denoised at the target size is the result.
    pub(crate) fn direct(
        &self,
        config: &HighResConfig,
        latent: Tensor<B, 4>,
        mut run: Run<'_, B>,
    ) -> Result<HighResOutput<B>> {
        run.observer.on_latent(Intermediate::Final, &latent);
        let image = self.decode(latent.clone(), config.decode, &mut run)?;
        Ok(run.output(None, latent, image))
    }
}
