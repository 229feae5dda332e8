//! # ultrares-core
//!
//! The foundation every ultrares crate builds on:
//!
//! * the model traits [`Denoiser`], [`LatentCodec`] and [`LatentUpsampler`] that pipelines are
//!   generic over;
//! * [`image`]: PNG/JPEG files and 8-bit images ⇄ NCHW tensors in `[0, 1]` or `[−1, 1]`;
//! * [`noise`]: seeded Gaussian and uniform noise drawn on the host from a documented ChaCha8
//!   stream, identical on every backend;
//! * [`tiling`]: overlapping windows (DemoFusion's layout and jitter), blend weights and merging,
//!   so that work on 4K tensors has bounded memory;
//! * [`cond`]: SDXL micro-conditioning per view ([`SizeCond`], [`ViewConditioning`]) and
//!   classifier-free guidance ([`Guided`]), so a model crate implements them without the pipeline;
//! * [`random`]: the [`Randomness`] source of every stochastic pipeline step (seeded, or a
//!   replay of a reference run);
//! * [`Error`], the crate's error type.
//!
//! Everything is generic over a Burn [`Backend`](burn::tensor::backend::Backend); no backend is
//! enabled by this crate.
#![warn(missing_docs)]

pub mod codec;
pub mod cond;
pub mod cubic;
pub mod denoiser;
mod error;
mod finite;
pub mod image;
pub mod noise;
pub mod observer;
pub mod random;
pub mod resize;
#[doc(hidden)]
pub mod testing;
pub mod tiling;
pub mod upsampler;

pub use codec::{CodecTiling, LatentCodec};
pub use cond::{Guided, GuidedCond, SizeCond, ViewConditioning, guide, rescale_noise_cfg};
pub use denoiser::{Denoiser, PredictionType};
pub use error::{Error, Result};
pub use finite::check_finite;
pub use observer::{Intermediate, Observer, Progress, ProgressFn, Reporter, Stage};
pub use random::{Draw, Randomness, SeededRandomness};
pub use upsampler::LatentUpsampler;
