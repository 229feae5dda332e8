//! One-dimensional analysis and synthesis, planned on the host.
//!
//! PyWavelets (`_extensions/c/convolution.c.src`) computes, for a signal `x` of length `n` and a
//! filter `f` of length `L`,
//! `out[o] = Σ_j f[j] · x̃[2o + s − j]` where `x̃` is `x` extended by the mode, `s = 1` and
//! `o < floor((n + L − 1) / 2)`; for `Periodization` `s = L / 2`, odd `n` is first padded with a
//! copy of `x[n−1]` and `o < ceil(n / 2)`. Reconstruction (`idwt`) is the transpose of that map
//! with `rec_*[L−1−j]` in place of `dec_*[j]`: the output keeps the `2m − L + 2` samples
//! `0 ≤ n < 2m − L + 2` (the "valid" part), or all `2m` samples, wrapped, for `Periodization`.
//!
//! On tensors this becomes: one gather that materialises the extended signal
//! `e[q] = x̃[q + s − L + 1]`, `q < 2·out + L − 2` (with a ±1/0 sign vector for the
//! antisymmetric and zero extensions), then a stride-2 convolution with the reversed filters
//! (analysis); and a stride-2 transposed convolution with the reconstruction filters, cropped
//! at `L − 1 − s` (synthesis; periodization first extends the coefficients periodically).
//! Gathers and (transposed) convolutions exist on every backend and autodiff differentiates
//! them.

use crate::{Error, Mode, Result, Wavelet};

/// Largest axis length accepted (indices must fit the backends' `i32` int tensors).
pub(crate) const MAX_LEN: usize = 1 << 30;

/// Number of coefficients per band for an axis of `len` samples.
pub(crate) fn coeff_len(n: usize, filter_len: usize, mode: Mode) -> usize {
    match mode {
        Mode::Periodization => n.div_ceil(2),
        _ => (n + filter_len - 1) / 2,
    }
}

/// Length of a one-level reconstruction from `m` coefficients per band.
pub(crate) fn rec_len(m: usize, filter_len: usize, mode: Mode) -> Option<usize> {
    match mode {
        Mode::Periodization => Some(2 * m),
        _ => (2 * m + 2).checked_sub(filter_len).filter(|&v| v > 0),
    }
}

/// The filter offset `s` of the analysis sum.
pub(crate) fn shift(filter_len: usize, mode: Mode) -> usize {
    if mode == Mode::Periodization {
        filter_len / 2
    } else {
        1
    }
}

/// The extended signal an analysis convolution reads: source indices and, where the
/// extension is not a plain copy, signs (0 for zero padding, −1 for antisymmetric).
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    /// Source index of each extended sample (`2·coeff_len + L − 2` of them).
    pub(crate) idx: Vec<i64>,
    /// Sign of each extended sample, when any differs from 1.
    pub(crate) sign: Option<Vec<f64>>,
}

/// Plans the extension of an axis of length `n` for analysis.
pub(crate) fn extension(n: usize, w: &Wavelet, mode: Mode) -> Result<Extension> {
    check_len(n)?;
    if mode == Mode::Reflect && n < 2 {
        return Err(Error::shape(
            "reflect mode needs at least 2 samples along each axis (as PyWavelets)",
        ));
    }
    let l = w.filter_len();
    let out_len = coeff_len(n, l, mode);
    let ext_n = if mode == Mode::Periodization {
        n + n % 2
    } else {
        n
    };
    let offset = shift(l, mode) as i64 - l as i64 + 1;
    let len = 2 * out_len + l - 2;
    let mut idx = Vec::with_capacity(len);
    let mut sign = Vec::with_capacity(len);
    for q in 0..len as i64 {
        let (mut src, sg) = mode.source(q + offset, ext_n as i64);
        if src == n as i64 {
            src -= 1; // periodization of an odd length: the padded copy of x[n−1]
        }
        idx.push(src);
        sign.push(f64::from(sg));
    }
    let sign = sign.iter().any(|&s| s != 1.0).then_some(sign);
    Ok(Extension { idx, sign })
}

/// Periodic extension of `m` coefficients by `e` on both sides (synthesis in periodization).
pub(crate) fn periodic(m: usize, e: usize) -> Vec<i64> {
    (-(e as i64)..(m + e) as i64)
        .map(|i| i.rem_euclid(m as i64))
        .collect()
}

fn check_len(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::shape("an axis has length 0"));
    }
    if n > MAX_LEN {
        return Err(Error::shape(format!(
            "axis length {n} exceeds the supported maximum {MAX_LEN}"
        )));
    }
    Ok(())
}
