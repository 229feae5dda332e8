//! Scaled dot-product attention: one entry point, [`attention`], over the backend's choice
//! ([`NnBackend::nn_attention`]): Burn's fused `burn::tensor::module::attention` on the CubeCL
//! backends (flash kernels with autotune); on burn-ndarray, for f32 without mask or bias, parallel
//! tasks of 128 query rows with faer products (at most `threads · 128 · Lk · 4` bytes of scores
//! at a time); and [`attention_chunked`] elsewhere, a query-chunked path whose score block never
//! exceeds a given number of elements. Both are tested against
//! Burn's `attention_fallback` (`tests/it/attention.rs`), the reference Burn exports for that
//! purpose (`burn-tensor/src/tensor/module.rs:562`).
//!
//! Semantics are `attention_fallback`'s: `softmax(q·kᵀ·scale [softcap] [mask] [causal] + bias)·v`,
//! scale `1/√d` unless given, `mask` true where a key is hidden, causal masking aligned at the
//! bottom-right corner (`col > row + Lk − Lq` hidden), fully masked rows give zeros.
//!
//! Precision: the chunked path computes scores, softmax and the product with `v` in f32 for f16
//! and bf16 inputs (diffusers and transformers upcast the softmax the same way) and returns the
//! input dtype.
//!
//! Memory of [`attention_chunked`]: besides `q`, `k`, `v` and the output, one chunk holds
//! `rows·Lk` scores per (batch, head), with `rows = max(1, ⌊max_scores / (N·H·Lk)⌋)`, in f32 —
//! about `3 · 4 · max(max_scores, N·H·Lk)` bytes (scores, exponentials, probabilities) at a time,
//! independent of `Lq`. At 16 384 tokens self-attention the full score matrix of one head is 1 GiB;
//! the default [`DEFAULT_MAX_SCORES`] keeps a chunk at 64 MiB.

use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::ops::AttentionModuleOptions;

use crate::NnBackend;
use crate::ops::concat;

/// Default largest score block of [`attention_chunked`]: 2²⁴ elements (64 MiB in f32).
pub const DEFAULT_MAX_SCORES: usize = 1 << 24;

/// Scaled dot-product attention through the backend's implementation
/// ([`NnBackend::nn_attention`]).
///
/// A custom `options.scale` is applied to `q` first (`q · scale · √d` with the default scale),
/// because Burn's fused kernels take their naive path for a custom scale.
///
/// # Shapes
/// - `q`: `[N, H, Lq, D]`, `k`: `[N, H, Lk, D]`, `v`: `[N, H, Lk, Dv]`
/// - `mask`: `[N, H, Lq, Lk]`, true where a key is hidden
/// - `bias`: `[N | 1, H | 1, Lq, Lk]`, broadcast over a batch or head axis of size 1 (a
///   relative-position table shared by every batch, as Swin's, T5's and ALiBi's)
/// - output: `[N, H, Lq, Dv]`, in `q`'s dtype
pub fn attention<B: NnBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    bias: Option<Tensor<B, 4>>,
    options: AttentionModuleOptions,
) -> Tensor<B, 4> {
    let d = q.dims()[3];
    let (q, options) = match options.scale {
        Some(scale) => (
            q.mul_scalar(scale * (d as f64).sqrt()),
            AttentionModuleOptions {
                scale: None,
                ..options
            },
        ),
        None => (q, options),
    };
    B::nn_attention(q, k, v, mask, bias, options)
}

/// Attention with queries in chunks so that the score block stays within `max_scores` elements
/// (see the module docs for the memory bound); the default of [`NnBackend::nn_attention`].
///
/// # Shapes
/// As [`attention`].
pub fn attention_chunked<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    bias: Option<Tensor<B, 4>>,
    options: AttentionModuleOptions,
    max_scores: usize,
) -> Tensor<B, 4> {
    let [n, h, lq, d] = q.dims();
    let lk = k.dims()[2];
    let dv = v.dims()[3];
    let dtype = q.dtype();
    let up = |t: Tensor<B, 4>| {
        if matches!(t.dtype(), DType::F16 | DType::BF16) {
            t.cast(DType::F32)
        } else {
            t
        }
    };
    let scale = options.scale.unwrap_or(1.0 / (d as f64).sqrt());
    let kt = up(k).swap_dims(2, 3);
    let v = up(v);
    let q = up(q);
    let bias = bias.map(up);
    let rows = (max_scores / (n * h * lk).max(1)).clamp(1, lq.max(1));
    let device = q.device();
    let offset = lk as i64 - lq as i64;
    let mut outs = Vec::with_capacity(lq.div_ceil(rows));
    for r0 in (0..lq).step_by(rows) {
        let r1 = (r0 + rows).min(lq);
        let mut s = q
            .clone()
            .slice([0..n, 0..h, r0..r1, 0..d])
            .matmul(kt.clone())
            .mul_scalar(scale);
        if let Some(cap) = options.softcap {
            s = s.div_scalar(cap).tanh().mul_scalar(cap);
        }
        if let Some(m) = &mask {
            s = s.mask_fill(
                m.clone().slice([0..n, 0..h, r0..r1, 0..lk]),
                f32::NEG_INFINITY,
            );
        }
        if options.is_causal {
            let row = Tensor::<B, 1, Int>::arange(r0 as i64..r1 as i64, &device)
                .reshape([r1 - r0, 1])
                .add_scalar(offset);
            let col = Tensor::<B, 1, Int>::arange(0..lk as i64, &device).reshape([1, lk]);
            let hidden = row.lower(col).reshape([1, 1, r1 - r0, lk]);
            s = s.mask_fill(hidden.expand([n, h, r1 - r0, lk]), f32::NEG_INFINITY);
        }
        if let Some(b) = &bias {
            // Batch and head axes of size 1 broadcast.
            let [bn, bh, _, _] = b.dims();
            s = s + b.clone().slice([0..bn, 0..bh, r0..r1, 0..lk]);
        }
        // NaN-safe softmax as attention_fallback: a fully masked row gives zeros.
        let max = s.clone().max_dim(3).clamp_min(f32::MIN);
        let e = (s - max).exp();
        let sum = e.clone().sum_dim(3).clamp_min(f32::MIN_POSITIVE);
        outs.push((e / sum).matmul(v.clone()));
    }
    let out = if outs.is_empty() {
        Tensor::zeros([n, h, 0, dv], &device)
    } else {
        concat(outs, 2)
    };
    if out.dtype() == dtype {
        out
    } else {
        out.cast(dtype)
    }
}

/// Splits `[N, L, H·D]` into heads: `[N, H, L, D]`.
pub fn split_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [n, l, c] = x.dims();
    x.reshape([n, l, heads, c / heads]).swap_dims(1, 2)
}

/// Joins heads: `[N, H, L, D] → [N, L, H·D]`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [n, h, l, d] = x.dims();
    x.swap_dims(1, 2).reshape([n, l, h * d])
}

/// Query rows per task of [`host_attention`]: one task holds `HOST_ROWS · Lk` f32 scores.
#[cfg(feature = "ndarray")]
pub(crate) const HOST_ROWS: usize = 128;

/// An additive attention bias on the host: row-major `[Bn, Bh, Lq, Lk]` values with `Bn` 1 or
/// `N` and `Bh` 1 or `H` (axes of size 1 broadcast).
#[cfg(feature = "ndarray")]
pub(crate) struct HostBias<'a> {
    /// The values.
    pub values: &'a [f32],
    /// `[Bn, Bh]`.
    pub dims: [usize; 2],
}

/// Unmasked attention of contiguous f32 host arrays, with an optional broadcast additive bias:
/// burn-ndarray's [`NnBackend::nn_attention`] (Burn's CPU matmul runs batched products on one
/// thread). Tasks of [`HOST_ROWS`] query rows of one (batch, head) run in parallel (rayon), each
/// `S = bias + q·kᵀ·scale` and `S·v` with faer's single-threaded GEMM and the softmax in place,
/// so at most `threads · HOST_ROWS · Lk · 4` bytes of scores exist at a time (8 MiB per thread
/// at 16,384 keys).
///
/// # Shapes
/// `q` `[N·H, Lq, D]`, `k` `[N·H, Lk, D]`, `v` `[N·H, Lk, Dv]` (row-major) → `[N·H, Lq, Dv]`.
#[cfg(feature = "ndarray")]
pub(crate) fn host_attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    bias: Option<HostBias<'_>>,
    [n, h, lq, lk, d, dv]: [usize; 6],
    scale: f32,
) -> Vec<f32> {
    let bh = n * h;
    use faer::{Accum, MatMut, MatRef, Par};
    use rayon::prelude::*;
    let mut out = vec![0f32; bh * lq * dv];
    if lk == 0 || dv == 0 || lq == 0 {
        return out;
    }
    out.par_chunks_mut(HOST_ROWS * dv)
        .enumerate()
        .for_each_init(Vec::new, |scores: &mut Vec<f32>, (task, o)| {
            // Tasks never straddle two heads when Lq is a multiple of HOST_ROWS; otherwise split.
            let mut row = task * HOST_ROWS;
            let mut o = o;
            while !o.is_empty() {
                let (head, r0) = (row / lq, row % lq);
                let rows = (lq - r0).min(o.len() / dv);
                let qs = &q[(head * lq + r0) * d..][..rows * d];
                let ks = &k[head * lk * d..][..lk * d];
                let vs = &v[head * lk * dv..][..lk * dv];
                scores.resize(rows * lk, 0.0);
                let accum = match &bias {
                    Some(HostBias {
                        values,
                        dims: [bn, bhd],
                    }) => {
                        let (b, hh) = (head / h, head % h);
                        let at =
                            if *bn == 1 { 0 } else { b } * bhd + if *bhd == 1 { 0 } else { hh };
                        scores.copy_from_slice(&values[(at * lq + r0) * lk..][..rows * lk]);
                        Accum::Add
                    }
                    None => Accum::Replace,
                };
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(scores, rows, lk),
                    accum,
                    MatRef::from_row_major_slice(qs, rows, d),
                    MatRef::from_row_major_slice(ks, lk, d).transpose(),
                    scale,
                    Par::Seq,
                );
                crate::simd::with_avx2(|| {
                    for s in scores.chunks_exact_mut(lk) {
                        let m = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        s.iter_mut().for_each(|x| *x = exp_approx(*x - m));
                        let inv = 1.0 / s.iter().sum::<f32>();
                        s.iter_mut().for_each(|x| *x *= inv);
                    }
                });
                let (now, rest) = o.split_at_mut(rows * dv);
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(now, rows, dv),
                    Accum::Replace,
                    MatRef::from_row_major_slice(scores, rows, lk),
                    MatRef::from_row_major_slice(vs, lk, dv),
                    1.0,
                    Par::Seq,
                );
                o = rest;
                row += rows;
            }
        });
    out
}

/// `eˣ` within 3 ulp for `|x| ≤ 87` (measured on a 10⁻⁴ grid, `tests` below; softmax arguments
/// and the SiLU's `e^(−y)`), `x` clamped to [−87, 88] otherwise; branch-free so that loops over it vectorise: `2ⁿ · p(r)` with
/// `n = round(x·log₂e)`, `r = x − n·ln 2` (two-part ln 2) and the degree-6 Taylor polynomial of
/// `eʳ` on `|r| ≤ ln2/2` (remainder < 1.3·10⁻⁷ relative). `std`'s `f32::exp` calls libm once per
/// element, 100× slower here at 16k keys.
#[cfg(feature = "ndarray")]
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // `t`'s low mantissa bits hold `n` (offset by ROUND's): moved into the exponent field, with no
    // float-to-int conversion (which kept the loop from vectorising well).
    let two_n = (t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127)) << 23;
    p * f32::from_bits(two_n)
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    /// `exp_approx` against f64 `exp` on a dense grid of [−87, 87] (both signs: the softmax and
    /// the SiLU) within 3 ulp of the exact value, with and without the AVX2 build.
    #[test]
    fn exp_approx_is_within_three_ulp() {
        let xs: Vec<f32> = (-870_000..=870_000).map(|i| i as f32 * 1e-4).collect();
        let worst = |ys: &[f32]| {
            xs.iter()
                .zip(ys)
                .map(|(&x, &y)| {
                    let e = f64::from(x).exp();
                    // One ulp of an f32 in [2^k, 2^(k+1)) is 2^(k − 23).
                    let ulp = 2f64.powi(e.log2().floor() as i32 - 23);
                    (f64::from(y) - e).abs() / ulp
                })
                .fold(0f64, f64::max)
        };
        let plain: Vec<f32> = xs.iter().map(|&x| super::exp_approx(x)).collect();
        let wide = crate::simd::with_avx2(|| {
            xs.iter()
                .map(|&x| super::exp_approx(x))
                .collect::<Vec<f32>>()
        });
        println!("worst: {:.2} ulp", worst(&plain));
        assert!(worst(&plain) <= 3.0, "{} ulp", worst(&plain));
        assert_eq!(plain, wide, "the AVX2 build must give the same bits");
        assert_eq!(super::exp_approx(-1e9), super::exp_approx(-87.0));
    }
}
