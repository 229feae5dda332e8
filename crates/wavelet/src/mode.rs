//! Signal-extension modes with PyWavelets' semantics
//! (pywavelets.readthedocs.io, `ref/signal-extension-modes`).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// How a signal is extended past its ends, exactly as PyWavelets defines it. For a signal
/// `x1 … xn`:
///
/// | mode | left extension | coefficients per level |
/// |---|---|---|
/// | `Zero` | `0 0 \| x1 …` | `floor((n + L − 1) / 2)` |
/// | `Constant` | `x1 x1 \| x1 …` | same |
/// | `Symmetric` (half-sample, PyWavelets' default) | `x2 x1 \| x1 …` | same |
/// | `Reflect` (whole-sample; needs `n ≥ 2`) | `x3 x2 \| x1 …` | same |
/// | `Periodic` | `… xn−1 xn \| x1 …` | same |
/// | `Periodization` (no redundancy; odd `n` repeats `xn` once) | periodic | `ceil(n / 2)` |
/// | `Antisymmetric` (half-sample) | `−x2 −x1 \| x1 …` | same as zero |
///
/// Extensions repeat as often as the filter needs (filters longer than the signal are fine).
/// `L` is the filter length. The inverse transform ignores the mode except for `Periodization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Zero padding.
    Zero,
    /// Edge values repeated.
    Constant,
    /// Half-sample symmetric (PyWavelets' default).
    #[default]
    Symmetric,
    /// Whole-sample symmetric.
    Reflect,
    /// Periodic with period `n`.
    Periodic,
    /// Periodic, with `ceil(n/2)` coefficients per band (an orthogonal transform for orthogonal
    /// wavelets and even `n`).
    Periodization,
    /// Half-sample antisymmetric.
    Antisymmetric,
}

impl Mode {
    /// All supported modes.
    pub const ALL: [Mode; 7] = [
        Mode::Zero,
        Mode::Constant,
        Mode::Symmetric,
        Mode::Reflect,
        Mode::Periodic,
        Mode::Periodization,
        Mode::Antisymmetric,
    ];

    /// PyWavelets' name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Zero => "zero",
            Mode::Constant => "constant",
            Mode::Symmetric => "symmetric",
            Mode::Reflect => "reflect",
            Mode::Periodic => "periodic",
            Mode::Periodization => "periodization",
            Mode::Antisymmetric => "antisymmetric",
        }
    }

    /// Where sample `i` (any integer) of the extended signal of length `n ≥ 1` comes from:
    /// `(index, sign)` with `sign ∈ {−1, 0, 1}` (`0`: the value is zero).
    /// `Periodization` is handled by the caller (it pads odd lengths first).
    pub(crate) fn source(self, i: i64, n: i64) -> (i64, i8) {
        if (0..n).contains(&i) {
            return (i, 1);
        }
        match self {
            Mode::Zero => (0, 0),
            Mode::Constant => (if i < 0 { 0 } else { n - 1 }, 1),
            Mode::Periodic | Mode::Periodization => (i.rem_euclid(n), 1),
            Mode::Symmetric => {
                let m = i.rem_euclid(2 * n);
                (if m < n { m } else { 2 * n - 1 - m }, 1)
            }
            Mode::Antisymmetric => {
                let m = i.rem_euclid(2 * n);
                if m < n { (m, 1) } else { (2 * n - 1 - m, -1) }
            }
            Mode::Reflect => {
                if n == 1 {
                    return (0, 1);
                }
                let p = 2 * n - 2;
                let m = i.rem_euclid(p);
                (if m < n { m } else { p - m }, 1)
            }
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = Error;

    /// Parses PyWavelets' mode names (case-insensitive); `per` and `sym`/`zpd`/`ppd`/`sp0`
    /// aliases are not accepted, to keep names unambiguous.
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == lower)
            .ok_or_else(|| Error::UnknownMode(s.to_string()))
    }
}
