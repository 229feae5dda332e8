//! Wavelet filter banks as data: PyWavelets' orthogonal families and custom banks.

use std::fmt;
use std::str::FromStr;

use crate::filters_data::REC_LO;
use crate::{Error, Result};

/// A two-channel filter bank: decomposition (`dec_*`) and reconstruction (`rec_*`) filters of
/// equal length `L`, in PyWavelets' convention (`pywt.Wavelet(name).dec_lo`, …).
///
/// Built in ([`Wavelet::new`]): `haar`, `db1`–`db38`, `sym2`–`sym20`, `coif1`–`coif17`, with
/// PyWavelets' coefficients (tested bit for bit). Orthogonal banks are stored as `rec_lo` and
/// expanded exactly as PyWavelets does:
/// `dec_lo[i] = rec_lo[L−1−i]`, `rec_hi[i] = (−1)^i rec_lo[L−1−i]`,
/// `dec_hi[i] = (−1)^(L−1−i) rec_lo[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Wavelet {
    name: String,
    dec_lo: Vec<f64>,
    dec_hi: Vec<f64>,
    rec_lo: Vec<f64>,
    rec_hi: Vec<f64>,
    orthogonal: bool,
}

impl Wavelet {
    /// A built-in wavelet by PyWavelets' name (`"haar"`, `"db4"`, `"sym8"`, `"coif3"`, …).
    ///
    /// # Errors
    /// [`Error::UnknownWavelet`] for other names.
    pub fn new(name: &str) -> Result<Self> {
        let lower = name.trim().to_ascii_lowercase();
        let (name, rec_lo) = REC_LO
            .iter()
            .find(|(n, _)| *n == lower)
            .ok_or_else(|| Error::UnknownWavelet(name.to_string()))?;
        Ok(Self::expand_orthogonal(name.to_string(), rec_lo.to_vec()))
    }

    /// The Haar wavelet (`db1`): filters `±1/√2`.
    pub fn haar() -> Self {
        Self::expand_orthogonal("haar".into(), vec![std::f64::consts::FRAC_1_SQRT_2; 2])
    }

    /// Names of the built-in wavelets, in PyWavelets' `wavelist` order per family.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        REC_LO.iter().map(|(n, _)| *n)
    }

    /// A custom orthogonal wavelet from its reconstruction low-pass filter (the scaling filter,
    /// `Σ rec_lo = √2`). The other filters are derived as for the built-in ones.
    ///
    /// # Errors
    /// [`Error::FilterBank`] if the filter is empty, of odd length, non-finite, or not
    /// orthonormal to its even shifts (`Σ h[k] h[k+2m] = δ_m` within `1e-6`).
    pub fn orthogonal(name: impl Into<String>, rec_lo: Vec<f64>) -> Result<Self> {
        check_filter("rec_lo", &rec_lo)?;
        if !rec_lo.len().is_multiple_of(2) {
            return Err(Error::FilterBank(format!(
                "an orthogonal filter has even length, got {}",
                rec_lo.len()
            )));
        }
        for m in 0..rec_lo.len() / 2 {
            let dot: f64 = (0..rec_lo.len() - 2 * m)
                .map(|k| rec_lo[k] * rec_lo[k + 2 * m])
                .sum();
            let want = if m == 0 { 1.0 } else { 0.0 };
            if (dot - want).abs() > 1e-6 {
                return Err(Error::FilterBank(format!(
                    "rec_lo is not orthonormal: Σ h[k]h[k+{}] = {dot}, expected {want}",
                    2 * m
                )));
            }
        }
        Ok(Self::expand_orthogonal(name.into(), rec_lo))
    }

    /// A custom (bi)orthogonal bank from all four filters, e.g. PyWavelets' `bior2.2`
    /// (whose filters PyWavelets zero-pads to a common length).
    ///
    /// # Errors
    /// [`Error::FilterBank`] if a filter is empty or non-finite, or the lengths differ.
    pub fn biorthogonal(
        name: impl Into<String>,
        dec_lo: Vec<f64>,
        dec_hi: Vec<f64>,
        rec_lo: Vec<f64>,
        rec_hi: Vec<f64>,
    ) -> Result<Self> {
        for (n, f) in [
            ("dec_lo", &dec_lo),
            ("dec_hi", &dec_hi),
            ("rec_lo", &rec_lo),
            ("rec_hi", &rec_hi),
        ] {
            check_filter(n, f)?;
            if f.len() != dec_lo.len() {
                return Err(Error::FilterBank(format!(
                    "all four filters need the same length (pad with zeros as PyWavelets does): dec_lo has {}, {n} has {}",
                    dec_lo.len(),
                    f.len()
                )));
            }
        }
        Ok(Self {
            name: name.into(),
            dec_lo,
            dec_hi,
            rec_lo,
            rec_hi,
            orthogonal: false,
        })
    }

    fn expand_orthogonal(name: String, rec_lo: Vec<f64>) -> Self {
        let l = rec_lo.len();
        let sign = |i: usize| if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        Self {
            name,
            dec_lo: rec_lo.iter().rev().copied().collect(),
            dec_hi: (0..l).map(|i| sign(l - 1 - i) * rec_lo[i]).collect(),
            rec_hi: (0..l).map(|i| sign(i) * rec_lo[l - 1 - i]).collect(),
            rec_lo,
            orthogonal: true,
        }
    }

    /// The name given at construction (`"db4"`, or the custom name).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Decomposition low-pass filter.
    pub fn dec_lo(&self) -> &[f64] {
        &self.dec_lo
    }
    /// Decomposition high-pass filter.
    pub fn dec_hi(&self) -> &[f64] {
        &self.dec_hi
    }
    /// Reconstruction low-pass filter.
    pub fn rec_lo(&self) -> &[f64] {
        &self.rec_lo
    }
    /// Reconstruction high-pass filter.
    pub fn rec_hi(&self) -> &[f64] {
        &self.rec_hi
    }
    /// Filter length `L` (`pywt.Wavelet.dec_len`).
    pub fn filter_len(&self) -> usize {
        self.dec_lo.len()
    }
    /// Whether the bank is orthogonal (built in, or made by [`Wavelet::orthogonal`]).
    pub fn is_orthogonal(&self) -> bool {
        self.orthogonal
    }
    /// Whether this is the Haar bank (`haar`/`db1`, the fast path's case).
    pub fn is_haar(&self) -> bool {
        self.orthogonal
            && self.rec_lo.len() == 2
            && self
                .rec_lo
                .iter()
                .all(|&v| v == std::f64::consts::FRAC_1_SQRT_2)
    }

    /// The deepest level PyWavelets considers free of boundary effects for a signal of length
    /// `len` (`pywt.dwt_max_level`): `floor(log2(len / (L − 1)))`, 0 when `len < L − 1`
    /// (and `floor(log2(len))` for a one-tap filter).
    pub fn max_level(&self, len: usize) -> usize {
        let l = self.filter_len();
        if l < 2 {
            return (usize::BITS - 1 - len.max(1).leading_zeros()) as usize;
        }
        let ratio = len / (l - 1);
        if ratio == 0 {
            0
        } else {
            (usize::BITS - 1 - ratio.leading_zeros()) as usize
        }
    }
}

fn check_filter(name: &str, f: &[f64]) -> Result<()> {
    if f.is_empty() {
        return Err(Error::FilterBank(format!("{name} is empty")));
    }
    if let Some(v) = f.iter().find(|v| !v.is_finite()) {
        return Err(Error::FilterBank(format!("{name} contains {v}")));
    }
    Ok(())
}

impl FromStr for Wavelet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Wavelet::new(s)
    }
}

impl fmt::Display for Wavelet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
