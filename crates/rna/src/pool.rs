//! Adaptive average pooling with PyTorch's `AdaptiveAvgPool2d` bins and arithmetic.
//!
//! Output cell `i` of an axis of length `In → Out` averages input `start..end` with
//! `start = ⌊i·In/Out⌋` and `end = ⌈(i+1)·In/Out⌉` (windows overlap when `Out ∤ In`), and the
//! value is `(Σ / kh) / kw` in f32, as `aten/src/ATen/native/cpu/AdaptiveAvgPoolKernel.cpp`
//! computes it.

use rayon::prelude::*;

use crate::{Error, Result};

/// The input window `start..end` of output index `i` for an axis `input → output`
/// (PyTorch's `start_index` / `end_index`).
#[inline]
pub fn adaptive_bin(i: usize, input: usize, output: usize) -> (usize, usize) {
    let start = (i / output) * input + ((i % output) * input) / output;
    let end = 1 + ((i + 1) * input - 1) / output;
    (start, end)
}

/// Adaptive average pooling of a row-major `h × w` plane (f32, or u8 such as an edge map) to
/// `out_h × out_w`.
///
/// The sums are accumulated in f64 (exact for 8-bit edge maps at any size) and rounded to f32
/// before PyTorch's two divisions, so results equal PyTorch's f32 kernel whenever its f32 sums are
/// exact (always, for 0/255 maps up to 65 793 pixels per window).
///
/// # Errors
/// [`Error::Argument`] for empty sizes or a buffer of the wrong length.
pub fn adaptive_avg_pool2d<T: Copy + Into<f64> + Sync>(
    src: &[T],
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
) -> Result<Vec<f32>> {
    if h == 0 || w == 0 || oh == 0 || ow == 0 {
        return Err(Error::argument(
            "size",
            "input and output sizes of at least 1×1",
            format!("{h}×{w} → {oh}×{ow}"),
        ));
    }
    if h.checked_mul(w) != Some(src.len()) {
        return Err(Error::argument("src", format!("{h}×{w} values"), src.len()));
    }
    if oh > h.max(1 << 20) || ow > w.max(1 << 20) {
        return Err(Error::argument(
            "size",
            "an output no larger than max(input, 2²⁰) per axis",
            format!("{oh}×{ow}"),
        ));
    }
    let cols: Vec<(usize, usize)> = (0..ow).map(|j| adaptive_bin(j, w, ow)).collect();
    let mut out = vec![0f32; oh * ow];
    out.par_chunks_mut(ow).enumerate().for_each(|(i, row)| {
        let (y0, y1) = adaptive_bin(i, h, oh);
        // Column sums over the row window, then window sums per output cell.
        let mut colsum = vec![0f64; w];
        for y in y0..y1 {
            for (c, &v) in colsum.iter_mut().zip(&src[y * w..(y + 1) * w]) {
                *c += v.into();
            }
        }
        for (o, &(x0, x1)) in row.iter_mut().zip(&cols) {
            let sum = colsum[x0..x1].iter().sum::<f64>() as f32;
            *o = sum / (y1 - y0) as f32 / (x1 - x0) as f32;
        }
    });
    Ok(out)
}
