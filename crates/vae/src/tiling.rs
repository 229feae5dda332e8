//! Tiled encode/decode: diffusers' `enable_tiling()` scheme, exactly, and a seamless scheme
//! whose output equals the untiled model's.
//!
//! # diffusers-compatible tiling ([`DiffusersTiling`])
//! `AutoencoderKL.tiled_decode`/`_tiled_encode` (diffusers 0.36): tiles of `tile_latent_min_size`
//! latents (`sample_size` pixels) every `⌊0.75·tile⌋`, decoded independently (each with its own
//! GroupNorm statistics and attention), blended linearly with the tile above and the tile to the
//! left over `⌊0.25·tile⌋` output pixels — in place, in row-major order, as upstream does — and
//! cropped to `tile − blend`. Tiling is used only when a side exceeds the tile, as upstream.
//! Memory: one row of output tiles plus the output.
//!
//! # Seamless tiling ([`SeamlessTiling`])
//! diffusers' tiles disagree where they overlap because every tile normalises with its own
//! GroupNorm statistics and attends only to itself. Here:
//! * the part of the network at latent resolution (the decoder's `conv_in`, mid block with its
//!   global attention and first up block's ResNets; the encoder's last down block, mid block and
//!   output layers) runs on the whole latent — attention in query blocks of bounded size;
//! * the rest runs on core tiles of `tile` latents extended by a `halo` of latents on every side
//!   (clipped at the image border, so border padding is the model's own); only the core is kept.
//!   With `halo` ≥ the receptive-field radius of that part (6.25 latents for SD decoders, ≈ 5.4
//!   for encoders; the default is 8), each core equals the untiled output — provided every
//!   GroupNorm normalises with the statistics of the *whole* image;
//! * those statistics are found by `stat_passes` passes over the tiles that accumulate, per
//!   GroupNorm layer and (sample, group), the count, mean and M2 of the core regions in f64
//!   (Chan's update). Within a pass each tile normalises with the running whole-image estimate —
//!   tiles done in this pass, itself, and the tiles still to come as the previous pass measured
//!   them (Gauss–Seidel). A layer's statistics are exact once all earlier layers' are, and the
//!   passes converge fast: on the golden test's hard case (12 small tiles) the decode is 7.7e-3,
//!   1.3e-3, 4.4e-5 and 2.0e-6 from the untiled one after 1, 2, 3 and 4 passes (default 3). Every
//!   tile of the output pass uses the same statistics, so even one pass leaves no seams.
//!
//! Peak memory (f32, decode), to first order: the global part, about three tensors of
//! `4·N·C_top·h·w` bytes (C_top = 512 for SD VAEs: 3 × 512 MiB for a 512² latent, i.e. a 4096²
//! image), the output `4·N·3·H·W`, and one tile's activations at full resolution, about
//! `4·N·((tile + 2·halo)·f)²·(2·C₁ + 2·C₀)` bytes (`C₀`, `C₁` = `block_out_channels[0..2]`;
//! ≈ 3 GB for SD VAEs with the default 128-latent extended tile — lower `tile` to lower it),
//! plus the attention score block ([`SeamlessTiling::attention_scores`] floats). Only the
//! global part and the output grow with the image. Compute: `(stat_passes + 1)×` the tiled part,
//! each tile costing `((tile + 2·halo)/tile)²` of its core; the measured figures are in
//! `docs/benchmarks.md`.

use burn::prelude::*;
use ultrares_core::{CodecTiling, Reporter, Stage};
use ultrares_nn::NnBackend;

use crate::autoencoder::AutoencoderKl;
use crate::norm::{Collect, Core, DEFAULT_ATTENTION_SCORES, GroupStats, NormCtx};
use crate::{Error, Result};
use ultrares_nn::ops::{concat, to_f32};

/// diffusers' tiling parameters (`AutoencoderKL.enable_tiling()`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffusersTiling {
    /// `tile_sample_min_size`: tile size in pixels (the config's `sample_size`).
    pub sample: usize,
    /// `tile_latent_min_size`: tile size in latents (`sample_size / 2^(blocks − 1)`).
    pub latent: usize,
    /// `tile_overlap_factor` (0.25).
    pub overlap_factor: f64,
}

impl DiffusersTiling {
    /// Tiles of `sample` pixels / `latent` latents with diffusers' overlap factor 0.25.
    pub fn new(sample: usize, latent: usize) -> Self {
        Self {
            sample,
            latent,
            overlap_factor: 0.25,
        }
    }

    fn validate(&self) -> Result<()> {
        let ok = self.sample >= 4
            && self.latent >= 2
            && self.overlap_factor.is_finite()
            && (0.0..1.0).contains(&self.overlap_factor)
            && (self.latent as f64 * (1.0 - self.overlap_factor)) as usize >= 1
            && (self.sample as f64 * (1.0 - self.overlap_factor)) as usize >= 1;
        if !ok {
            return Err(Error::config(
                "tiling",
                "sample ≥ 4, latent ≥ 2, 0 ≤ overlap_factor < 1",
                format!("{self:?}"),
            ));
        }
        Ok(())
    }
}

/// Parameters of the seamless tiled encode/decode (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeamlessTiling {
    /// Core tile size in latents (kept part of each tile).
    pub tile: usize,
    /// Context added on every side of a core, in latents.
    pub halo: usize,
    /// Passes that gather GroupNorm statistics before the output pass (≥ 1).
    pub stat_passes: usize,
    /// Largest attention score block in elements (the global part's attention).
    pub attention_scores: usize,
}

impl Default for SeamlessTiling {
    /// 112-latent cores with an 8-latent halo (128-latent tiles, SDXL's native size), three
    /// statistics passes.
    fn default() -> Self {
        Self {
            tile: 112,
            halo: 8,
            stat_passes: 3,
            attention_scores: DEFAULT_ATTENTION_SCORES,
        }
    }
}

impl SeamlessTiling {
    /// Cores of `tiling.stride` latents, halo `(tiling.tile − tiling.stride) / 2`.
    pub fn from_codec_tiling(tiling: &CodecTiling) -> Self {
        Self {
            tile: tiling.stride,
            halo: tiling.tile.saturating_sub(tiling.stride) / 2,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.tile == 0 || self.stat_passes == 0 || self.attention_scores == 0 {
            return Err(Error::config(
                "tiling",
                "tile ≥ 1, stat_passes ≥ 1, attention_scores ≥ 1",
                format!("{self:?}"),
            ));
        }
        Ok(())
    }

    /// `(core, extended)` rectangles `[y0, y1, x0, x1]` in latents covering `h × w`.
    fn tiles(&self, h: usize, w: usize) -> Vec<([usize; 4], [usize; 4])> {
        let mut out = Vec::new();
        for y0 in (0..h).step_by(self.tile) {
            for x0 in (0..w).step_by(self.tile) {
                let core = [y0, (y0 + self.tile).min(h), x0, (x0 + self.tile).min(w)];
                let ext = [
                    y0.saturating_sub(self.halo),
                    (core[1] + self.halo).min(h),
                    x0.saturating_sub(self.halo),
                    (core[3] + self.halo).min(w),
                ];
                out.push((core, ext));
            }
        }
        out
    }
}

fn slice4<B: NnBackend>(x: &Tensor<B, 4>, r: [usize; 4], s: usize) -> Tensor<B, 4> {
    let [n, c, _, _] = x.dims();
    x.clone()
        .slice([0..n, 0..c, r[0] * s..r[1] * s, r[2] * s..r[3] * s])
}

fn core_in(core: [usize; 4], ext: [usize; 4], s: usize) -> Core {
    Core {
        y0: (core[0] - ext[0]) * s,
        y1: (core[1] - ext[0]) * s,
        x0: (core[2] - ext[2]) * s,
        x1: (core[3] - ext[2]) * s,
        height: (ext[1] - ext[0]) * s,
        width: (ext[3] - ext[2]) * s,
    }
}

/// diffusers' `blend_v` (`vertical = true`) / `blend_h`: the first `e` rows (columns) of `b`
/// become `a`'s last `e` · `(1 − y/e)` + `b` · `y/e`, `e = min(a, b, extent)`.
fn blend<B: NnBackend>(
    a: &Tensor<B, 4>,
    b: Tensor<B, 4>,
    extent: usize,
    vertical: bool,
) -> Tensor<B, 4> {
    let axis = if vertical { 2 } else { 3 };
    let (la, lb) = (a.dims()[axis], b.dims()[axis]);
    let e = extent.min(la).min(lb);
    if e == 0 {
        return b;
    }
    let wb: Vec<f32> = (0..e).map(|y| (y as f64 / e as f64) as f32).collect();
    let wa: Vec<f32> = (0..e).map(|y| (1.0 - y as f64 / e as f64) as f32).collect();
    let device = b.device();
    let shape = if vertical { [1, 1, e, 1] } else { [1, 1, 1, e] };
    let wa = Tensor::<B, 1>::from_floats(wa.as_slice(), &device).reshape(shape);
    let wb = Tensor::<B, 1>::from_floats(wb.as_slice(), &device).reshape(shape);
    let a_tail = a.clone().narrow(axis, la - e, e);
    let b_head = b.clone().narrow(axis, 0, e);
    let mixed = a_tail * wa + b_head * wb;
    let [n, c, h, w] = b.dims();
    if vertical {
        b.slice_assign([0..n, 0..c, 0..e, 0..w], mixed)
    } else {
        b.slice_assign([0..n, 0..c, 0..h, 0..e], mixed)
    }
}

/// diffusers' row-major tiled loop over `x` (`tile` at `step`), each tile mapped by `run`,
/// blended over `blend_extent` and cropped to `row_limit`.
fn diffusers_tiles<B: NnBackend>(
    x: &Tensor<B, 4>,
    tile: usize,
    step: usize,
    blend_extent: usize,
    row_limit: usize,
    progress: &mut Reporter<'_, B>,
    mut run: impl FnMut(Tensor<B, 4>) -> Result<Tensor<B, 4>>,
) -> Result<Tensor<B, 4>> {
    let [_, _, h, w] = x.dims();
    let total = h.div_ceil(step) * w.div_ceil(step);
    let mut done = 0;
    let mut above: Vec<Tensor<B, 4>> = Vec::new();
    let mut rows = Vec::new();
    for i in (0..h).step_by(step) {
        let mut row: Vec<Tensor<B, 4>> = Vec::new();
        for (jj, j) in (0..w).step_by(step).enumerate() {
            let mut t = run(slice4(x, [i, (i + tile).min(h), j, (j + tile).min(w)], 1))?;
            if i > 0 {
                t = blend(&above[jj], t, blend_extent, true);
            }
            if jj > 0 {
                t = blend(&row[jj - 1], t, blend_extent, false);
            }
            row.push(t);
            done += 1;
            progress.report(done, total)?;
        }
        let crops: Vec<_> = row
            .iter()
            .map(|t| {
                let [n, c, th, tw] = t.dims();
                t.clone()
                    .slice([0..n, 0..c, 0..row_limit.min(th), 0..row_limit.min(tw)])
            })
            .collect();
        rows.push(concat(crops, 3));
        above = row;
    }
    Ok(concat(rows, 2))
}

impl<B: NnBackend> AutoencoderKl<B> {
    /// diffusers' `tiled_decode` of a model-space latent (see the module docs); untiled when
    /// the latent fits in one tile, as upstream.
    ///
    /// # Errors
    /// [`ultrares_core::Error`] for a wrong shape or non-finite input; [`Error::Config`] for bad
    /// tiling parameters.
    pub fn decode_tiled_diffusers(
        &self,
        latent: Tensor<B, 4>,
        tiling: &DiffusersTiling,
    ) -> Result<Tensor<B, 4>> {
        self.decode_tiled_diffusers_with(latent, tiling, &mut Reporter::silent(Stage::Decode))
    }

    /// [`AutoencoderKl::decode_tiled_diffusers`], reporting each tile to `progress`.
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_tiled_diffusers`], and [`ultrares_core::Error::Cancelled`]
    /// when the observer cancels.
    pub fn decode_tiled_diffusers_with(
        &self,
        latent: Tensor<B, 4>,
        tiling: &DiffusersTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        tiling.validate()?;
        let [_, _, h, w] = latent.dims();
        if h <= tiling.latent && w <= tiling.latent {
            return self.decode(latent);
        }
        self.check_latent(&latent)?;
        let z = self.to_dtype(self.from_model_space(latent));
        let step = (tiling.latent as f64 * (1.0 - tiling.overlap_factor)) as usize;
        let blend_extent = (tiling.sample as f64 * tiling.overlap_factor) as usize;
        diffusers_tiles(
            &z,
            tiling.latent,
            step,
            blend_extent,
            tiling.sample - blend_extent,
            progress,
            |t| {
                self.decoder
                    .forward(self.post_quant(t), self.partitioned, &mut self.ctx())
            },
        )
        .map(to_f32)
    }

    /// diffusers' `_tiled_encode`: the blended posterior moments `[N, 2C, h, w]` in VAE space;
    /// untiled when the image fits in one tile, as upstream.
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_tiled_diffusers`].
    pub fn encode_moments_tiled_diffusers(
        &self,
        image: Tensor<B, 4>,
        tiling: &DiffusersTiling,
    ) -> Result<Tensor<B, 4>> {
        let mut progress = Reporter::silent(Stage::Encode);
        self.encode_moments_tiled_diffusers_with(image, tiling, &mut progress)
    }

    /// [`AutoencoderKl::encode_moments_tiled_diffusers`], reporting each tile to `progress`.
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_tiled_diffusers_with`].
    pub fn encode_moments_tiled_diffusers_with(
        &self,
        image: Tensor<B, 4>,
        tiling: &DiffusersTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        tiling.validate()?;
        let [_, _, h, w] = image.dims();
        if h <= tiling.sample && w <= tiling.sample {
            return self.encode_moments(image);
        }
        self.check_image(&image)?;
        let image = self.to_encoder_dtype(image);
        let step = (tiling.sample as f64 * (1.0 - tiling.overlap_factor)) as usize;
        let blend_extent = (tiling.latent as f64 * tiling.overlap_factor) as usize;
        diffusers_tiles(
            &image,
            tiling.sample,
            step,
            blend_extent,
            tiling.latent - blend_extent,
            progress,
            |t| Ok(self.quant(self.encoder.forward(t, &mut self.ctx())?)),
        )
        .map(to_f32)
    }

    /// [`AutoencoderKl::encode_moments_tiled_diffusers`], then the model-space posterior mean.
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_tiled_diffusers`].
    pub fn encode_tiled_diffusers(
        &self,
        image: Tensor<B, 4>,
        tiling: &DiffusersTiling,
    ) -> Result<Tensor<B, 4>> {
        Ok(self.moments_to_latent(self.encode_moments_tiled_diffusers(image, tiling)?))
    }

    /// The seamless tiled decode of a model-space latent (see the module docs).
    ///
    /// # Errors
    /// [`ultrares_core::Error`] for a wrong shape or non-finite input; [`Error::Config`] for bad
    /// tiling parameters.
    pub fn decode_seamless(
        &self,
        latent: Tensor<B, 4>,
        tiling: &SeamlessTiling,
    ) -> Result<Tensor<B, 4>> {
        self.decode_seamless_with(latent, tiling, &mut Reporter::silent(Stage::Decode))
    }

    /// [`AutoencoderKl::decode_seamless`], reporting each tile of every pass to `progress`
    /// (`tiles × (stat_passes + 1)` steps).
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_seamless`], and [`ultrares_core::Error::Cancelled`] when the
    /// observer cancels.
    pub fn decode_seamless_with(
        &self,
        latent: Tensor<B, 4>,
        tiling: &SeamlessTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        tiling.validate()?;
        self.check_latent(&latent)?;
        let z = self.post_quant(self.to_dtype(self.from_model_space(latent)));
        let ctx = |stats| NormCtx::with_stats(stats, tiling.attention_scores, self.gemm_band);
        let head = self.decoder.head(z, &mut ctx(None))?;
        let [n, _, h, w] = head.dims();
        let tiles = tiling.tiles(h, w);
        if tiles.len() == 1 {
            let y = self.decoder.tail(head, self.partitioned, &mut ctx(None))?;
            progress.report(1, 1)?;
            return Ok(to_f32(y));
        }
        let stats = self.gather_stats(&head, tiling, 1, progress, |x, ctx| {
            self.decoder.features(x, ctx).map(drop)
        })?;
        let total = tiles.len() * (tiling.stat_passes + 1);
        let f = self.factor;
        let out_channels = self.decoder.conv_out.weight.dims()[0];
        let mut out = Tensor::<B, 4>::zeros([n, out_channels, h * f, w * f], &head.device());
        for (t, &(core, ext)) in tiles.iter().enumerate() {
            let y = self.decoder.tail(
                slice4(&head, ext, 1),
                self.partitioned,
                &mut NormCtx::with_stats(Some(&stats), tiling.attention_scores, self.gemm_band),
            )?;
            let local = [
                core[0] - ext[0],
                core[1] - ext[0],
                core[2] - ext[2],
                core[3] - ext[2],
            ];
            out = out.slice_assign(
                [
                    0..n,
                    0..out_channels,
                    core[0] * f..core[1] * f,
                    core[2] * f..core[3] * f,
                ],
                to_f32(slice4(&y, local, f)),
            );
            progress.report(total - tiles.len() + t + 1, total)?;
        }
        Ok(out)
    }

    /// The seamless tiled encode: the posterior moments `[N, 2C, h, w]` in VAE space, equal to
    /// the untiled encoder's (see the module docs).
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_seamless`].
    pub fn encode_moments_seamless(
        &self,
        image: Tensor<B, 4>,
        tiling: &SeamlessTiling,
    ) -> Result<Tensor<B, 4>> {
        let mut progress = Reporter::silent(Stage::Encode);
        self.encode_moments_seamless_with(image, tiling, &mut progress)
    }

    /// [`AutoencoderKl::encode_moments_seamless`], reporting each tile of every pass to
    /// `progress` (`tiles × (stat_passes + 1)` steps).
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_seamless_with`].
    pub fn encode_moments_seamless_with(
        &self,
        image: Tensor<B, 4>,
        tiling: &SeamlessTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        tiling.validate()?;
        self.check_image(&image)?;
        let image = self.to_encoder_dtype(image);
        let f = self.factor;
        let [n, _, hp, wp] = image.dims();
        let (h, w) = (hp / f, wp / f);
        let tiles = tiling.tiles(h, w);
        let ctx = |stats| NormCtx::with_stats(stats, tiling.attention_scores, self.gemm_band);
        let feats = if tiles.len() == 1 {
            let y = self.encoder.head(image, &mut ctx(None))?;
            progress.report(1, 1)?;
            y
        } else {
            let stats = self.gather_stats(&image, tiling, f, progress, |x, ctx| {
                self.encoder.head(x, ctx).map(drop)
            })?;
            let total = tiles.len() * (tiling.stat_passes + 1);
            let top = self.encoder.head_channels();
            let mut feats = Tensor::<B, 4>::zeros([n, top, h, w], (&image.device(), image.dtype()));
            for (t, &(core, ext)) in tiles.iter().enumerate() {
                let y = self.encoder.head(
                    slice4(&image, ext, f),
                    &mut NormCtx::with_stats(Some(&stats), tiling.attention_scores, self.gemm_band),
                )?;
                let local = [
                    core[0] - ext[0],
                    core[1] - ext[0],
                    core[2] - ext[2],
                    core[3] - ext[2],
                ];
                feats = feats.slice_assign(
                    [0..n, 0..top, core[0]..core[1], core[2]..core[3]],
                    slice4(&y, local, 1),
                );
                progress.report(total - tiles.len() + t + 1, total)?;
            }
            feats
        };
        Ok(to_f32(
            self.quant(self.encoder.tail(feats, &mut ctx(None))?),
        ))
    }

    /// [`AutoencoderKl::encode_moments_seamless`], then the model-space posterior mean.
    ///
    /// # Errors
    /// As [`AutoencoderKl::decode_seamless`].
    pub fn encode_seamless(
        &self,
        image: Tensor<B, 4>,
        tiling: &SeamlessTiling,
    ) -> Result<Tensor<B, 4>> {
        Ok(self.moments_to_latent(self.encode_moments_seamless(image, tiling)?))
    }

    /// GroupNorm statistics of the whole input `x` (`s` pixels per latent): `stat_passes`
    /// Gauss–Seidel passes of `run` over the tiles. Each tile normalises with the running
    /// estimate of the whole image — tiles done in this pass, itself, and the tiles to come as the
    /// previous pass measured them — and records its own core statistics.
    fn gather_stats(
        &self,
        x: &Tensor<B, 4>,
        tiling: &SeamlessTiling,
        s: usize,
        progress: &mut Reporter<'_, B>,
        run: impl Fn(Tensor<B, 4>, &mut NormCtx) -> Result<()>,
    ) -> Result<Vec<GroupStats>> {
        let [_, _, hp, wp] = x.dims();
        let tiles = tiling.tiles(hp / s, wp / s);
        let merge_into = |acc: &mut Vec<GroupStats>, part: &[GroupStats]| {
            if acc.len() < part.len() {
                acc.resize(part.len(), GroupStats::default());
            }
            for (a, p) in acc.iter_mut().zip(part) {
                a.merge_stats(p);
            }
        };
        let mut previous: Vec<Vec<GroupStats>> = Vec::new();
        let mut total = Vec::new();
        let steps = tiles.len() * (tiling.stat_passes + 1);
        for pass in 0..tiling.stat_passes {
            // pending[t]: the previous pass's statistics of tiles t.. (suffix sums).
            let mut pending = vec![Vec::new(); tiles.len() + 1];
            for t in (0..previous.len().min(tiles.len())).rev() {
                let mut acc = pending[t + 1].clone();
                merge_into(&mut acc, &previous[t]);
                pending[t] = acc;
            }
            let mut done: Vec<GroupStats> = Vec::new();
            let mut current = Vec::with_capacity(tiles.len());
            for (t, &(core, ext)) in tiles.iter().enumerate() {
                let mut mine = Vec::new();
                let mut ctx = NormCtx {
                    layer: 0,
                    stats: None,
                    collect: Some(Collect {
                        stats: &mut mine,
                        core: core_in(core, ext, s),
                        done: &done,
                        pending: &pending[t + 1],
                    }),
                    attention_scores: tiling.attention_scores,
                    gemm_band: self.gemm_band,
                };
                run(slice4(x, ext, s), &mut ctx)?;
                merge_into(&mut done, &mine);
                current.push(mine);
                progress.report(pass * tiles.len() + t + 1, steps)?;
            }
            previous = current;
            total = done;
        }
        Ok(total)
    }
}
