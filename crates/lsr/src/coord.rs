//! LIIF's coordinate conventions and PyTorch's `grid_sample` index arithmetic, per axis.
//!
//! LIIF queries a feature map at the pixel centres of the output, `make_coord` (`yinboc/liif:
//! utils.py`, identical in `3587jjh/LSRNA:lsr/liif.py`): for an axis of length `n`,
//! `c_k = −1 + 1/n + (2/n)·k`. The output grid is the outer product of a row axis and a column
//! axis, so every per-query quantity LIIF needs (the nearest feature cell, its centre, the
//! relative offset) depends on one axis only and is computed here once per row and per column,
//! in f32 with the same operation order as PyTorch's CPU kernels, so the chosen feature cells are
//! exactly PyTorch's.

/// The `n` pixel-centre coordinates of LIIF's `make_coord` on `[−1, 1]`, in PyTorch's f32
/// arithmetic: `f32(−1 + r) + f32(2r)·k` with `r = 1/n`.
pub fn make_coord(n: usize) -> Vec<f32> {
    let r = 1.0 / n as f64;
    let (start, step) = ((-1.0 + r) as f32, (2.0 * r) as f32);
    (0..n).map(|k| start + step * k as f32).collect()
}

/// PyTorch's CPU `grid_sample` un-normalisation with `align_corners=False`:
/// `(c + 1)·(n/2) − 0.5`, in f32.
pub fn unnormalize(c: f32, n: usize) -> f32 {
    (c + 1.0) * (n as f32 / 2.0) - 0.5
}

/// One LIIF local-ensemble shift along one axis: for every query coordinate, the nearest
/// feature cell and the query's offset from that cell's centre in feature-cell units.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisShift {
    /// Feature index `0..n` chosen by `grid_sample(mode='nearest')` for each query.
    pub index: Vec<usize>,
    /// `(c − c_cell)·n` for each query (LIIF's `rel_coord` component).
    pub rel: Vec<f32>,
}

/// The nearest feature cell along an axis of `n` features for queries `coords` shifted by
/// `v` feature cells (`v ∈ {−1, 0, 1}`; LIIF's `vx·rx + eps_shift` with `eps = 1e-6` when
/// `v ≠ 0`), after LIIF's clamp to `[−1 + 1e-6, 1 − 1e-6]`.
///
/// Rounding is PyTorch's `nearbyint` (half to even) on the f32 un-normalised coordinate.
pub fn axis_shift(coords: &[f32], n: usize, v: i32, ensemble: bool) -> AxisShift {
    let shift = if ensemble {
        (v as f64 * (2.0 / n as f64 / 2.0) + 1e-6) as f32
    } else {
        0.0
    };
    let (lo, hi) = ((-1.0 + 1e-6) as f32, (1.0 - 1e-6) as f32);
    let centres = make_coord(n);
    let mut index = Vec::with_capacity(coords.len());
    let mut rel = Vec::with_capacity(coords.len());
    for &c in coords {
        let shifted = (c + shift).clamp(lo, hi);
        let i = (unnormalize(shifted, n).round_ties_even().max(0.0) as usize).min(n - 1);
        index.push(i);
        rel.push((c - centres[i]) * n as f32);
    }
    AxisShift { index, rel }
}

pub use ultrares_core::cubic::cubic_coefficients;

/// The four taps and weights of `grid_sample(mode='bicubic', padding_mode='border',
/// align_corners=False)` at each coordinate of `coords` on an axis of `n` samples: tap indices
/// `⌊x⌋ − 1 … ⌊x⌋ + 2` clamped to `[0, n − 1]`, `x` the un-normalised coordinate.
pub fn bicubic_taps(coords: &[f32], n: usize) -> Vec<([usize; 4], [f32; 4])> {
    coords
        .iter()
        .map(|&c| {
            let x = unnormalize(c, n);
            let f = x.floor();
            let idx = [0, 1, 2, 3].map(|k| (f as i64 + k - 1).clamp(0, n as i64 - 1) as usize);
            (idx, cubic_coefficients(x - f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_coord_is_centred() {
        assert_eq!(make_coord(1), vec![0.0]);
        assert_eq!(make_coord(2), vec![-0.5, 0.5]);
        let c = make_coord(7);
        for (a, b) in c.iter().zip(c.iter().rev()) {
            assert!((a + b).abs() < 1e-6);
        }
    }

    #[test]
    fn integer_scale_picks_the_neighbouring_cells() {
        // ×2: query k sits in feature cell k/2; the −1/+1 shifts pick the left/right neighbours,
        // clamped at the borders.
        let q = make_coord(8);
        let left = axis_shift(&q, 4, -1, true);
        let right = axis_shift(&q, 4, 1, true);
        assert_eq!(left.index, vec![0, 0, 0, 1, 1, 2, 2, 3]);
        assert_eq!(right.index, vec![0, 1, 1, 2, 2, 3, 3, 3]);
        // Query 2 (c = −0.375) against cell centres −0.75 and −0.25, in cell units.
        assert!((left.rel[2] - 1.5).abs() < 1e-6 && (right.rel[2] + 0.5).abs() < 1e-6);
    }
}
