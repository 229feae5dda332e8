//! MultiDiffusion views as DemoFusion's and LSRNA's `get_views` lay them out.

use crate::{Randomness, Result};

/// One window of a latent, `[h0, h1) × [w0, w1)` in latent units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// First row.
    pub h0: usize,
    /// One past the last row.
    pub h1: usize,
    /// First column.
    pub w0: usize,
    /// One past the last column.
    pub w1: usize,
}

/// The number of windows of `window` at `stride` covering `n` (`get_views`' `num_blocks`).
pub fn view_count(n: usize, window: usize, stride: usize) -> usize {
    if n > window {
        ((n - window) as f64 / stride as f64 - 1e-6) as usize + 2
    } else {
        1
    }
}

/// The views of an `height × width` latent (`3587jjh/LSRNA:pipeline_lsrna_demofusion_sdxl.py`
/// `get_views`, identical to DemoFusion's in latent units): `window²` windows at `stride`, row
/// major, the last row/column shifted back to end at the edge, clamped at 0 when the latent is
/// smaller than a window.
///
/// With `jitter` (DemoFusion's `random_jitter`), every window is shifted by a random offset
/// within `J = (window − stride)/4`, drawn per axis in the order width, height (as the
/// reference): `U[−J, J]` for interior windows, `U[−J, 0]` at the start edge, `U[0, J]` at the
/// end edge, none when the window spans the axis; the coordinates are then in the frame of the
/// latent zero-padded by `J` on every side.
///
/// # Errors
/// Only from the [`Randomness`] source.
pub fn get_views(
    height: usize,
    width: usize,
    window: usize,
    stride: usize,
    mut jitter: Option<&mut dyn Randomness>,
) -> Result<Vec<View>> {
    let (nh, nw) = (
        view_count(height, window, stride),
        view_count(width, window, stride),
    );
    let range = ((window - stride.min(window)) / 4) as i64;
    let mut views = Vec::with_capacity(nh * nw);
    for i in 0..nh * nw {
        let place = |start: usize, n: usize| -> (i64, i64) {
            let (mut s, mut e) = (start as i64, (start + window) as i64);
            if e > n as i64 {
                s += n as i64 - e;
                e = n as i64;
            }
            if s < 0 {
                e -= s;
                s = 0;
            }
            (s, e)
        };
        let (mut h0, mut h1) = place((i / nw) * stride, height);
        let (mut w0, mut w1) = place((i % nw) * stride, width);
        if let Some(rng) = jitter.as_deref_mut() {
            let mut draw = |s: i64, e: i64, n: usize| -> ultrares_core::Result<i64> {
                match (s != 0, e != n as i64) {
                    (true, true) => rng.randint(-range, range),
                    (false, true) => rng.randint(-range, 0),
                    (true, false) => rng.randint(0, range),
                    (false, false) => Ok(0),
                }
            };
            let wj = draw(w0, w1, width)?;
            let hj = draw(h0, h1, height)?;
            (h0, h1) = (h0 + hj + range, h1 + hj + range);
            (w0, w1) = (w0 + wj + range, w1 + wj + range);
        }
        views.push(View {
            h0: h0 as usize,
            h1: h1 as usize,
            w0: w0 as usize,
            w1: w1 as usize,
        });
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_spec_table() {
        // lsrna.md §4.3: 2048² → 3×3, 3072² → 5×5, 4096² → 7×7, 256×512 → 3×7.
        for (n, want) in [(256, 3), (384, 5), (512, 7), (128, 1), (100, 1)] {
            assert_eq!(view_count(n, 128, 64), want, "{n}");
        }
        let v = get_views(256, 512, 128, 64, None).unwrap();
        assert_eq!(v.len(), 21);
        assert_eq!(
            v[6],
            View {
                h0: 0,
                h1: 128,
                w0: 384,
                w1: 512
            }
        );
        assert_eq!(
            v[20],
            View {
                h0: 128,
                h1: 256,
                w0: 384,
                w1: 512
            }
        );
    }
}
