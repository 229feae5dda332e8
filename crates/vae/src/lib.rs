//! # ultrares-vae
//!
//! Stable Diffusion's KL autoencoder ([`AutoencoderKl`]) with diffusers' architecture and
//! state-dict names, on any Burn backend:
//!
//! * presets for SD 1.5, SDXL, SD3 and Flux ([`AutoencoderKlConfig`]), `config.json` parsing and
//!   [`from_diffusers_dir`]; checkpoints in diffusers' layout or the original LDM/single-file
//!   layout ([`weights`]), every missing, unexpected or mis-shaped key listed in one error;
//! * `encode` (posterior mean or a seeded sample) and `decode` in *model space* (scaling and shift
//!   applied), and the [`ultrares_core::LatentCodec`] implementation pipelines use;
//! * tiled encode/decode for any size ([`tiling`]): diffusers' `enable_tiling()` scheme, exactly,
//!   and a seamless scheme whose GroupNorm statistics cover the whole image, so that tiles leave
//!   no seams and the result equals the untiled model's, with peak memory bounded by the tile;
//! * Diffusion-4K's F16 VAE (encoder stride 2, upsample before `conv_out`) and its partitioned
//!   decoding;
//! * f16/bf16 activations with GroupNorm statistics and the attention softmax in f32.
//!
//! Sources: `diffusers/models/autoencoders/{autoencoder_kl,vae}.py` (diffusers 0.36),
//! `zhang0jhon/diffusion-4k:vae.py`.
#![warn(missing_docs)]

pub mod attention;
mod autoencoder;
pub mod blocks;
mod config;
pub mod decoder;
pub mod encoder;
mod error;
pub mod norm;
pub mod resnet;
#[doc(hidden)]
pub mod testing;
pub mod tiling;
pub mod weights;

pub use autoencoder::AutoencoderKl;
pub use config::AutoencoderKlConfig;
pub use error::{Error, Result};
pub use tiling::{DiffusersTiling, SeamlessTiling};
/// The GEMM convolution moved to `ultrares-nn`; re-exported here for one release.
pub use ultrares_nn::conv;
pub use weights::from_diffusers_dir;
