//! One-dimensional analysis and synthesis operators, planned on the host.
//!
//! PyWavelets (`_extensions/c/convolution.c.src`) computes, for a signal `x` of length `n` and a
//! filter `f` of length `L`,
//! `out[o] = Σ_j f[j] · x̃[2o + s − j]` where `x̃` is `x` extended by the mode, `s = 1` and
//! `o < floor((n + L − 1) / 2)`; for `Periodization` `s = L / 2`, odd `n` is first padded with a
//! copy of `x[n−1]` and `o < ceil(n / 2)`. Reconstruction (`idwt`) is the transpose of that map
//! with `rec_*[L−1−j]` in place of `dec_*[j]`: the output keeps the `2m − L + 2` samples
//! `0 ≤ n < 2m − L + 2` (the "valid" part), or all `2m` samples, wrapped, for `Periodization`.
//!
//! Both are sparse matrices with a bounded number of entries per output, stored here "ELL"
//! style: for slot `t`, the source index and coefficient of every output. Applying one to a
//! tensor axis is a gather per slot plus a broadcast multiply-add, which every backend has and
//! autodiff differentiates (the gradient is the scatter-add transpose).

use crate::{Error, Mode, Result, Wavelet};

/// Largest axis length accepted (indices must fit the backends' `i32` int tensors).
pub(crate) const MAX_LEN: usize = 1 << 30;

/// A sparse operator `y[k] = Σ_t c[t][k] · x[idx[t][k]]` with one or more coefficient sets that
/// share the gather (analysis: low-pass and high-pass).
#[derive(Debug, Clone)]
pub(crate) struct Ell {
    pub(crate) out_len: usize,
    pub(crate) idx: Vec<Vec<i64>>,
    /// `coef[set][t][k]`.
    pub(crate) coef: Vec<Vec<Vec<f64>>>,
}

/// Number of coefficients per band for an axis of length `n`.
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

/// The analysis operator of one axis of length `n`: coefficient sets `[lo, hi]`.
pub(crate) fn analysis(n: usize, w: &Wavelet, mode: Mode) -> Result<Ell> {
    check_len(n)?;
    if mode == Mode::Reflect && n < 2 {
        return Err(Error::shape(
            "reflect mode needs at least 2 samples along each axis (as PyWavelets)",
        ));
    }
    let l = w.filter_len();
    let out_len = coeff_len(n, l, mode);
    let (ext_n, shift) = match mode {
        Mode::Periodization => (n + n % 2, l / 2),
        _ => (n, 1),
    };
    let mut idx = vec![vec![0i64; out_len]; l];
    let mut coef = vec![vec![vec![0.0; out_len]; l]; 2];
    for o in 0..out_len {
        for j in 0..l {
            let pos = (2 * o + shift) as i64 - j as i64;
            let (mut src, sign) = mode.source(pos, ext_n as i64);
            if src == n as i64 {
                src -= 1; // periodization of an odd length: the padded copy of x[n−1]
            }
            idx[j][o] = src;
            coef[0][j][o] = f64::from(sign) * w.dec_lo()[j];
            coef[1][j][o] = f64::from(sign) * w.dec_hi()[j];
        }
    }
    Ok(Ell { out_len, idx, coef })
}

/// The synthesis operator from `m` coefficients per band: reads the concatenation
/// `[approx (m); detail (m)]` along the axis; one coefficient set.
pub(crate) fn synthesis(m: usize, w: &Wavelet, mode: Mode) -> Result<Ell> {
    check_len(m)?;
    let l = w.filter_len();
    let out_len = rec_len(m, l, mode).ok_or_else(|| {
        Error::shape(format!(
            "{m} coefficients are too few to reconstruct with a {l}-tap filter (need ≥ {})",
            l / 2
        ))
    })?;
    let mut entries: Vec<Vec<(i64, f64)>> = vec![Vec::new(); out_len];
    let shift = if mode == Mode::Periodization {
        l / 2
    } else {
        1
    };
    for o in 0..m {
        for j in 0..l {
            let pos = (2 * o + shift) as i64 - j as i64;
            let target = if mode == Mode::Periodization {
                pos.rem_euclid(out_len as i64)
            } else if (0..out_len as i64).contains(&pos) {
                pos
            } else {
                continue;
            };
            let e = &mut entries[target as usize];
            e.push((o as i64, w.rec_lo()[l - 1 - j]));
            e.push(((m + o) as i64, w.rec_hi()[l - 1 - j]));
        }
    }
    let slots = entries.iter().map(Vec::len).max().unwrap_or(0);
    let mut idx = vec![vec![0i64; out_len]; slots];
    let mut coef = vec![vec![vec![0.0; out_len]; slots]];
    for (k, e) in entries.iter().enumerate() {
        for (t, &(i, c)) in e.iter().enumerate() {
            idx[t][k] = i;
            coef[0][t][k] = c;
        }
    }
    Ok(Ell { out_len, idx, coef })
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
