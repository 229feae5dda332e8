//! What a run reports: progress per [`Stage`] (cancellable through [`Observer`]), the
//! [`Intermediate`] latents, and per-stage wall times.

use std::ops::ControlFlow;
use std::time::Duration;

use burn::prelude::*;

#[allow(unused_imports)]
use crate::{Error, Strategy};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Generating the reference at the native size (or the whole image for [`Strategy::Direct`]).
    Reference,
    /// Decoding the reference latent.
    DecodeReference,
    /// Upsampling the reference latent (LSR, or DemoFusion's bicubic) and adding RNA.
    Upsample,
    /// Denoising at scale `phase` (LSRNA: one phase at `s`; DemoFusion: `2..=s`).
    HighRes {
        /// The scale of this phase.
        phase: usize,
    },
    /// Decoding the final latent.
    Decode,
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
/// [`Observer::on_progress`] cancels the run ([`Error::Cancelled`]). `()` ignores everything.
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

/// Wall time of one stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTiming {
    /// The stage.
    pub stage: Stage,
    /// Its wall time (device work included: the stage ends with a host read-back).
    pub elapsed: Duration,
}
