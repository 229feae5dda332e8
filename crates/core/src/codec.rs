//! The [`LatentCodec`] trait: an image autoencoder such as Stable Diffusion's AutoencoderKL.

use burn::prelude::*;

use crate::observer::{Reporter, Stage};
use crate::tiling::{Blend, TileConfig, TileMerger, TilePlan};

/// Tile layout for [`LatentCodec::encode_tiled`] / [`LatentCodec::decode_tiled`], in latent
/// units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecTiling {
    /// Latent window size (128 = 1024 px for SDXL).
    pub tile: usize,
    /// Latent step between windows (96 = diffusers' overlap factor 0.25).
    pub stride: usize,
    /// Feather ramp in latent units, applied in the output space (×`downscale_factor` for
    /// decoding).
    pub feather: usize,
    /// Tiles processed per codec call.
    pub batch: usize,
}

impl Default for CodecTiling {
    /// diffusers' SDXL tiling: 128-latent tiles at stride 96 (overlap 32 latents = 256 px).
    fn default() -> Self {
        Self {
            tile: 128,
            stride: 96,
            feather: 32,
            batch: 1,
        }
    }
}

/// Maps images to latents and back.
///
/// Images are `[N, 3, H, W]` in `[−1, 1]`; latents are model-space latents `[N, C, H/f, W/f]`
/// (`C` = [`LatentCodec::latent_channels`], `f` = [`LatentCodec::downscale_factor`]) with the
/// VAE's scaling and shift already applied, i.e. what a denoiser consumes.
pub trait LatentCodec<B: Backend> {
    /// The implementation's error type; it must absorb `ultrares-core` errors raised by the
    /// default tiled methods.
    type Error: std::error::Error + Send + Sync + 'static + From<crate::Error>;

    /// Latent channels `C` (4 for SD 1.5/SDXL, 16 for SD3/Flux).
    fn latent_channels(&self) -> usize;

    /// Spatial downscale factor `f` between image and latent (8 for Stable Diffusion VAEs).
    fn downscale_factor(&self) -> usize;

    /// Encodes `image` (`[N, 3, H, W]` in `[−1, 1]`, `H` and `W` multiples of `f`) to a
    /// model-space latent `[N, C, H/f, W/f]` (the posterior mean, scaled and shifted).
    fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error>;

    /// Decodes a model-space latent `[N, C, h, w]` to an image `[N, 3, h·f, w·f]` in roughly
    /// `[−1, 1]` (not clamped).
    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error>;

    /// Encodes tile by tile so that peak memory depends on the tile size, not on the image.
    ///
    /// The default cuts the image into `tiling.tile·f` px windows at `tiling.stride·f` px,
    /// encodes `tiling.batch` of them per call and blends the latent tiles with a feathered
    /// average. Implementations may override it with a seam-free scheme.
    fn encode_tiled(
        &self,
        image: Tensor<B, 4>,
        tiling: &CodecTiling,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        self.encode_tiled_with(image, tiling, &mut Reporter::silent(Stage::Encode))
    }

    /// [`LatentCodec::encode_tiled`], reporting each tile batch to `progress` (and stopping
    /// with [`crate::Error::Cancelled`] when its observer cancels). Implementations that tile
    /// their own way override this one; `encode_tiled` calls it.
    fn encode_tiled_with(
        &self,
        image: Tensor<B, 4>,
        tiling: &CodecTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        let f = self.downscale_factor();
        let [n, _, h, w] = image.dims();
        if h % f != 0 || w % f != 0 {
            return Err(crate::Error::shape(
                "image",
                format!("[N, 3, H, W] with H and W multiples of {f}"),
                &image.dims(),
            )
            .into());
        }
        let latent_plan = TilePlan::new(h / f, w / f, TileConfig::new(tiling.tile, tiling.stride))?;
        let pixel_plan = latent_plan.scaled(f)?;
        let mut merger = TileMerger::new(
            latent_plan,
            n,
            self.latent_channels(),
            Blend::Feather {
                width: tiling.feather,
            },
            &image.device(),
        )?;
        let padded = pixel_plan.pad(image)?;
        let total = pixel_plan.len();
        for chunk in batches(total, tiling.batch) {
            let tiles = pixel_plan.extract(&padded, &chunk)?;
            merger.add(&chunk, self.encode(tiles)?)?;
            progress.report(chunk[chunk.len() - 1] + 1, total)?;
        }
        Ok(merger.finish()?)
    }

    /// Decodes tile by tile so that peak memory depends on the tile size, not on the latent.
    ///
    /// The default cuts the latent into `tiling.tile` windows at `tiling.stride`, decodes
    /// `tiling.batch` of them per call and blends the image tiles with a feathered average over
    /// `tiling.feather·f` px. Implementations may override it with a seam-free scheme.
    fn decode_tiled(
        &self,
        latent: Tensor<B, 4>,
        tiling: &CodecTiling,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        self.decode_tiled_with(latent, tiling, &mut Reporter::silent(Stage::Decode))
    }

    /// [`LatentCodec::decode_tiled`], reporting each tile batch to `progress` (and stopping
    /// with [`crate::Error::Cancelled`] when its observer cancels). Implementations that tile
    /// their own way override this one; `decode_tiled` calls it.
    fn decode_tiled_with(
        &self,
        latent: Tensor<B, 4>,
        tiling: &CodecTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        let f = self.downscale_factor();
        let [n, _, h, w] = latent.dims();
        let latent_plan = TilePlan::new(h, w, TileConfig::new(tiling.tile, tiling.stride))?;
        let pixel_plan = latent_plan.scaled(f)?;
        let mut merger = TileMerger::new(
            pixel_plan,
            n,
            3,
            Blend::Feather {
                width: tiling.feather * f,
            },
            &latent.device(),
        )?;
        let padded = latent_plan.pad(latent)?;
        let total = latent_plan.len();
        for chunk in batches(total, tiling.batch) {
            let tiles = latent_plan.extract(&padded, &chunk)?;
            merger.add(&chunk, self.decode(tiles)?)?;
            progress.report(chunk[chunk.len() - 1] + 1, total)?;
        }
        Ok(merger.finish()?)
    }
}

fn batches(n: usize, batch: usize) -> impl Iterator<Item = Vec<usize>> {
    let batch = batch.max(1);
    (0..n)
        .step_by(batch)
        .map(move |s| (s..(s + batch).min(n)).collect())
}
