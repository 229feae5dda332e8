//! # ultrares-nn
//!
//! The layers every ultrares network shares, and the weight loading they all use:
//!
//! * [`NnBackend`]: the backend-extension trait that picks the convolution and attention
//!   implementation per backend (defaults are the portable paths; no backend-name checks);
//! * [`conv`]: "same" convolution constructors and the banded-GEMM convolution (5–8× Burn's
//!   native convolution on the CPU backends);
//! * [`attention`]: scaled dot-product attention over Burn's fused kernel on CubeCL backends and
//!   a query-chunked, memory-bounded path elsewhere, both checked against Burn's
//!   `attention_fallback`;
//! * norms with f32 statistics ([`GroupNorm`], [`LayerNorm`], [`RmsNorm`]), activations
//!   ([`activation`]: SiLU, exact and tanh GELU, quick GELU, GEGLU), diffusers' timestep
//!   embeddings ([`embedding`]), diffusers' up/down samplers ([`sample`]), tensor helpers
//!   ([`ops`]: zero padding, concatenation, casts);
//! * [`weights`]: lazy safetensors (single and sharded), PyTorch pickles, key remaps, loading in
//!   the module's dtype with every bad key listed in one error;
//! * [`lora`]: LoRA files (kohya and PEFT layouts) merged into any model's weights;
//! * [`linear`]: `Linear` layers as one GEMM through [`NnBackend::nn_matmul`] (faer's parallel
//!   f32 GEMM on the CPU backends);
//! * [`config`]: typed reads of upstream `config.json` files.
//!
//! Everything is generic over a Burn backend; this crate enables none (its `ndarray`, `flex` and
//! `cubecl` features only add [`NnBackend`] implementations).
#![warn(missing_docs)]

pub mod activation;
pub mod attention;
mod backend;
pub mod config;
pub mod conv;
pub mod embedding;
mod group_norm;
mod layer_norm;
pub mod linear;
pub mod lora;
pub mod npy;
pub mod ops;
mod rms_norm;
pub mod sample;
#[cfg(feature = "ndarray")]
mod simd;
#[doc(hidden)]
pub mod testing;
pub mod weights;

pub use backend::NnBackend;
pub use config::ConfigJson;
pub use group_norm::{
    GroupNorm, GroupNormConfig, group_var_mean, group_var_mean_portable, scale_shift,
};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use rms_norm::{RmsNorm, RmsNormConfig};
pub use ultrares_core::{Error, Result};
pub use weights::StateDict;
