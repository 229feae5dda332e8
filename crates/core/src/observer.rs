//! Progress and cancellation, one API for every long-running part: a pipeline's stages, a VAE's
//! tiles, LIIF's row chunks. A caller passes an [`Observer`]; a component that works in steps
//! receives a [`Reporter`] for its [`Stage`] and calls [`Reporter::report`] after each step, which
//! forwards a [`Progress`] to the observer and turns its [`ControlFlow::Break`] into
//! [`Error::Cancelled`](crate::Error::Cancelled).

use std::ops::ControlFlow;

use burn::prelude::*;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Generating the reference at the native size (or the whole image for direct generation),
    /// or encoding a given image that stands for it.
    Reference,
    /// Decoding the reference latent.
    DecodeReference,
    /// Upsampling a latent (LSR's row chunks, DemoFusion's bicubic) and adding RNA.
    Upsample,
    /// Denoising at scale `phase` (LSRNA: one phase at `s`; DemoFusion: `2..=s`).
    HighRes {
        /// The scale of this phase.
        phase: usize,
    },
    /// Encoding an image (a VAE's tiles).
    Encode,
    /// Decoding the final latent (a VAE's tiles).
    Decode,
}

impl std::fmt::Display for Stage {
    /// In words, for progress bars and messages: `reference`, `high-res phase 2`, ….
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::Reference => f.write_str("reference"),
            Stage::DecodeReference => f.write_str("decode reference"),
            Stage::Upsample => f.write_str("upsample"),
            Stage::HighRes { phase } => write!(f, "high-res phase {phase}"),
            Stage::Encode => f.write_str("encode"),
            Stage::Decode => f.write_str("decode"),
        }
    }
}

/// A progress report: `step` of `total` done in `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Steps done in this stage.
    pub step: usize,
    /// Steps in this stage.
    pub total: usize,
}

/// A latent a run produces on its way (for inspection, previews and the golden tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intermediate {
    /// After denoising step index `i` of the reference.
    ReferenceStep(usize),
    /// The upsampled reference (before RNA).
    Upsampled,
    /// The upsampled reference after RNA: the target every skip residual pulls towards.
    Guide,
    /// After step index `i` of the phase at scale `phase`, before re-standardisation.
    HighResStep {
        /// The scale of the phase.
        phase: usize,
        /// The step index in the schedule.
        i: usize,
    },
    /// The final latent, re-standardised, as decoded.
    Final,
    /// Pixelsmith: the `k`-th patch (counted over the run) as it enters the denoiser, after
    /// phase mixing and the replacement of lagging latents.
    PixelsmithPatch(usize),
    /// Pixelsmith: the `k`-th patch right after its scheduler step (before the checkerboard
    /// replacement and the write-back).
    PixelsmithStep(usize),
}

/// Receives progress and intermediates; returning [`ControlFlow::Break`] from
/// [`Observer::on_progress`] cancels the work ([`crate::Error::Cancelled`], or the pipeline's
/// own `Cancelled`). `()` ignores everything.
pub trait Observer<B: Backend> {
    /// Called after every step of every stage.
    fn on_progress(&mut self, _progress: Progress) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Called with every intermediate latent.
    fn on_latent(&mut self, _what: Intermediate, _latent: &Tensor<B, 4>) {}
}

impl<B: Backend> Observer<B> for () {}

/// A progress callback as an [`Observer`].
pub struct ProgressFn<F>(pub F);

impl<B: Backend, F: FnMut(Progress) -> ControlFlow<()>> Observer<B> for ProgressFn<F> {
    fn on_progress(&mut self, progress: Progress) -> ControlFlow<()> {
        (self.0)(progress)
    }
}

/// One stage's view of an [`Observer`], handed to a component that works in steps (a VAE's
/// tiles, LIIF's row chunks, a pipeline's denoising steps).
pub struct Reporter<'a, B: Backend> {
    stage: Stage,
    observer: Option<&'a mut dyn Observer<B>>,
    cancelled: Option<Progress>,
}

impl<'a, B: Backend> Reporter<'a, B> {
    /// Reports of `stage` to `observer`.
    pub fn new(stage: Stage, observer: &'a mut dyn Observer<B>) -> Self {
        Self {
            stage,
            observer: Some(observer),
            cancelled: None,
        }
    }

    /// Reports of `stage` to nobody (what the methods without a reporter use).
    pub fn silent(stage: Stage) -> Self {
        Self {
            stage,
            observer: None,
            cancelled: None,
        }
    }

    /// The stage reported.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Reports `step` of `total` done.
    ///
    /// # Errors
    /// [`crate::Error::Cancelled`] when the observer answers [`ControlFlow::Break`] (remembered:
    /// see [`Reporter::cancelled`]); the component stops and returns it.
    pub fn report(&mut self, step: usize, total: usize) -> crate::Result<()> {
        let progress = Progress {
            stage: self.stage,
            step,
            total,
        };
        let Some(observer) = self.observer.as_deref_mut() else {
            return Ok(());
        };
        match observer.on_progress(progress) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => {
                self.cancelled = Some(progress);
                Err(crate::Error::Cancelled)
            }
        }
    }

    /// The report the observer cancelled at, if it did: lets a caller that receives the
    /// component's own error type tell a cancellation from a failure.
    pub fn cancelled(&self) -> Option<Progress> {
        self.cancelled
    }

    /// Passes an intermediate latent to the observer.
    pub fn latent(&mut self, what: Intermediate, latent: &Tensor<B, 4>) {
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.on_latent(what, latent);
        }
    }
}
