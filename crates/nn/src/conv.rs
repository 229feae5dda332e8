//! Convolutions as matrix products (im2col + GEMM), in bounded row bands.
//!
//! burn-ndarray's direct `conv2d` runs the VAE's 3×3 convolutions at 7–9 GFLOP/s on a 2-core
//! AVX2 machine, while its matrix product reaches 45–60 GFLOP/s; PyTorch's CPU convolution is
//! ~100. Rewriting `y = W ⋆ x` as `W₂ · cols(x)` with `W₂ = W` reshaped to `[O, k·k·C]` and
//! `cols(x)` the `k·k` shifted copies of `x` stacked along channels (`[k·k·C, rows·W_out]`) turns
//! every convolution into one large GEMM. Output rows are processed in bands so that `cols` holds
//! at most [`GEMM_BAND_ELEMENTS`] (or the configured number of) elements; 1×1 convolutions are a
//! plain matrix product. It is generic Burn tensor code, equal to the native convolution up to
//! float summation order (tested). Which one a backend gets by default is
//! [`NnBackend::conv_gemm_band`]: GEMM bands on the CPU
//! backends (ndarray, flex), whose native convolution is the slow one, the native convolution
//! elsewhere. Models keep the band as a field so that a caller can override it.
//!
//! Memory: one band holds `cols` of at most `band` elements plus its `[O, rows·W]` output.
//!
//! [`conv2d_nn`] goes one step further where the backend allows it
//! ([`NnBackend::nn_conv2d_valid`]): on burn-ndarray a stride-1 convolution is one faer GEMM per
//! tap over strided views of the padded input and of the weight, accumulated in place (no
//! `cols` copy at all; extra memory: one `[O, H_out·W_pad]` grid per image) — 2.4× the banded
//! GEMM for a 3×3 64→64 convolution at 128² on 2 AVX-512 cores (`docs/benchmarks.md`).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::Slice;

use crate::NnBackend;
use crate::ops::{concat, pad_zeros};

/// A `k×k` convolution with "same" zero padding, PyTorch's `nn.Conv2d(cin, cout, k,
/// padding=k // 2)` (bias on, Burn's default initialisation).
pub fn same_conv<B: Backend>(cin: usize, cout: usize, k: usize, device: &B::Device) -> Conv2d<B> {
    same_conv_config(cin, cout, k).init(device)
}

/// The config of [`same_conv`], for callers that change stride, bias or groups.
pub fn same_conv_config(cin: usize, cout: usize, k: usize) -> Conv2dConfig {
    Conv2dConfig::new([cin, cout], [k, k]).with_padding(PaddingConfig2d::Explicit(
        k / 2,
        k / 2,
        k / 2,
        k / 2,
    ))
}

/// Default largest `cols` block: 2²⁵ elements (128 MiB in f32).
pub const GEMM_BAND_ELEMENTS: usize = 1 << 25;

/// `[rows, cols]` zero padding on both sides, or `None` for asymmetric padding.
fn symmetric_padding<B: Backend>(conv: &Conv2d<B>) -> Option<[usize; 2]> {
    let [k_h, k_w] = conv.kernel_size;
    match conv.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Same => Some([k_h / 2, k_w / 2]),
        PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => Some([t, l]),
        PaddingConfig2d::Explicit(..) => None,
    }
}

/// `conv.forward(x)`, as a GEMM in bands of at most `band` `cols` elements when `band > 0`
/// (native `conv2d` when `band == 0` or for grouped/dilated/asymmetrically padded convolutions).
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>, band: usize) -> Tensor<B, 4> {
    let pad = symmetric_padding(conv);
    let plain = conv.groups == 1 && conv.dilation == [1, 1];
    match pad {
        Some(pad) if band > 0 && plain => gemm(
            x,
            conv.weight.val(),
            conv.bias.as_ref().map(|b| b.val()),
            conv.stride,
            pad,
            band,
        ),
        _ => conv.forward(x),
    }
}

/// [`conv2d`] through the backend's host convolution where it has one
/// ([`NnBackend::nn_conv2d_valid`]: faer GEMMs on the padded input on burn-ndarray) for
/// stride-1, undilated, symmetrically padded convolutions when `band > 0` (grouped ones group by
/// group); [`conv2d`] otherwise.
pub fn conv2d_nn<B: NnBackend>(conv: &Conv2d<B>, x: Tensor<B, 4>, band: usize) -> Tensor<B, 4> {
    let pad = symmetric_padding(conv);
    let (Some(pad), true) = (
        pad,
        band > 0 && conv.stride == [1, 1] && conv.dilation == [1, 1],
    ) else {
        return conv2d(conv, x, band);
    };
    let g = conv.groups.max(1);
    let weight = conv.weight.val();
    let [o, cg, _, _] = weight.dims();
    let padded = pad_zeros(x.clone(), [pad[0]; 2], [pad[1]; 2]);
    let mut parts = Vec::with_capacity(g);
    for gi in 0..g {
        let (xg, wg) = if g == 1 {
            (padded.clone(), weight.clone())
        } else {
            (
                padded.clone().narrow(1, gi * cg, cg),
                weight.clone().narrow(0, gi * (o / g), o / g),
            )
        };
        match B::nn_conv2d_valid(xg, wg) {
            Some(y) => parts.push(y),
            None => return conv2d(conv, x, band),
        }
    }
    let y = concat(parts, 1);
    match &conv.bias {
        Some(b) => y + b.val().reshape([1, o, 1, 1]),
        None => y,
    }
}

/// `weight ⋆ x + bias` with zero padding `pad` `[rows, cols]` and `stride`, as banded GEMMs.
///
/// Stride 1: the padded input is flattened per channel to `[C, Hp·Wp]`; tap `(dy, dx)` of output
/// row `r` then reads the contiguous range starting at `(r + dy)·Wp + dx`, so each band is
/// `Σ_taps W_tap [O, C] · x[:, range]` computed on a `Wp`-wide grid whose extra columns are
/// dropped — no im2col copy. Other strides stack the taps (im2col) and run one GEMM per band.
pub fn gemm<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    stride: [usize; 2],
    pad: [usize; 2],
    band: usize,
) -> Tensor<B, 4> {
    let [o, c, kh, kw] = weight.dims();
    if stride != [1, 1] || x.dims()[0] != 1 {
        return gemm_im2col(x, weight, bias, stride, pad, band);
    }
    if kh == 1 && kw == 1 && pad == [0, 0] {
        let [_, _, h, w] = x.dims();
        let mut y = weight.reshape([o, c]).matmul(x.reshape([c, h * w]));
        if let Some(b) = bias {
            y = y + b.reshape([o, 1]);
        }
        return y.reshape([1, o, h, w]);
    }
    // One extra bottom row so that the last tap's range stays inside the buffer.
    let x = pad_zeros(x, [pad[0], pad[0] + 1], [pad[1], pad[1]]);
    let [_, _, hp, wp] = x.dims();
    let (ho, wo) = (hp - 1 - kh + 1, wp - kw + 1);
    let flat = x.reshape([c, hp * wp]);
    let taps: Vec<Tensor<B, 2>> = (0..kh * kw)
        .map(|t| {
            let (dy, dx) = (t / kw, t % kw);
            weight
                .clone()
                .slice([0..o, 0..c, dy..dy + 1, dx..dx + 1])
                .reshape([o, c])
        })
        .collect();
    let bias = bias.map(|b| b.reshape([o, 1]));
    let rows_per_band = (band / (c.max(o) * wp).max(1)).clamp(1, ho);
    let mut bands = Vec::with_capacity(ho.div_ceil(rows_per_band));
    for r0 in (0..ho).step_by(rows_per_band) {
        let rows = (r0 + rows_per_band).min(ho) - r0;
        let len = rows * wp;
        let mut acc: Option<Tensor<B, 2>> = None;
        for (t, wt) in taps.iter().enumerate() {
            let start = (r0 + t / kw) * wp + t % kw;
            let y = wt
                .clone()
                .matmul(flat.clone().slice([0..c, start..start + len]));
            acc = Some(match acc {
                Some(a) => a + y,
                None => y,
            });
        }
        let Some(mut out) = acc else { continue };
        if let Some(b) = &bias {
            out = out + b.clone();
        }
        bands.push(
            out.reshape([1, o, rows, wp])
                .slice([0..1, 0..o, 0..rows, 0..wo]),
        );
    }
    concat(bands, 2)
}

/// [`gemm`] by im2col: the taps stacked along channels, one GEMM per band of output rows.
fn gemm_im2col<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    stride: [usize; 2],
    pad: [usize; 2],
    band: usize,
) -> Tensor<B, 4> {
    let [o, c, kh, kw] = weight.dims();
    let x = if pad == [0, 0] {
        x
    } else {
        pad_zeros(x, [pad[0], pad[0]], [pad[1], pad[1]])
    };
    let [n, _, hp, wp] = x.dims();
    let (ho, wo) = ((hp - kh) / stride[0] + 1, (wp - kw) / stride[1] + 1);
    let k = c * kh * kw;
    // [O, kh, kw, C] → [O, k]: the tap-major order of `cols` below.
    let w2 = weight.permute([0, 2, 3, 1]).reshape([o, k]);
    let bias = bias.map(|b| b.reshape([o, 1]));
    let rows_per_band = (band / (k * wo * n).max(1)).clamp(1, ho);
    let mut bands = Vec::with_capacity(ho.div_ceil(rows_per_band));
    for r0 in (0..ho).step_by(rows_per_band) {
        let r1 = (r0 + rows_per_band).min(ho);
        let rows = r1 - r0;
        let y = if kh == 1 && kw == 1 && stride == [1, 1] {
            x.clone().slice([0..n, 0..c, r0..r1, 0..wo])
        } else {
            let mut taps = Vec::with_capacity(kh * kw);
            for dy in 0..kh {
                for dx in 0..kw {
                    let ys = (r0 * stride[0] + dy) as isize;
                    let xs = dx as isize;
                    taps.push(x.clone().slice([
                        Slice::new(0, Some(n as isize), 1),
                        Slice::new(0, Some(c as isize), 1),
                        Slice::new(
                            ys,
                            Some(ys + ((rows - 1) * stride[0]) as isize + 1),
                            stride[0] as isize,
                        ),
                        Slice::new(
                            xs,
                            Some(xs + ((wo - 1) * stride[1]) as isize + 1),
                            stride[1] as isize,
                        ),
                    ]));
                }
            }
            concat(taps, 1)
        };
        // [N, k, rows, wo] → [k, N·rows·wo] (no copy for N = 1)
        let cols = if n == 1 {
            y.reshape([k, rows * wo])
        } else {
            y.swap_dims(0, 1).reshape([k, n * rows * wo])
        };
        let mut out = w2.clone().matmul(cols);
        if let Some(b) = &bias {
            out = out + b.clone();
        }
        bands.push(if n == 1 {
            out.reshape([1, o, rows, wo])
        } else {
            out.reshape([o, n, rows, wo]).swap_dims(0, 1)
        });
    }
    concat(bands, 2)
}

/// The stride-1 "valid" convolution of one image on the host, `x` `[C, Hp, Wp]` by `weight`
/// `[O, C, kh, kw]` (both contiguous) → `[O, Hp − kh + 1, Wp − kw + 1]`: output row `r`, column
/// `j` of tap `(dy, dx)` reads `x[:, (r + dy)·Wp + dx + j]`, so on a `Wp`-wide output grid every
/// tap is one `[O, C] × [C, Ho·Wp − kw + 1]` product of strided views of the weight and of `x`
/// itself (no im2col copy, no weight copy), accumulated in place by faer's parallel GEMM; the
/// grid's last `kw − 1` columns of each row are dropped at the end. Extra memory: the
/// `[O, Ho·Wp]` grid.
#[cfg(feature = "ndarray")]
pub(crate) fn host_conv_valid(
    x: &[f32],
    [c, hp, wp]: [usize; 3],
    weight: &[f32],
    [o, kh, kw]: [usize; 3],
) -> Vec<f32> {
    use faer::{Accum, MatMut, MatRef, Par};
    let (ho, wo) = (hp - kh + 1, wp - kw + 1);
    let taps = kh * kw;
    assert!(
        x.len() == c * hp * wp && weight.len() == o * c * taps,
        "host_conv_valid shapes"
    );
    let len = ho * wp - (kw - 1);
    let mut grid = vec![0f32; o * ho * wp];
    for t in 0..taps {
        let (dy, dx) = (t / kw, t % kw);
        // SAFETY: element (i, j) is `weight[t + i·C·taps + j·taps]` with i < O, j < C, so the
        // largest offset is `t + (O−1)·C·taps + (C−1)·taps < O·C·taps = weight.len()` (asserted
        // above); the view is read-only and lives no longer than `weight`.
        let a = unsafe {
            MatRef::from_raw_parts(
                weight.as_ptr().add(t),
                o,
                c,
                (c * taps) as isize,
                taps as isize,
            )
        };
        let b = MatRef::from_row_major_slice_with_stride(&x[dy * wp + dx..], c, len, hp * wp);
        // The row-major [O, len] grid with row stride Ho·Wp, as the transpose of a column-major
        // view: faer 0.23.2's `from_row_major_slice_with_stride_mut` swaps the strides (it
        // builds a view with row stride 1) and writes out of bounds.
        let dst = MatMut::from_column_major_slice_with_stride_mut(&mut grid, len, o, ho * wp)
            .transpose_mut();
        let accum = if t == 0 { Accum::Replace } else { Accum::Add };
        faer::linalg::matmul::matmul(dst, accum, a, b, 1.0f32, Par::rayon(0));
    }
    let mut out = Vec::with_capacity(o * ho * wo);
    for row in grid.chunks_exact(wp) {
        out.extend_from_slice(&row[..wo]);
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    type B = NdArray<f32>;

    /// The GEMM paths equal the native convolution: 3×3 same (several bands), 1×1, 3×3 valid
    /// stride 2 (im2col), stride-2 padded, and a batch of 2.
    #[test]
    fn gemm_equals_native_conv() {
        let device = Default::default();
        let cases = [
            (
                3,
                8,
                3,
                1,
                PaddingConfig2d::Explicit(1, 1, 1, 1),
                1,
                [13, 17],
            ),
            (
                16,
                8,
                3,
                1,
                PaddingConfig2d::Explicit(1, 1, 1, 1),
                1,
                [20, 9],
            ),
            (
                8,
                16,
                1,
                1,
                PaddingConfig2d::Explicit(0, 0, 0, 0),
                1,
                [7, 11],
            ),
            (8, 8, 3, 2, PaddingConfig2d::Valid, 1, [15, 12]),
            (
                3,
                8,
                3,
                2,
                PaddingConfig2d::Explicit(1, 1, 1, 1),
                1,
                [16, 10],
            ),
            (6, 5, 3, 1, PaddingConfig2d::Explicit(1, 1, 1, 1), 2, [9, 8]),
        ];
        for (cin, cout, k, s, pad, n, [h, w]) in cases {
            let conv = Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([s, s])
                .with_padding(pad.clone())
                .init::<B>(&device);
            let x = Tensor::<B, 4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), &device);
            let want = conv.forward(x.clone());
            for band in [1 << 20, 64, 1] {
                let got = conv2d(&conv, x.clone(), band);
                assert_eq!(got.dims(), want.dims(), "{cin}→{cout} k{k} s{s} {pad:?}");
                let err: f32 = (got - want.clone()).abs().max().into_scalar();
                assert!(
                    err < 1e-5,
                    "{cin}→{cout} k{k} s{s} {pad:?} band {band}: {err}"
                );
            }
        }
    }
}
