//! # ultrares-lsr
//!
//! Latent and image super-resolution with local implicit image functions, equal to the official
//! code:
//!
//! * LSRNA's **LSR** (Jeong et al., CVPR 2025, §3.1; `3587jjh/LSRNA:lsr/`): a SwinIR-light
//!   backbone and a LIIF decoder map a low-resolution SD latent onto the high-resolution latent
//!   manifold at any scale in one call, as a residual over bicubic upsampling
//!   ([`LiifConfig::lsrna_sdxl`]; implements [`ultrares_core::LatentUpsampler`]);
//! * **LIIF** with its EDSR-baseline encoder (Chen et al., CVPR 2021; `yinboc/liif`), whose real
//!   pretrained weights are compiled into this crate ([`Liif::edsr_baseline_pretrained`],
//!   [`LiifConfig::edsr_baseline`], [`Liif::upscale`]).
//!
//! Checkpoints load from the official `torch.save` layout (`{'model': {'name', 'args', 'sd'}}`)
//! or safetensors ([`StateDict`], [`Liif::from_checkpoint`]); every missing, unexpected or
//! mis-shaped key is reported.
//!
//! ```no_run
//! use burn::backend::NdArray;
//! use ultrares_lsr::Liif;
//!
//! let device = Default::default();
//! let model = Liif::<NdArray>::edsr_baseline_pretrained(&device)?; // or Liif::from_checkpoint(path, &device)
//! let image = burn::tensor::Tensor::zeros([1, 3, 64, 64], &device);
//! let up = model.upscale(image, [256, 256])?; // [1, 3, 256, 256] in [0, 1]
//! # Ok::<(), ultrares_lsr::Error>(())
//! ```
#![warn(missing_docs)]

pub mod coord;
pub mod edsr;
mod error;
pub mod liif;
pub mod mlp;
pub mod swinir;
mod upscale;
pub use edsr::{Edsr, EdsrConfig};
pub use error::{Error, Result};
pub use liif::{Encoder, EncoderConfig, Liif, LiifConfig, LiifFeatures};
pub use mlp::{Mlp, MlpConfig};
pub use swinir::{SwinIr, SwinIrConfig};
pub use ultrares_nn::StateDict;
