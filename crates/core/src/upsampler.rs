//! The [`LatentUpsampler`] trait: maps a latent to a larger latent of the same model.

use burn::prelude::*;

use crate::observer::Reporter;

/// Upscales latents at any scale, e.g. LSRNA's LSR module (SwinIR-light + LIIF) mapping a 1K
/// reference latent onto the 4K latent manifold, or DemoFusion's bicubic latent interpolation.
pub trait LatentUpsampler<B: Backend> {
    /// The implementation's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Upsamples `latent` (`[N, C, h, w]`, model-space, values roughly N(0, 1) after the VAE's
    /// scaling) to `[N, C, size[0], size[1]]`. `size` need not be an integer multiple of
    /// `[h, w]`; implementations return an error for sizes they cannot produce.
    fn upsample(&self, latent: Tensor<B, 4>, size: [usize; 2])
    -> Result<Tensor<B, 4>, Self::Error>;

    /// [`LatentUpsampler::upsample`], reporting progress to `progress`. The default reports one
    /// step when done (a cancellation then shows in [`Reporter::cancelled`] only: the work is
    /// finished); implementations that work in chunks (LIIF's rows) report each and stop early.
    fn upsample_with(
        &self,
        latent: Tensor<B, 4>,
        size: [usize; 2],
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        let y = self.upsample(latent, size)?;
        // A cancellation is remembered by the reporter; there is nothing left to stop.
        let _ = progress.report(1, 1);
        Ok(y)
    }
}
