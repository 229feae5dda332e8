//! The official checkpoint layout (`train_wddgan.py`): `netG_{epoch}.pth` holds the generator's
//! state dict (EMA weights swapped in) saved from a DDP-wrapped model, so every key starts with
//! `module.`; `test_wddgan.py` strips the first 7 characters and loads with `strict=False`.
//!
//! Here loading is strict: the `module.` prefix is optional (checkpoints saved without DDP
//! load too), and every missing, unexpected or mis-shaped key is listed in one error. The
//! official networks register no buffers, so `strict=False` tolerates nothing a released
//! checkpoint contains.

use std::path::Path;

use burn::prelude::*;
use ultrares_nn::StateDict;

use crate::{Discriminator, Ncsnpp, Result};

/// The prefix DDP adds to every key.
pub const DDP_PREFIX: &str = "module.";

/// `"module."` when every key of `sd` has it, else `""`.
pub fn prefix_of(sd: &StateDict) -> &'static str {
    let mut keys = sd.keys().peekable();
    if keys.peek().is_some() && keys.all(|k| k.starts_with(DDP_PREFIX)) {
        DDP_PREFIX
    } else {
        ""
    }
}

/// Reads a generator checkpoint (`.pth`, `.bin` or `.safetensors`) into `generator`.
///
/// # Errors
/// Unreadable files, or every missing, unexpected and mis-shaped key in one
/// [`crate::WaveDiffError::Model`].
pub fn load_generator<B: Backend>(
    generator: &mut Ncsnpp<B>,
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<()> {
    let sd = StateDict::read(path)?;
    generator.load(&sd, prefix_of(&sd), device)
}

/// Reads a discriminator checkpoint (`netD` state dict, with or without `module.`).
///
/// # Errors
/// As [`load_generator`].
pub fn load_discriminator<B: Backend>(
    discriminator: &mut Discriminator<B>,
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<()> {
    let sd = StateDict::read(path)?;
    discriminator.load(&sd, prefix_of(&sd), device)
}
