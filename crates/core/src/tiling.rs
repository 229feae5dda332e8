//! Overlapping windows over an `H × W` tensor: split, feathered blend weights, and the merge.
//!
//! The window layout is DemoFusion's `get_views` (`PRIS-CV/DemoFusion:pipeline_demofusion_sdxl.py`,
//! identical in `3587jjh/LSRNA`), generalised to rectangular windows and to sizes smaller than
//! the window (the window is then clamped to the size):
//!
//! * `n = ⌊(H − win)/stride − 10⁻⁶⌋ + 2` windows along an axis when `H > win`, else 1;
//! * window `i` starts at `i·stride`; one that runs past the end is shifted back to end at `H`;
//! * optional jitter (DemoFusion's `random_jitter`): `J = (win − stride) / 4`; the tensor is
//!   zero-padded by `J` on every side and each window moves by a seeded offset in `[−J, J]`
//!   (`[−J, 0]` at the start edge, `[0, J]` at the end edge, 0 when a window spans the axis), so
//!   window coordinates are in the padded frame. DemoFusion draws with Python's `random`; here the
//!   offsets come from a ChaCha8 stream keyed by the seed (same seed, same views).
//!
//! Merging accumulates `Σ wᵢ·tileᵢ` and `Σ wᵢ` and divides; every weight is strictly positive,
//! so `merge(split(x)) == x` for every size ≥ 1 and every valid window/stride (property-tested).
//!
//! Memory: the merge holds two accumulators of the (padded) full size (`N·C·H·W` and `H·W`
//! floats) plus one tile batch; tiles can be produced and merged one batch at a time with
//! [`TileMerger`], so no more than one batch of tile activations is alive at once.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::{Error, Result};

/// The largest number of tiles one plan may hold (2²⁴).
pub const MAX_TILES: usize = 1 << 24;

/// How to place overlapping windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileConfig {
    /// Window size `[height, width]` (clamped to the tensor size along each axis).
    pub window: [usize; 2],
    /// Step between window starts `[height, width]`; `1 ≤ stride ≤ window`.
    pub stride: [usize; 2],
    /// `Some(seed)` enables DemoFusion's random jitter, drawn from `seed`.
    pub jitter: Option<u64>,
}

impl TileConfig {
    /// Square windows of `window` with step `stride` and no jitter.
    pub fn new(window: usize, stride: usize) -> Self {
        Self {
            window: [window; 2],
            stride: [stride; 2],
            jitter: None,
        }
    }

    /// DemoFusion's local views: 128-latent windows, stride 64, jitter from `seed`.
    pub fn demofusion(seed: u64) -> Self {
        Self::new(128, 64).with_jitter(seed)
    }

    /// The same layout with DemoFusion's random jitter drawn from `seed`.
    pub fn with_jitter(mut self, seed: u64) -> Self {
        self.jitter = Some(seed);
        self
    }
}

/// One window: rows `y..y + h`, columns `x..x + w`, in the padded frame of its [`TilePlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// First row.
    pub y: usize,
    /// First column.
    pub x: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

/// How overlapping tiles are weighted in the merge.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Blend {
    /// Every tile pixel weighs 1: the plain average of MultiDiffusion and DemoFusion.
    #[default]
    Average,
    /// Linear ramps over `width` pixels at tile edges that lie inside the canvas (edges on the
    /// canvas border are not feathered): `w(d) = min(1, (d + 1)/(width + 1))` at distance `d`.
    Feather {
        /// Ramp length in pixels.
        width: usize,
    },
    /// Mixture-of-Diffusers Gaussian weights: `exp(−(u − ½)²/(2σ²))` per axis with `u ∈ [0, 1]`
    /// the relative position inside the tile.
    Gaussian {
        /// Standard deviation relative to the tile size (0.1 = Mixture of Diffusers' variance 0.01).
        sigma: f64,
    },
}

/// A window layout over an `H × W` canvas (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TilePlan {
    /// Canvas height (unpadded).
    pub height: usize,
    /// Canvas width (unpadded).
    pub width: usize,
    /// Zero padding added on every side before tiling (the jitter range `J`, else 0).
    pub pad: [usize; 2],
    /// Tile size `[h, w]` (all tiles have it).
    pub tile: [usize; 2],
    /// The windows, row-major, in the padded frame.
    pub tiles: Vec<Tile>,
}

fn axis_starts(len: usize, win: usize, stride: usize) -> Vec<usize> {
    let n = if len > win {
        // ⌊(len − win)/stride − 1e-6⌋ + 2, in exact integer arithmetic.
        (len - win).div_ceil(stride) + 1
    } else {
        1
    };
    (0..n).map(|i| (i * stride).min(len - win)).collect()
}

/// The jitter range of a window starting at `start`, `None` when it spans the axis.
fn jitter_range(win: usize, start: usize, len: usize, j: usize) -> Option<(i64, i64)> {
    let (j, at_start, at_end) = (j as i64, start == 0, start + win == len);
    match (at_start, at_end) {
        (false, false) => Some((-j, j)),
        (true, false) => Some((-j, 0)),
        (false, true) => Some((0, j)),
        (true, true) => None,
    }
}

impl TilePlan {
    /// The windows covering an `height × width` canvas.
    ///
    /// # Errors
    /// [`Error::Argument`] for a zero size, a zero window, or a stride outside `1..=window`.
    pub fn new(height: usize, width: usize, cfg: TileConfig) -> Result<Self> {
        let mut rng = cfg.jitter.map(ChaCha8Rng::seed_from_u64);
        Self::build(height, width, cfg, |range| match (rng.as_mut(), range) {
            (Some(r), Some((lo, hi))) if hi > lo => {
                Ok(lo + (r.next_u64() % (hi - lo + 1) as u64) as i64)
            }
            _ => Ok(0),
        })
    }

    /// DemoFusion's and LSRNA's `get_views` (`PRIS-CV/DemoFusion:pipeline_demofusion_sdxl.py`,
    /// `3587jjh/LSRNA:pipeline_lsrna_demofusion_sdxl.py`): square `window`s at `stride`, with
    /// the random jitter drawn from `jitter` exactly as upstream draws from Python's `random`:
    /// `randint(lo, hi)` for the width, then the height, of every window that does not span its
    /// axis (even when `J = 0`), so a replay of the reference's draws stays aligned.
    ///
    /// One deviation, at sizes upstream cannot run: a latent smaller than the window along an
    /// axis gets one window clamped to it and no draw on that axis; upstream keeps the full
    /// window, jitters it into the padding, and its crops of different sizes then fail to
    /// concatenate.
    ///
    /// # Errors
    /// As [`TilePlan::new`], and the [`Randomness`](crate::Randomness) source's errors.
    pub fn demofusion(
        height: usize,
        width: usize,
        window: usize,
        stride: usize,
        jitter: Option<&mut dyn crate::Randomness>,
    ) -> Result<Self> {
        match jitter {
            Some(rng) => Self::build(
                height,
                width,
                TileConfig::new(window, stride).with_jitter(0),
                |range| match range {
                    Some((lo, hi)) => rng.randint(lo, hi),
                    None => Ok(0),
                },
            ),
            None => Self::new(height, width, TileConfig::new(window, stride)),
        }
    }

    /// The layout of [`TilePlan::new`] with jitter offsets from `draw` (given the range of a
    /// window that does not span its axis, `None` for one that does); `cfg.jitter` only says
    /// whether there is a padding frame.
    fn build(
        height: usize,
        width: usize,
        cfg: TileConfig,
        mut draw: impl FnMut(Option<(i64, i64)>) -> Result<i64>,
    ) -> Result<Self> {
        if height == 0 || width == 0 {
            return Err(Error::argument(
                "height, width",
                "a canvas of at least 1×1",
                format!("{height}×{width}"),
            ));
        }
        for a in 0..2 {
            if cfg.window[a] == 0 {
                return Err(Error::argument("window", "≥ 1", cfg.window[a]));
            }
            if cfg.stride[a] == 0 || cfg.stride[a] > cfg.window[a] {
                return Err(Error::argument(
                    "stride",
                    format!("1 ≤ stride ≤ window ({})", cfg.window[a]),
                    cfg.stride[a],
                ));
            }
        }
        let dims = [height, width];
        let win = [0, 1].map(|a| cfg.window[a].min(dims[a]));
        let stride = [0, 1].map(|a| cfg.stride[a].min(win[a]));
        let pad = match cfg.jitter {
            Some(_) => [0, 1].map(|a| (cfg.window[a] - cfg.stride[a]) / 4),
            None => [0, 0],
        };
        let count =
            |len: usize, a: usize| (len.saturating_sub(win[a])).div_ceil(stride[a]) as u128 + 1;
        let tiles = count(height, 0) * count(width, 1);
        if tiles > MAX_TILES as u128 {
            return Err(Error::TooLarge {
                arg: "tiles",
                elements: tiles,
                limit: MAX_TILES as u128,
            });
        }
        let ys = axis_starts(height, win[0], stride[0]);
        let xs = axis_starts(width, win[1], stride[1]);
        let mut tiles = Vec::with_capacity(ys.len() * xs.len());
        for &y in &ys {
            for &x in &xs {
                // Same order as DemoFusion: the width jitter is drawn before the height jitter.
                let (jx, jy) = if cfg.jitter.is_some() {
                    let jx = draw(jitter_range(win[1], x, width, pad[1]))?;
                    (jx, draw(jitter_range(win[0], y, height, pad[0]))?)
                } else {
                    (0, 0)
                };
                tiles.push(Tile {
                    y: (y as i64 + jy + pad[0] as i64) as usize,
                    x: (x as i64 + jx + pad[1] as i64) as usize,
                    h: win[0],
                    w: win[1],
                });
            }
        }
        Ok(Self {
            height,
            width,
            pad,
            tile: win,
            tiles,
        })
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether the plan has no tiles (never true for a plan built by [`TilePlan::new`]).
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// The padded canvas size `[H + 2·pad_h, W + 2·pad_w]`.
    pub fn padded_size(&self) -> [usize; 2] {
        [self.height + 2 * self.pad[0], self.width + 2 * self.pad[1]]
    }

    /// The same plan with every coordinate multiplied by `factor`, e.g. a latent plan mapped to
    /// pixels (`factor` = the VAE's downscale factor 8).
    ///
    /// # Errors
    /// [`Error::Argument`] for a zero factor or a result that overflows.
    pub fn scaled(&self, factor: usize) -> Result<Self> {
        let mul = |v: usize| {
            v.checked_mul(factor)
                .filter(|_| factor > 0)
                .ok_or_else(|| Error::argument("factor", "≥ 1 and no overflow", factor))
        };
        Ok(Self {
            height: mul(self.height)?,
            width: mul(self.width)?,
            pad: [mul(self.pad[0])?, mul(self.pad[1])?],
            tile: [mul(self.tile[0])?, mul(self.tile[1])?],
            tiles: self
                .tiles
                .iter()
                .map(|t| {
                    Ok(Tile {
                        y: mul(t.y)?,
                        x: mul(t.x)?,
                        h: mul(t.h)?,
                        w: mul(t.w)?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    fn check_canvas(&self, arg: &'static str, dims: [usize; 4], padded: bool) -> Result<()> {
        let [h, w] = if padded {
            self.padded_size()
        } else {
            [self.height, self.width]
        };
        if dims[2] != h || dims[3] != w || dims[0] == 0 || dims[1] == 0 {
            return Err(Error::shape(
                arg,
                format!("[N ≥ 1, C ≥ 1, {h}, {w}]"),
                &dims,
            ));
        }
        Ok(())
    }

    /// Zero-pads `x` (`[N, C, H, W]`) to the padded frame the tiles index into.
    ///
    /// # Errors
    /// [`Error::Shape`] unless `x` is `[N, C, height, width]`.
    pub fn pad<B: Backend>(&self, x: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        self.check_canvas("x", x.dims(), false)?;
        Ok(if self.pad == [0, 0] {
            x
        } else {
            let [py, px] = self.pad;
            x.pad(
                [(py, py), (px, px)],
                burn::tensor::ops::PadMode::Constant(0.0),
            )
        })
    }

    /// Crops tiles `indices` out of a padded `[N, C, H', W']` tensor (see [`TilePlan::pad`]) and
    /// stacks them along the batch axis: `[k·N, C, th, tw]`, tile-major (tile 0's `N` items first).
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong canvas, [`Error::Argument`] for an index out of range or none.
    pub fn extract<B: Backend>(
        &self,
        padded: &Tensor<B, 4>,
        indices: &[usize],
    ) -> Result<Tensor<B, 4>> {
        self.check_canvas("padded", padded.dims(), true)?;
        self.check_indices(indices)?;
        let parts = indices
            .iter()
            .map(|&i| {
                let t = self.tiles[i];
                padded.clone().slice([
                    0..padded.dims()[0],
                    0..padded.dims()[1],
                    t.y..t.y + t.h,
                    t.x..t.x + t.w,
                ])
            })
            .collect();
        Ok(Tensor::cat(parts, 0))
    }

    fn check_indices(&self, indices: &[usize]) -> Result<()> {
        if indices.is_empty() {
            return Err(Error::argument(
                "indices",
                "at least one tile index",
                "none",
            ));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.tiles.len()) {
            return Err(Error::argument(
                "indices",
                format!("tile indices < {}", self.tiles.len()),
                bad,
            ));
        }
        Ok(())
    }

    /// Every tile of `x` (`[N, C, height, width]`), each `[N, C, th, tw]`.
    ///
    /// # Errors
    /// [`Error::Shape`] unless `x` is `[N, C, height, width]`.
    pub fn split<B: Backend>(&self, x: Tensor<B, 4>) -> Result<Vec<Tensor<B, 4>>> {
        let padded = self.pad(x)?;
        (0..self.len())
            .map(|i| self.extract(&padded, &[i]))
            .collect()
    }

    /// The blend weights of tile `index` as `th × tw` row-major values, all > 0.
    ///
    /// # Errors
    /// [`Error::Argument`] for an index out of range or a non-positive Gaussian σ.
    pub fn weights(&self, index: usize, blend: Blend) -> Result<Vec<f32>> {
        self.check_indices(&[index])?;
        let t = self.tiles[index];
        let [ph, pw] = self.padded_size();
        let axis = |len: usize, start: usize, canvas: usize| -> Result<Vec<f32>> {
            Ok(match blend {
                Blend::Average => vec![1.0; len],
                Blend::Feather { width } => {
                    let (lo, hi) = (start > 0, start + len < canvas);
                    (0..len)
                        .map(|d| {
                            let ramp =
                                |dist: usize| ((dist + 1) as f32 / (width + 1) as f32).min(1.0);
                            let a = if lo { ramp(d) } else { 1.0 };
                            let b = if hi { ramp(len - 1 - d) } else { 1.0 };
                            a.min(b)
                        })
                        .collect()
                }
                Blend::Gaussian { sigma } => {
                    if !(sigma.is_finite() && sigma > 0.0) {
                        return Err(Error::argument("sigma", "a finite value > 0", sigma));
                    }
                    (0..len)
                        .map(|d| {
                            let u = if len > 1 {
                                d as f64 / (len - 1) as f64
                            } else {
                                0.5
                            };
                            // Floor keeps the weight strictly positive in f32.
                            ((-(u - 0.5).powi(2) / (2.0 * sigma * sigma)).exp() as f32)
                                .max(f32::MIN_POSITIVE)
                        })
                        .collect()
                }
            })
        };
        let wy = axis(t.h, t.y, ph)?;
        let wx = axis(t.w, t.x, pw)?;
        Ok(wy
            .iter()
            .flat_map(|a| wx.iter().map(move |b| a * b))
            .collect())
    }

    /// Merges all tiles (as returned by [`TilePlan::split`], possibly processed) back into
    /// `[N, C, height, width]` with `blend` weights.
    ///
    /// # Errors
    /// [`Error::Argument`] when the number of tiles differs from the plan; [`Error::Shape`] when
    /// a tile is not `[N, C, th, tw]` with the first tile's `N, C`.
    pub fn merge<B: Backend>(
        &self,
        tiles: Vec<Tensor<B, 4>>,
        blend: Blend,
    ) -> Result<Tensor<B, 4>> {
        if tiles.len() != self.len() {
            return Err(Error::argument(
                "tiles",
                format!("{} tiles, one per window", self.len()),
                tiles.len(),
            ));
        }
        let mut merger: Option<TileMerger<B>> = None;
        for (i, t) in tiles.into_iter().enumerate() {
            let m = match merger.as_mut() {
                Some(m) => m,
                None => {
                    let [n, c, _, _] = t.dims();
                    merger.insert(TileMerger::new(self.clone(), n, c, blend, &t.device())?)
                }
            };
            m.add(&[i], t)?;
        }
        merger
            .ok_or_else(|| Error::argument("tiles", "at least one tile", 0))?
            .finish()
    }
}

/// Accumulates processed tiles batch by batch and blends them into the full canvas.
///
/// Holds `Σ w·tile` (`[N, C, H', W']`) and `Σ w` (`[1, 1, H', W']`) in the padded frame.
#[derive(Debug)]
pub struct TileMerger<B: Backend> {
    plan: TilePlan,
    blend: Blend,
    batch: usize,
    channels: usize,
    value: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    seen: Vec<bool>,
}

impl<B: Backend> TileMerger<B> {
    /// An empty merger for tiles of `batch × channels` over `plan`'s canvas.
    ///
    /// # Errors
    /// [`Error::Argument`] for zero `batch` or `channels` or a bad [`Blend`].
    pub fn new(
        plan: TilePlan,
        batch: usize,
        channels: usize,
        blend: Blend,
        device: &B::Device,
    ) -> Result<Self> {
        if batch == 0 || channels == 0 {
            return Err(Error::argument(
                "batch, channels",
                "both ≥ 1",
                format!("{batch}, {channels}"),
            ));
        }
        if plan.is_empty() {
            return Err(Error::argument("plan", "at least one tile", 0));
        }
        plan.weights(0, blend)?;
        let [h, w] = plan.padded_size();
        let seen = vec![false; plan.len()];
        Ok(Self {
            value: Tensor::zeros([batch, channels, h, w], device),
            weight: Tensor::zeros([1, 1, h, w], device),
            plan,
            blend,
            batch,
            channels,
            seen,
        })
    }

    /// Adds the processed tiles `indices`, stacked as [`TilePlan::extract`] returns them
    /// (`[k·N, C, th, tw]`).
    ///
    /// # Errors
    /// [`Error::Argument`] for a bad index; [`Error::Shape`] for a wrongly shaped batch.
    pub fn add(&mut self, indices: &[usize], tiles: Tensor<B, 4>) -> Result<()> {
        self.plan.check_indices(indices)?;
        let [th, tw] = self.plan.tile;
        let dims = tiles.dims();
        let k = indices.len();
        if dims != [k * self.batch, self.channels, th, tw] {
            return Err(Error::shape(
                "tiles",
                format!("[{}, {}, {th}, {tw}]", k * self.batch, self.channels),
                &dims,
            ));
        }
        let device = tiles.device();
        for (j, &i) in indices.iter().enumerate() {
            let t = self.plan.tiles[i];
            let wt = Tensor::<B, 4>::from_data(
                TensorData::new(self.plan.weights(i, self.blend)?, [1, 1, th, tw]),
                &device,
            );
            let part = tiles.clone().slice([
                j * self.batch..(j + 1) * self.batch,
                0..self.channels,
                0..th,
                0..tw,
            ]);
            let rv = [
                0..self.batch,
                0..self.channels,
                t.y..t.y + th,
                t.x..t.x + tw,
            ];
            let rw = [0..1, 0..1, t.y..t.y + th, t.x..t.x + tw];
            let v = self.value.clone().slice(rv.clone()) + part * wt.clone();
            self.value = self.value.clone().slice_assign(rv, v);
            let w = self.weight.clone().slice(rw.clone()) + wt;
            self.weight = self.weight.clone().slice_assign(rw, w);
            self.seen[i] = true;
        }
        Ok(())
    }

    /// The blended `[N, C, height, width]` canvas.
    ///
    /// # Errors
    /// [`Error::Argument`] when some tile was never added.
    pub fn finish(self) -> Result<Tensor<B, 4>> {
        if let Some(missing) = self.seen.iter().position(|s| !s) {
            return Err(Error::argument(
                "tiles",
                "every tile added before finish()",
                format!("tile {missing} missing"),
            ));
        }
        let [py, px] = self.plan.pad;
        let (h, w) = (self.plan.height, self.plan.width);
        let crop =
            |t: Tensor<B, 4>, n: usize, c: usize| t.slice([0..n, 0..c, py..py + h, px..px + w]);
        let value = crop(self.value, self.batch, self.channels);
        let weight = crop(self.weight, 1, 1);
        Ok(value / weight)
    }
}
