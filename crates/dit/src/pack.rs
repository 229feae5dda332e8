//! Flux's latent packing (diffusers `FluxPipeline._pack_latents`, `_unpack_latents`,
//! `_prepare_latent_image_ids`, 0.36): 2×2 latent patches become the channels of one token,
//! `[N, C, h, w] → [N, (h/2)·(w/2), 4C]` with channel index `c·4 + py·2 + px` and tokens
//! row-major; image ids are `[0, row, col]` per token.

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::{DitError, Result};

/// `_pack_latents`.
///
/// # Shapes
/// `[N, C, h, w] → [N, (h/2)·(w/2), 4C]`.
///
/// # Errors
/// [`DitError::Input`] if `h` or `w` is odd or zero.
pub fn pack_latents<B: Backend>(latents: Tensor<B, 4>) -> Result<Tensor<B, 3>> {
    let [n, c, h, w] = latents.dims();
    if h % 2 != 0 || w % 2 != 0 || h == 0 || w == 0 {
        return Err(DitError::input(
            "latents",
            "[N, C, h, w] with even, positive h and w (Flux packs 2×2 patches)",
            format!("{:?}", latents.dims()),
        ));
    }
    Ok(latents
        .reshape([n, c, h / 2, 2, w / 2, 2])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([n, (h / 2) * (w / 2), 4 * c]))
}

/// The inverse of [`pack_latents`] for an `h × w` latent (diffusers' `_unpack_latents` with
/// `h = 2·(H_px // (2·vae_scale_factor))`).
///
/// # Shapes
/// `[N, (h/2)·(w/2), 4C] → [N, C, h, w]`.
///
/// # Errors
/// [`DitError::Input`] if the token count or channels do not fit `h × w`.
pub fn unpack_latents<B: Backend>(
    packed: Tensor<B, 3>,
    h: usize,
    w: usize,
) -> Result<Tensor<B, 4>> {
    let [n, l, c4] = packed.dims();
    if !h.is_multiple_of(2) || !w.is_multiple_of(2) || l != (h / 2) * (w / 2) || c4 % 4 != 0 {
        return Err(DitError::input(
            "packed latents",
            format!("[N, {}, 4C] for an even {h}×{w} latent", (h / 2) * (w / 2)),
            format!("{:?}", packed.dims()),
        ));
    }
    let c = c4 / 4;
    Ok(packed
        .reshape([n, h / 2, w / 2, c, 2, 2])
        .permute([0, 3, 1, 4, 2, 5])
        .reshape([n, c, h, w]))
}

/// `_prepare_latent_image_ids(_, rows, cols)`: `[rows·cols, 3]` = `[0, row, col]`, row-major.
pub fn latent_image_ids<B: Backend>(rows: usize, cols: usize, device: &B::Device) -> Tensor<B, 2> {
    let mut ids = Vec::with_capacity(rows * cols * 3);
    for r in 0..rows {
        for c in 0..cols {
            ids.extend([0.0, r as f32, c as f32]);
        }
    }
    Tensor::from_data(TensorData::new(ids, [rows * cols, 3]), device)
}
