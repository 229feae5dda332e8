//! SD3's `PatchEmbed` with the cropped 2-D sin-cos table (diffusers `embeddings.py`:
//! `PatchEmbed`, `get_2d_sincos_pos_embed`, `cropped_pos_embed`; `../shared/specs/dit.md` §1.4).
//!
//! The latent is cut into `p×p` patches projected to `D` features (`proj`, a stride-`p`
//! convolution, computed here as one GEMM over the patches), tokens row-major over the
//! `(H/p, W/p)` grid, plus the centre crop of the stored `M×M` table `pos_embed` (a
//! checkpoint buffer: loaded, not recomputed). The crop starts at `((M − h)/2, (M − w)/2)`;
//! a grid larger than the table is refused, as diffusers refuses it (SD3-medium: `M = 192`,
//! so 3072 px with the 8× VAE, 6144 px with Diffusion-4K's 16× VAE).

use burn::module::{Param, ParamId};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_nn::NnBackend;
use ultrares_nn::ops::cast_to;
use ultrares_nn::weights::Visitor;

use crate::{DitError, Result};

/// diffusers' `get_2d_sincos_pos_embed(dim, grid, base_size, interpolation_scale=1)`:
/// `[grid², dim]`, row-major over (row, column); dims `[0, dim/2)` encode the column and
/// `[dim/2, dim)` the row, each half `[sin(pos·ω) | cos(pos·ω)]` with
/// `ω_k = 10000^(−k/(dim/4))` and positions `i / (grid / base_size)`, computed in f64 from f32
/// positions as diffusers does, then rounded to f32.
pub fn sincos_pos_embed(dim: usize, grid: usize, base_size: usize) -> Vec<f32> {
    let quarter = dim / 4;
    let step = (grid as f64 / base_size as f64) as f32;
    let pos: Vec<f64> = (0..grid).map(|i| f64::from(i as f32 / step)).collect();
    let omega: Vec<f64> = (0..quarter)
        .map(|k| 1.0 / 10000f64.powf(k as f64 / quarter as f64))
        .collect();
    let mut out = vec![0f32; grid * grid * dim];
    for r in 0..grid {
        for c in 0..grid {
            let row = &mut out[(r * grid + c) * dim..][..dim];
            for (half, p) in [(0, pos[c]), (1, pos[r])] {
                for (k, w) in omega.iter().enumerate() {
                    let (s, co) = (p * w).sin_cos();
                    row[half * 2 * quarter + k] = s as f32;
                    row[half * 2 * quarter + quarter + k] = co as f32;
                }
            }
        }
    }
    out
}

/// `pos_embed`: state-dict names `proj.weight`, `proj.bias`, `pos_embed` (`[1, M², D]`).
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    /// `proj`: `Conv2d(C, D, kernel = stride = p)`.
    pub proj: Conv2d<B>,
    /// The `[1, M², D]` sin-cos table.
    pub pos_embed: Param<Tensor<B, 3>>,
    patch: usize,
    max: usize,
}

impl<B: Backend> PatchEmbed<B> {
    /// Patches of `patch`² over `in_channels`, a `max`² table of `dim` features computed (lazily, on first use) with
    /// `base_size = sample_size / patch`: diffusers' value before a checkpoint overwrites it.
    pub fn new(
        in_channels: usize,
        dim: usize,
        patch: usize,
        max: usize,
        sample_size: usize,
        device: &B::Device,
    ) -> Self {
        let base = (sample_size / patch).max(1);
        let table = Param::uninitialized(
            ParamId::new(),
            move |device: &B::Device, require_grad: bool| {
                let t = Tensor::from_data(
                    TensorData::new(sincos_pos_embed(dim, max, base), [1, max * max, dim]),
                    device,
                );
                if require_grad { t.require_grad() } else { t }
            },
            device.clone(),
            false,
            [1, max * max, dim].into(),
        );
        Self {
            proj: Conv2dConfig::new([in_channels, dim], [patch, patch])
                .with_stride([patch, patch])
                .with_padding(PaddingConfig2d::Valid)
                .init(device),
            pos_embed: table,
            patch,
            max,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.conv2d(&format!("{prefix}.proj"), &mut self.proj);
        v.param(&format!("{prefix}.pos_embed"), &mut self.pos_embed);
    }

    /// The patch grid `(h, w)` of a `height × width` latent.
    ///
    /// # Errors
    /// [`DitError::Input`] if a side is not a multiple of the patch size or the grid exceeds
    /// the table (diffusers: "Height (h) cannot be greater than `pos_embed_max_size`").
    pub fn grid(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        let p = self.patch;
        if !height.is_multiple_of(p) || !width.is_multiple_of(p) || height == 0 || width == 0 {
            return Err(DitError::input(
                "hidden_states",
                format!(
                    "a latent whose height and width are positive multiples of the patch size {p}"
                ),
                format!("{height}×{width} (H×W)"),
            ));
        }
        let (h, w) = (height / p, width / p);
        for (side, n) in [("height", h), ("width", w)] {
            if n > self.max {
                return Err(DitError::input(
                    "hidden_states",
                    format!(
                        "a patch grid of at most {m}×{m} (pos_embed_max_size; a latent of at most \
                         {px}×{px}), as diffusers refuses larger ones",
                        m = self.max,
                        px = self.max * p
                    ),
                    format!("{side} {n} patches ({height}×{width} latent, H×W)"),
                ));
            }
        }
        Ok((h, w))
    }

    /// The centre crop of the table for an `h × w` patch grid, `[1, h·w, D]`.
    ///
    /// # Errors
    /// As [`grid`](Self::grid) (in patches).
    pub fn cropped_pos_embed(&self, h: usize, w: usize) -> Result<Tensor<B, 3>> {
        self.grid(h * self.patch, w * self.patch)?;
        let [_, _, d] = self.pos_embed.val().dims();
        let (top, left) = ((self.max - h) / 2, (self.max - w) / 2);
        Ok(self
            .pos_embed
            .val()
            .reshape([self.max, self.max, d])
            .slice([top..top + h, left..left + w, 0..d])
            .reshape([1, h * w, d]))
    }
}

impl<B: NnBackend> PatchEmbed<B> {
    /// Patch tokens plus the cropped table.
    ///
    /// # Shapes
    /// `[N, C, H, W] → [N, (H/p)·(W/p), D]`.
    ///
    /// # Errors
    /// As [`grid`](Self::grid).
    pub fn forward(&self, x: Tensor<B, 4>) -> Result<Tensor<B, 3>> {
        let [n, c, height, width] = x.dims();
        let (h, w) = self.grid(height, width)?;
        let p = self.patch;
        let weight = self.proj.weight.val();
        let d = weight.dims()[0];
        let patches = x
            .reshape([n, c, h, p, w, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([n * h * w, c * p * p]);
        let weight = weight.reshape([d, c * p * p]).transpose();
        let mut y = B::nn_matmul(patches, weight);
        if let Some(b) = &self.proj.bias {
            y = y + b.val().reshape([1, d]);
        }
        let y = y.reshape([n, h * w, d]);
        let pos = cast_to(self.cropped_pos_embed(h, w)?, y.dtype());
        Ok(y + pos)
    }
}
