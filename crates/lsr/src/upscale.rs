//! Ready-made entry points: RGB upscaling with LIIF (its demo's pre/post-processing) and LSRNA's
//! LSR as a [`LatentUpsampler`].

use burn::prelude::*;
use ultrares_core::{LatentUpsampler, Reporter, Stage};
use ultrares_nn::NnBackend;

use crate::liif::Liif;
use crate::{Error, Result};

impl<B: NnBackend> Liif<B> {
    /// Upscales RGB images `[N, 3, h, w]` with values in `[0, 1]` to `[N, 3, H, W]`
    /// (`size = [H, W]`), as LIIF's `demo.py`: input `(x − 0.5)/0.5`, cell `(2/H, 2/W)`, output
    /// `x·0.5 + 0.5` clamped to `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::Argument`] if the model is not an RGB → RGB model; see also [`Liif::forward`].
    pub fn upscale(&self, image: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>> {
        self.upscale_with_progress(image, size, &mut Reporter::silent(Stage::Upsample))
    }

    /// [`Liif::upscale`], reporting `(rows done, rows)` to `progress` after each query chunk.
    ///
    /// # Errors
    /// See [`Liif::upscale`].
    pub fn upscale_with_progress(
        &self,
        image: Tensor<B, 4>,
        size: [usize; 2],
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        if self.in_chans() != 3 || self.out_dim() != 3 {
            return Err(Error::argument(
                "model",
                "an RGB → RGB LIIF (3 input and 3 output channels)",
                format!("{} → {}", self.in_chans(), self.out_dim()),
            ));
        }
        let x = (image - 0.5) / 0.5;
        let y = self.forward_with_progress(x, size, progress)?;
        Ok((y * 0.5 + 0.5).clamp(0.0, 1.0))
    }

    /// The output size for a scale factor: `[round(h·scale), round(w·scale)]`.
    ///
    /// # Errors
    /// [`Error::Argument`] unless `scale` is finite and ≥ 1.
    pub fn scaled_size(input: [usize; 2], scale: f64) -> Result<[usize; 2]> {
        if !scale.is_finite() || scale < 1.0 {
            return Err(Error::argument("scale", "a finite factor ≥ 1", scale));
        }
        Ok(input.map(|v| (v as f64 * scale).round() as usize))
    }
}

/// LSRNA's LSR (or any latent → latent LIIF) maps a model-space latent `[N, C, h, w]` to
/// `[N, C, H, W]` in one call at any scale (`3587jjh/LSRNA:pipeline_lsrna_demofusion_sdxl.py`,
/// §1.4 of the spec: no rescaling around the call).
impl<B: NnBackend> LatentUpsampler<B> for Liif<B> {
    type Error = Error;

    fn upsample(&self, latent: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>> {
        self.upsample_with(latent, size, &mut Reporter::silent(Stage::Upsample))
    }

    /// Reports each chunk of output rows ([`Liif::forward_with_progress`]).
    fn upsample_with(
        &self,
        latent: Tensor<B, 4>,
        size: [usize; 2],
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        if self.in_chans() != self.out_dim() {
            return Err(Error::argument(
                "model",
                "a latent upsampler with as many output as input channels",
                format!("{} → {}", self.in_chans(), self.out_dim()),
            ));
        }
        self.forward_with_progress(latent, size, progress)
    }
}
