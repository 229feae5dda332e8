//! # ultrares-dit
//!
//! The diffusion transformers of Stable Diffusion 3 / 3.5 and FLUX.1 on Burn, with diffusers'
//! module and weight names so that `transformer/` folders load as they are, equal to diffusers
//! on identical weights (`tests/`):
//!
//! * [`Sd3Transformer2DModel`] (`SD3Transformer2DModel`): patch embedding with the stored,
//!   centre-cropped sin-cos table ([`PatchEmbed`]), MM-DiT joint blocks
//!   ([`JointTransformerBlock`]) with SD3.5's dual attention and qk RMSNorm, the
//!   context-pre-only last block;
//! * [`FluxTransformer2DModel`] (`FluxTransformer2DModel`): double- and single-stream blocks,
//!   3-axis RoPE ([`Rope`]), 2×2 latent packing ([`pack_latents`]), the guidance embedding and
//!   its bf16 rounding ([`scale_timestep`]).
//!
//! [`Sd3Denoiser`] (classifier-free guidance in one batch) and [`FluxDenoiser`] (packing, the
//! distilled guidance embedding) wrap them as [`ultrares_core::Denoiser`]s for ultrares'
//! pipelines, predicting the flow `ε − x₀` for the FlowMatch schedulers.
//!
//! Original single-file checkpoints (Stability AI's SD3/SD3.5, Black Forest Labs' Flux) load
//! through the documented remap of diffusers' `from_single_file` ([`sd3_from_original`],
//! [`flux_from_original`]).
//!
//! LoRA files (diffusers/PEFT, kohya, and the original layouts with fused `qkv`) merge into
//! either model ([`DitLora`]).
//!
//! Configs come from `config.json` or presets ([`Sd3TransformerConfig::sd3_medium`],
//! [`FluxTransformerConfig::flux_dev`], …); weights load in f32, f16 or bf16 (norm statistics,
//! RoPE and the attention softmax in f32). Attention goes through [`ultrares_nn::attention`]:
//! Burn's fused kernel on CubeCL backends, query chunks with bounded memory elsewhere (4096²
//! through Diffusion-4K's 16× VAE is 16,384 image tokens).
#![warn(missing_docs)]

mod ada_norm;
mod attention;
mod config;
mod error;
mod feed_forward;
mod flux;
mod flux_block;
mod flux_denoiser;
mod flux_single_block;
mod lora;
mod pack;
mod pos_embed;
mod rope;
mod sd3;
mod sd3_block;
mod sd3_denoiser;
mod single_file;
mod time_text;

pub use ada_norm::{AdaNorm, layer_norm, modulate};
pub use attention::{JointAttention, JointAttentionConfig};
pub use config::{FluxTransformerConfig, Sd3TransformerConfig};
pub use error::{DitError, Result};
pub use feed_forward::FeedForward;
pub use flux::{FLUX_ROPE_THETA, FluxTransformer2DModel, scale_timestep};
pub use flux_block::FluxTransformerBlock;
pub use flux_denoiser::{FluxCond, FluxDenoiser};
pub use flux_single_block::FluxSingleTransformerBlock;
pub use lora::DitLora;
pub use pack::{latent_image_ids, pack_latents, unpack_latents};
pub use pos_embed::{PatchEmbed, sincos_pos_embed};
pub use rope::Rope;
pub use sd3::{Sd3Transformer2DModel, Tap};
pub use sd3_block::JointTransformerBlock;
pub use sd3_denoiser::{Sd3Cond, Sd3Denoiser};
pub use single_file::{
    SINGLE_FILE_PREFIX, flux_config_of, flux_from_original, sd3_config_of, sd3_from_original,
};
pub use time_text::TimeTextEmbed;
