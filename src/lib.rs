//! # ultrares
//!
//! Ultra-high-resolution (2K–8K) image synthesis with latent diffusion models, on
//! [Burn](https://burn.dev): the methods of LSRNA (latent-space super-resolution + region-wise
//! noise addition), WaveDiff (wavelet diffusion) and Diffusion-4K (wavelet fine-tuning loss,
//! GLCM Score and Compression Ratio) as small, backend-generic crates.
//!
//! This facade re-exports the member crates, a [`prelude`], one [`Error`] and the backends
//! enabled by Cargo features ([`backend`]):
//!
//! | feature | backend | |
//! |---|---|---|
//! | `ndarray` (default) | [`backend::NdArray`] | CPU, used by tests and CI |
//! | `cuda` | `backend::Cuda` | NVIDIA GPUs; builds without a CUDA toolkit when `CUDARC_CUDA_VERSION` is set |
//! | `wgpu` | `backend::Wgpu` | Vulkan/Metal/DX12 GPUs, or Mesa lavapipe on machines without one |
//!
//! ```
//! use ultrares::prelude::*;
//!
//! # #[cfg(feature = "ndarray")] {
//! let device = Default::default();
//! let noise = ultrares::core::noise::gaussian::<backend::NdArray, 4>([1, 4, 64, 64], 42, &device)?;
//! let plan = TilePlan::new(64, 64, TileConfig::new(32, 16))?;
//! let tiles = plan.split(noise.clone())?;
//! let merged = plan.merge(tiles, Blend::Feather { width: 8 })?;
//! assert_eq!(merged.dims(), [1, 4, 64, 64]);
//! # }
//! # Ok::<(), ultrares::Error>(())
//! ```
#![warn(missing_docs)]

pub use ultrares_core as core;
pub use ultrares_dit as dit;
pub use ultrares_lsr as lsr;
pub use ultrares_metrics as metrics;
pub use ultrares_nn as nn;
pub use ultrares_pipeline as pipeline;
pub use ultrares_rna as rna;
pub use ultrares_schedulers as schedulers;
pub use ultrares_text as text;
pub use ultrares_unet as unet;
pub use ultrares_vae as vae;
pub use ultrares_wavediff as wavediff;
pub use ultrares_wavelet as wavelet;

pub mod backend;

/// The error of any ultrares operation: one variant per member crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `ultrares-core` (shapes, arguments, image files, noise, tiling).
    #[error(transparent)]
    Core(#[from] ultrares_core::Error),
    /// An error from `ultrares-dit` (SD3/Flux transformer configs, weights, input shapes).
    #[error(transparent)]
    Dit(#[from] ultrares_dit::DitError),
    /// An error from `ultrares-lsr` (checkpoints, sizes, inputs).
    #[error(transparent)]
    Lsr(#[from] ultrares_lsr::Error),
    /// An error from `ultrares-metrics` (GLCM parameters, image sizes).
    #[error(transparent)]
    Metrics(#[from] ultrares_metrics::Error),
    /// An error from `ultrares-pipeline` (target sizes, strategy settings, cancellation, and the
    /// models' errors it carries).
    #[error(transparent)]
    Pipeline(#[from] ultrares_pipeline::Error),
    /// An error from `ultrares-rna` (Canny parameters, region-noise settings).
    #[error(transparent)]
    Rna(#[from] ultrares_rna::Error),
    /// An error from `ultrares-schedulers` (configurations, step indices).
    #[error(transparent)]
    Schedulers(#[from] ultrares_schedulers::Error),
    /// An error from `ultrares-text` (tokenizer files and configurations).
    #[error(transparent)]
    Text(#[from] ultrares_text::TextError),
    /// An error from `ultrares-unet` (UNet configs, weights, input shapes).
    #[error(transparent)]
    Unet(#[from] ultrares_unet::UnetError),
    /// An error from `ultrares-vae` (configs, checkpoints, image/latent shapes, tiling).
    #[error(transparent)]
    Vae(#[from] ultrares_vae::Error),
    /// An error from `ultrares-wavediff` (WaveDiff configs, checkpoints, input shapes).
    #[error(transparent)]
    WaveDiff(#[from] ultrares_wavediff::WaveDiffError),
    /// An error from `ultrares-wavelet` (wavelet names, levels, band shapes).
    #[error(transparent)]
    Wavelet(#[from] ultrares_wavelet::Error),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The names most programs need: the model traits, tiling, image ranges, the error type and the
/// enabled backends.
pub mod prelude {
    pub use crate::backend;
    pub use crate::{Error, Result};
    pub use burn::prelude::{Backend, Tensor};
    pub use ultrares_core::image::ValueRange;
    pub use ultrares_core::tiling::{Blend, TileConfig, TileMerger, TilePlan};
    pub use ultrares_core::{CodecTiling, Denoiser, LatentCodec, LatentUpsampler, PredictionType};
    pub use ultrares_lsr::{Liif, LiifConfig};
    pub use ultrares_pipeline::{
        Guided, GuidedCond, HighResConfig, HighResPipeline, SeededRandomness, Strategy,
    };
    pub use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig, DiffusersTiling, SeamlessTiling};
}
