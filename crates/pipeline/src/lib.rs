//! # ultrares-pipeline
//!
//! Reference-based ultra-high-resolution generation over any [`Denoiser`](ultrares_core::Denoiser),
//! [`LatentCodec`](ultrares_core::LatentCodec), [`LatentUpsampler`](ultrares_core::LatentUpsampler)
//! and [`Scheduler`](ultrares_schedulers::Scheduler):
//!
//! * **LSRNA-DemoFusion** (Jeong et al., CVPR 2025; `3587jjh/LSRNA`): a reference at the model's
//!   native size, one jump to the target latent with LSR, region-wise noise from the reference's
//!   Canny edges, then the last 30 of 50 DDIM steps with DemoFusion's machinery;
//! * **DemoFusion** (Du et al., CVPR 2024; `PRIS-CV/DemoFusion`): progressive phases with
//!   skip residuals `c₁ = ((1 + cos(π(T−t)/T))/2)^α₁`, MultiDiffusion over jittered 128-latent
//!   views at stride 64, and dilated sampling of Gaussian-blurred sub-latents mixed by `c₂`;
//! * **Pixelsmith** (Tragakis et al., NeurIPS 2024; `Thanos-DB/Pixelsmith`): a per-latent
//!   timestep map, random 128-latent patches, Fourier phase mixing and checkerboard replacement
//!   from a Lanczos-upsampled guide for the first `slider` steps; **LSRNA-Pixelsmith** guides it
//!   with LSR + RNA instead;
//! * **Direct** generation at the target size.
//!
//! Every upstream knob is a [`HighResConfig`] field with the upstream default; every random draw
//! comes from a [`Randomness`] (seeded, or a replay of a reference run); an [`Observer`] receives
//! progress (and can cancel) and every intermediate latent. Classifier-free guidance is the
//! [`Guided`] wrapper; SDXL micro-conditioning per view goes through [`ViewConditioning`].
//!
#![warn(missing_docs)]

mod bicubic;
pub mod blur;
mod config;
mod demofusion;
mod direct;
mod error;
mod fourier;
mod lsrna;
mod observer;
mod pipeline;
mod pixelsmith;
#[doc(hidden)]
pub mod testing;

pub use bicubic::{BicubicUpsampler, bicubic_matrix};
pub use config::{DecodeMode, HighResConfig, MAX_SIDE, Strategy};
pub use demofusion::{TRAIN_STEPS, cosine_factor};
pub use error::{Error, Result};
pub use fourier::Fft2;
pub use observer::StageTiming;
pub use pipeline::{HighResOutput, HighResPipeline};
pub use pixelsmith::smoothed_time_mask;
pub use ultrares_core::cond::{Guided, GuidedCond, SizeCond, ViewConditioning, rescale_noise_cfg};
pub use ultrares_core::observer::{Intermediate, Observer, Progress, ProgressFn, Reporter, Stage};
pub use ultrares_core::random::{Draw, Randomness, SeededRandomness};
