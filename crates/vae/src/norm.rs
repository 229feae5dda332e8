//! GroupNorm whose statistics can come from elsewhere: the whole image while a tile is being
//! computed (seamless tiling), and the [`NormCtx`] that carries them through a forward pass.
//!
//! A forward pass visits the GroupNorm layers in a fixed order; [`NormCtx`] numbers them as it
//! goes. Each layer either normalises with the statistics of its own input (PyTorch's
//! `nn.GroupNorm`, [`NormCtx::local`]) or with given per-(sample, group) statistics, and can at
//! the same time accumulate the statistics of a sub-rectangle of its input (the tile's core) in
//! f64 with Chan's parallel update — the two ingredients of the seamless tiled decode.
//!
//! Statistics are always computed in f32 or wider, whatever the activation dtype (the f16 SDXL
//! VAE overflows otherwise).

use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::NnBackend;
use ultrares_nn::{GroupNorm, group_var_mean};

use crate::{Error, Result};

/// GroupNorm with statistics as a [`NormCtx`] says (see the module docs); implemented for
/// `ultrares_nn`'s [`GroupNorm`].
pub trait CtxNorm<B: Backend> {
    /// `[N, C, H, W] → [N, C, H, W]`, statistics as `ctx` says, then SiLU when `silu`.
    ///
    /// # Errors
    /// A statistics count or tile core that does not fit this layer.
    fn forward_ctx_act(
        &self,
        x: Tensor<B, 4>,
        ctx: &mut NormCtx,
        silu: bool,
    ) -> Result<Tensor<B, 4>>;

    /// `[N, C, H, W] → [N, C, H, W]`, statistics as `ctx` says.
    ///
    /// # Errors
    /// As [`CtxNorm::forward_ctx_act`].
    fn forward_ctx(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        self.forward_ctx_act(x, ctx, false)
    }

    /// `silu(forward_ctx(x))`, the SiLU fused where the backend fuses it.
    ///
    /// # Errors
    /// As [`CtxNorm::forward_ctx_act`].
    fn forward_ctx_silu(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        self.forward_ctx_act(x, ctx, true)
    }
}

impl<B: NnBackend> CtxNorm<B> for GroupNorm<B> {
    fn forward_ctx_act(
        &self,
        x: Tensor<B, 4>,
        ctx: &mut NormCtx,
        silu: bool,
    ) -> Result<Tensor<B, 4>> {
        let layer = ctx.layer;
        ctx.layer += 1;
        let [n, c, h, w] = x.dims();
        let g = self.groups;
        let dtype = x.dtype();
        let x32 = if matches!(dtype, DType::F16 | DType::BF16) {
            x.cast(DType::F32)
        } else {
            x
        };
        if let Some(collect) = ctx.collect.as_mut() {
            let [y0, y1, x0, x1] = collect.core.scaled(h, w)?;
            let core = x32.clone().slice([0..n, 0..c, y0..y1, x0..x1]);
            let (var, mean) = group_var_mean(core, g);
            let count = ((c / g) * (y1 - y0) * (x1 - x0)) as f64;
            let mean = host_f64(mean)?;
            let var = host_f64(var)?;
            if collect.stats.len() <= layer {
                collect.stats.resize(layer + 1, GroupStats::default());
            }
            collect.stats[layer].merge(count, &mean, &var);
        }
        // Without given statistics, a collecting pass normalises with its running estimate of
        // the whole image: tiles done so far in this pass, this core, and the tiles still to
        // come as the previous pass saw them (Gauss–Seidel).
        let estimate = match (&ctx.stats, &ctx.collect) {
            (None, Some(c)) => {
                let mut e = c.done.get(layer).cloned().unwrap_or_default();
                for part in [c.stats.get(layer), c.pending.get(layer)]
                    .into_iter()
                    .flatten()
                {
                    e.merge_stats(part);
                }
                Some(e)
            }
            _ => None,
        };
        let device = x32.device();
        // Per-(sample, group) mean and σ as [N, G, 1]. (Division, not `recip`: burn-ndarray's SIMD
        // reciprocal is an approximation with ~1e-4 relative error.)
        let (mean, std) = match ctx.stats.and_then(|s| s.get(layer)).or(estimate.as_ref()) {
            Some(stats) => {
                if stats.mean.len() != n * g {
                    return Err(Error::Core(ultrares_core::Error::argument(
                        "group statistics",
                        format!("{} (sample, group) pairs", n * g),
                        stats.mean.len(),
                    )));
                }
                let mean: Vec<f32> = stats.mean.iter().map(|&m| m as f32).collect();
                let std: Vec<f32> = stats
                    .variance()
                    .map(|v| (v + self.eps).sqrt() as f32)
                    .collect();
                (
                    Tensor::<B, 1>::from_floats(mean.as_slice(), &device).reshape([n, g, 1]),
                    Tensor::<B, 1>::from_floats(std.as_slice(), &device).reshape([n, g, 1]),
                )
            }
            None => {
                let (var, mean) = group_var_mean(x32.clone(), g);
                (mean, (var + self.eps).sqrt())
            }
        };
        Ok(self.normalize(x32, mean, std, dtype, silu))
    }
}

fn host_f64<B: NnBackend>(t: Tensor<B, 3>) -> Result<Vec<f64>> {
    t.into_data().convert::<f64>().to_vec::<f64>().map_err(|e| {
        Error::Core(ultrares_core::Error::Readback {
            arg: "group statistics",
            message: format!("{e:?}"),
        })
    })
}

/// Count, mean and sum of squared deviations (`M2`) per (sample, group), in f64.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupStats {
    /// Elements per (sample, group) accumulated so far.
    pub count: f64,
    /// Mean per (sample, group), `[N·G]`.
    pub mean: Vec<f64>,
    /// Sum of squared deviations from the mean per (sample, group), `[N·G]`.
    pub m2: Vec<f64>,
}

impl GroupStats {
    /// Adds a part of `count` elements per group with the given means and (biased) variances
    /// (Chan et al.'s parallel update).
    pub fn merge(&mut self, count: f64, mean: &[f64], var: &[f64]) {
        if self.count == 0.0 {
            self.count = count;
            self.mean = mean.to_vec();
            self.m2 = var.iter().map(|v| v * count).collect();
            return;
        }
        let total = self.count + count;
        for i in 0..self.mean.len().min(mean.len()) {
            let delta = mean[i] - self.mean[i];
            self.mean[i] += delta * count / total;
            self.m2[i] += var[i] * count + delta * delta * self.count * count / total;
        }
        self.count = total;
    }

    /// Adds another part (Chan et al.'s parallel update); an empty part changes nothing.
    pub fn merge_stats(&mut self, other: &GroupStats) {
        if other.count > 0.0 {
            let var: Vec<f64> = other.variance().collect();
            self.merge(other.count, &other.mean, &var);
        }
    }

    /// Biased variance per (sample, group), as `nn.GroupNorm` uses.
    pub fn variance(&self) -> impl Iterator<Item = f64> + '_ {
        self.m2.iter().map(move |m| m / self.count)
    }
}

/// A rectangle of the pass's input, `[y0, y1) × [x0, x1)` of an `height × width` input, whose
/// statistics are collected at every GroupNorm (scaled to that layer's resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Core {
    /// First row.
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First column.
    pub x0: usize,
    /// One past the last column.
    pub x1: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
}

impl Core {
    /// The rectangle at a layer of size `h × w` (an exact power-of-two rescaling of the input).
    fn scaled(&self, h: usize, w: usize) -> Result<[usize; 4]> {
        let s = |v: usize, len: usize, full: usize| -> Option<usize> {
            if len >= full {
                Some(v * (len / full))
            } else if (v * len).is_multiple_of(full) {
                Some(v * len / full)
            } else {
                None
            }
        };
        match (
            s(self.y0, h, self.height),
            s(self.y1, h, self.height),
            s(self.x0, w, self.width),
            s(self.x1, w, self.width),
        ) {
            (Some(y0), Some(y1), Some(x0), Some(x1)) if y1 > y0 && x1 > x0 => Ok([y0, y1, x0, x1]),
            _ => Err(Error::Core(ultrares_core::Error::argument(
                "tile core",
                format!("a rectangle that maps onto whole pixels of a {h}×{w} layer"),
                format!("{self:?}"),
            ))),
        }
    }
}

/// Collects per-layer statistics of a [`Core`] rectangle.
#[derive(Debug)]
pub struct Collect<'a> {
    /// Where the statistics go, one entry per GroupNorm layer in visiting order.
    pub stats: &'a mut Vec<GroupStats>,
    /// The rectangle of the pass input whose statistics are accumulated.
    pub core: Core,
    /// Per-layer statistics of the tiles already done in this pass.
    pub done: &'a [GroupStats],
    /// Per-layer statistics of the tiles still to come, from the previous pass (empty in the
    /// first pass).
    pub pending: &'a [GroupStats],
}

/// What the GroupNorm layers of one forward pass do; see the module docs.
#[derive(Debug)]
pub struct NormCtx<'a> {
    /// Index of the next GroupNorm layer.
    pub layer: usize,
    /// Statistics to normalise with, per layer (`None`: each layer's own input statistics).
    pub stats: Option<&'a [GroupStats]>,
    /// Statistics to collect, if any; without `stats`, the layers then normalise with the
    /// collection's running whole-image estimate (see [`Collect`]).
    pub collect: Option<Collect<'a>>,
    /// Largest attention score block, in elements: queries are processed `max(1, this / (H·W))`
    /// rows at a time.
    pub attention_scores: usize,
    /// Convolutions as banded GEMMs with at most this many elements per band (0: the backend's
    /// native convolution); see [`ultrares_nn::conv`].
    pub gemm_band: usize,
}

impl<'a> NormCtx<'a> {
    /// Normalise with `stats` (global statistics per layer) or, when `None`, locally; no
    /// collection.
    pub fn with_stats(
        stats: Option<&'a [GroupStats]>,
        attention_scores: usize,
        gemm_band: usize,
    ) -> Self {
        Self {
            layer: 0,
            stats,
            collect: None,
            attention_scores,
            gemm_band,
        }
    }

    /// Plain PyTorch semantics: every GroupNorm uses its own input's statistics; native
    /// convolutions.
    pub fn local() -> Self {
        Self {
            layer: 0,
            stats: None,
            collect: None,
            attention_scores: DEFAULT_ATTENTION_SCORES,
            gemm_band: 0,
        }
    }
}

/// Default attention score block: 2²⁶ elements (256 MB in f32).
pub const DEFAULT_ATTENTION_SCORES: usize = 1 << 26;
