//! # ultrares-unet
//!
//! diffusers' `UNet2DConditionModel` on Burn, with diffusers' module and weight names so that
//! `unet/` folders and their `fp16` variants load as they are: SDXL base 1.0 and refiner, SD 1.5
//! and 2.x through one configurable class ([`UNet2DConditionConfig`], from `config.json` or the
//! presets), equal to diffusers on identical weights (`tests/`), in f32, f16 or bf16 (norm
//! statistics and softmax in f32).
//!
//! [`UnetDenoiser`] wraps a model as a [`ultrares_core::Denoiser`] for ultrares' pipelines:
//! [`TextCond`] (text states, pooled embedding, per-view SDXL time ids through
//! [`ultrares_core::ViewConditioning`]) and classifier-free guidance with the unconditional and
//! conditional halves in one batch, as diffusers runs it.
//!
//! Checkpoints: diffusers `unet/` folders ([`UNet2DConditionModel::from_diffusers_dir`]), the
//! UNet of SD/SDXL single-file checkpoints ([`UNet2DConditionModel::load_single_file`], LDM names
//! mapped as diffusers' `from_single_file`), and LoRA files merged into the weights ([`Lora`]).
//!
//! Layers (convolutions, GroupNorm with f32 statistics, attention through the backend's fused
//! or memory-bounded path) come from `ultrares-nn`.
#![warn(missing_docs)]

mod attention;
mod config;
mod denoiser;
mod down_block;
mod error;
mod ldm;
mod lora;
mod mid_block;
mod resnet;
mod transformer_2d;
mod transformer_block;
mod unet;
mod up_block;

pub use attention::Attention;
pub use config::{BlockType, TextTimeEmbedding, UNet2DConditionConfig};
pub use denoiser::{TextCond, UnetDenoiser};
pub use down_block::DownBlock;
pub use error::{Result, UnetError};
pub use ldm::LDM_UNET_PREFIX;
pub use lora::Lora;
pub use mid_block::MidBlock;
pub use resnet::ResnetBlock2D;
pub use transformer_2d::{Projection, Transformer2DModel};
pub use transformer_block::{BasicTransformerBlock, FeedForward};
pub use unet::{AddedCond, Tap, UNet2DConditionModel};
pub use up_block::UpBlock;
