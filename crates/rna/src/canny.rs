//! Canny edge detection with OpenCV's exact semantics, on the host (rayon over rows).
//!
//! Reproduces `cv::Canny(src, dst, low, high, aperture, L2gradient)` for 8-bit single-channel
//! images (`opencv/modules/imgproc/src/canny.cpp`, `parallelCanny` + `finalPass`), bit for bit:
//!
//! 1. **Sobel** `dx`, `dy` with aperture 3, 5 or 7 (`getDerivKernels`, unnormalised), border
//!    `BORDER_REPLICATE`, stored as i16. Aperture 7 is scaled by 1/16 and rounded half to even,
//!    as OpenCV does to stay within i16.
//! 2. **Magnitude** `|dx| + |dy|` (L1, default) or `dx² + dy²` (L2); thresholds are floored
//!    (`cvFloor`) after dividing them by 16 for aperture 7 and, for L2, clamping them to 32767 and
//!    squaring them. `low > high` are swapped. Outside the image the magnitude is 0.
//! 3. **Non-maximum suppression** with OpenCV's fixed-point sector test: `tan 22.5° ≈ 13573/2¹⁵`;
//!    with `x = |dx|`, `y = |dy|·2¹⁵`: `y < 13573·x` → horizontal neighbours
//!    (`m > left && m ≥ right`), `y > 13573·x + 2¹⁶·x` → vertical (`m > up && m ≥ down`), else the
//!    diagonal chosen by the sign of `dx·dy` (`m > · && m > ·`). Only `m > low` is considered.
//! 4. **Hysteresis**: maxima with `m > high` are edges; maxima with `low < m ≤ high` become edges
//!    when 8-connected to an edge through such pixels.
//!
//! Output: 255 on edges, 0 elsewhere. LSRNA calls `cv2.Canny(gray, 0, 255)`: no blur, L1.

use rayon::prelude::*;
use ultrares_core::image::GrayImage;

use crate::{Error, Result};

/// Canny parameters in OpenCV's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CannyConfig {
    /// First threshold (`threshold1`); the smaller of the two is the hysteresis low threshold.
    pub low: f64,
    /// Second threshold (`threshold2`); the larger of the two is the high threshold.
    pub high: f64,
    /// Sobel aperture: 3, 5 or 7 (`apertureSize`).
    pub aperture: u8,
    /// `L2gradient`: magnitude `√(dx² + dy²)` instead of `|dx| + |dy|`.
    pub l2_gradient: bool,
}

impl Default for CannyConfig {
    /// OpenCV's documented example thresholds (100, 200), aperture 3, L1.
    fn default() -> Self {
        Self::new(100.0, 200.0)
    }
}

impl CannyConfig {
    /// Thresholds `low`, `high`, aperture 3, L1 gradient.
    pub fn new(low: f64, high: f64) -> Self {
        Self {
            low,
            high,
            aperture: 3,
            l2_gradient: false,
        }
    }

    /// LSRNA's call: `cv2.Canny(gray, 0, 255)`.
    pub fn lsrna() -> Self {
        Self::new(0.0, 255.0)
    }

    /// The same with the L2 gradient magnitude.
    pub fn with_l2_gradient(mut self, l2: bool) -> Self {
        self.l2_gradient = l2;
        self
    }

    /// The same with another Sobel aperture (3, 5 or 7).
    pub fn with_aperture(mut self, aperture: u8) -> Self {
        self.aperture = aperture;
        self
    }

    /// Validates the parameters and returns OpenCV's integer thresholds `(low, high)` on the
    /// magnitude scale (squared for L2).
    ///
    /// # Errors
    /// [`Error::Argument`] for a NaN threshold or an aperture other than 3, 5, 7.
    pub fn thresholds(&self) -> Result<(i64, i64)> {
        if !matches!(self.aperture, 3 | 5 | 7) {
            return Err(Error::argument("aperture", "3, 5 or 7", self.aperture));
        }
        if self.low.is_nan() || self.high.is_nan() {
            return Err(Error::argument(
                "low, high",
                "thresholds that are not NaN",
                format!("{}, {}", self.low, self.high),
            ));
        }
        let (mut lo, mut hi) = if self.low > self.high {
            (self.high, self.low)
        } else {
            (self.low, self.high)
        };
        if self.aperture == 7 {
            // The aperture-7 gradient is scaled by 1/16 to fit i16, and so are the thresholds.
            lo /= 16.0;
            hi /= 16.0;
        }
        if self.l2_gradient {
            lo = lo.min(32767.0);
            hi = hi.min(32767.0);
            if lo > 0.0 {
                lo *= lo;
            }
            if hi > 0.0 {
                hi *= hi;
            }
        }
        let clamp = |v: f64| v.floor().clamp(i64::MIN as f64, i64::MAX as f64) as i64;
        Ok((clamp(lo), clamp(hi)))
    }
}

/// Sobel kernels `(smoothing, derivative)` of `getDerivKernels(ksize, normalize = false)`.
pub(crate) fn sobel_kernels(aperture: u8) -> (&'static [i32], &'static [i32]) {
    match aperture {
        5 => (&[1, 4, 6, 4, 1], &[-1, -2, 0, 2, 1]),
        7 => (&[1, 6, 15, 20, 15, 6, 1], &[-1, -4, -5, 0, 5, 4, 1]),
        _ => (&[1, 2, 1], &[-1, 0, 1]),
    }
}

/// Round-half-to-even of `s / 16` (OpenCV's aperture-7 scaling, then `saturate_cast<short>`).
#[inline]
pub(crate) fn div16_round_even(s: i32) -> i32 {
    let q = s.div_euclid(16);
    let r = s.rem_euclid(16);
    if r > 8 || (r == 8 && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// Sobel derivatives and the gradient magnitude of one row, written to `dx`, `dy` and `mag`.
/// (Inlined into the dispatched stripe so that it is compiled for the CPU features found.)
#[inline(always)]
fn gradient_row(
    src: &[u8],
    [h, w]: [usize; 2],
    y: usize,
    aperture: u8,
    l2: bool,
    (dx, dy, mag): (&mut [i16], &mut [i16], &mut [i32]),
) {
    let magnitude = |gx: i32, gy: i32| {
        if l2 {
            gx * gx + gy * gy
        } else {
            gx.abs() + gy.abs()
        }
    };
    if aperture == 3 {
        // Specialised 3×3 Sobel with replicated borders.
        let row = |yy: usize| &src[yy * w..(yy + 1) * w];
        let (r0, r1, r2) = (row(y.saturating_sub(1)), row(y), row((y + 1).min(h - 1)));
        let at = |x: usize| {
            let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let p = |r: &[u8], i: usize| r[i] as i32;
            let gx = (p(r0, r) - p(r0, l)) + 2 * (p(r1, r) - p(r1, l)) + (p(r2, r) - p(r2, l));
            let gy = (p(r2, l) + 2 * p(r2, x) + p(r2, r)) - (p(r0, l) + 2 * p(r0, x) + p(r0, r));
            (gx, gy)
        };
        let mut put = |x: usize, (gx, gy): (i32, i32)| {
            dx[x] = gx as i16;
            dy[x] = gy as i16;
            mag[x] = magnitude(gx, gy);
        };
        put(0, at(0));
        if w > 1 {
            put(w - 1, at(w - 1));
        }
        // Interior: no border clamping and no bounds checks, so the loop vectorises.
        if w > 2 {
            let n = w - 2;
            let rows = r0.windows(3).zip(r1.windows(3)).zip(r2.windows(3));
            let outs = dx[1..=n]
                .iter_mut()
                .zip(&mut dy[1..=n])
                .zip(&mut mag[1..=n]);
            for (((a, b), c), ((ox, oy), om)) in rows.zip(outs) {
                let p = |v: u8| v as i32;
                let gx = (p(a[2]) - p(a[0])) + 2 * (p(b[2]) - p(b[0])) + (p(c[2]) - p(c[0]));
                let gy = (p(c[0]) + 2 * p(c[1]) + p(c[2])) - (p(a[0]) + 2 * p(a[1]) + p(a[2]));
                *ox = gx as i16;
                *oy = gy as i16;
                *om = magnitude(gx, gy);
            }
        }
        return;
    }
    let (s, d) = sobel_kernels(aperture);
    let r = s.len() / 2;
    // Vertical pass with replicated rows, into buffers padded by r replicated columns.
    let mut vs = vec![0i32; w + 2 * r];
    let mut vd = vec![0i32; w + 2 * r];
    for k in 0..s.len() {
        let yy = (y + k).saturating_sub(r).min(h - 1);
        let row = &src[yy * w..(yy + 1) * w];
        let (sk, dk) = (s[k], d[k]);
        for (x, &p) in row.iter().enumerate() {
            vs[x + r] += sk * p as i32;
            vd[x + r] += dk * p as i32;
        }
    }
    for i in 0..r {
        vs[i] = vs[r];
        vd[i] = vd[r];
        vs[w + r + i] = vs[w + r - 1];
        vd[w + r + i] = vd[w + r - 1];
    }
    for x in 0..w {
        let (mut gx, mut gy) = (0i32, 0i32);
        for k in 0..s.len() {
            gx += d[k] * vs[x + k];
            gy += s[k] * vd[x + k];
        }
        if aperture == 7 {
            gx = div16_round_even(gx);
            gy = div16_round_even(gy);
        }
        dx[x] = gx as i16;
        dy[x] = gy as i16;
        mag[x] = magnitude(gx, gy);
    }
}

/// Fixed-point tan(22.5°)·2¹⁵ of OpenCV's sector test. A pixel's gradient sector decides which
/// neighbours non-maximum suppression compares: with `x = |dx|`, `y = |dy|·2¹⁵`, `y < 13573·x` is
/// horizontal (left/right), `y > 13573·x + 2¹⁶·x` vertical (up/down), otherwise diagonal:
/// anti-diagonal (up-right/down-left) where `dx·dy < 0`, else up-left/down-right. |dx|, |dy| ≤
/// 24 480 for every aperture, so the products stay below 2³¹.
pub(crate) const TG22: i64 = 13573;

/// A threshold on the i32 magnitude scale (magnitudes are ≥ 0 and < 2³¹).
fn clamp_i32(t: i64) -> i32 {
    t.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// Canny edges of a gray image, identical to `cv2.Canny(gray, low, high, apertureSize, L2gradient)`.
///
/// # Errors
/// [`Error::Argument`] for an empty image or invalid parameters ([`CannyConfig::thresholds`]).
pub fn canny(gray: &GrayImage, cfg: &CannyConfig) -> Result<GrayImage> {
    let (w, h) = gray.dimensions();
    let out = canny_raw(gray.as_raw(), [h as usize, w as usize], cfg)?;
    GrayImage::from_raw(w, h, out)
        .ok_or_else(|| Error::argument("gray", "a consistent buffer", "none"))
}

/// [`canny()`] on a row-major `h × w` u8 buffer; returns 0/255 values of the same size.
///
/// # Errors
/// [`Error::Argument`] for an empty image, a buffer of the wrong length or invalid parameters.
pub fn canny_raw(src: &[u8], size: [usize; 2], cfg: &CannyConfig) -> Result<Vec<u8>> {
    canny_with(pulp::Arch::new(), src, size, cfg)
}

/// [`canny_raw`] compiled for the baseline instruction set only (no run-time AVX2 dispatch), for
/// the tests that check the dispatched path against it.
#[doc(hidden)]
pub fn canny_raw_baseline(src: &[u8], size: [usize; 2], cfg: &CannyConfig) -> Result<Vec<u8>> {
    canny_with(pulp::Arch::Scalar, src, size, cfg)
}

fn canny_with(
    arch: pulp::Arch,
    src: &[u8],
    [h, w]: [usize; 2],
    cfg: &CannyConfig,
) -> Result<Vec<u8>> {
    let (low, high) = cfg.thresholds()?;
    if h == 0 || w == 0 {
        return Err(Error::argument(
            "gray",
            "an image of at least 1×1",
            format!("{w}×{h}"),
        ));
    }
    if h.checked_mul(w) != Some(src.len()) {
        return Err(Error::argument("src", format!("{h}×{w} bytes"), src.len()));
    }
    let n = h * w;
    let mw = w + 2;
    // Map with a one-pixel border of 1 ("not an edge"), as OpenCV's: allocated zeroed (pages
    // are touched by the stripes, in parallel), the stripes write the left and right borders.
    let mut map = vec![0u8; (h + 2) * mw];
    map[..mw].fill(1);
    map[(h + 1) * mw..].fill(1);
    // Stripes of rows processed in parallel: each computes the gradient of its rows plus one row
    // above and below (the magnitude is 0 outside the image), then suppresses non-maxima.
    let stripe = (h / (4 * rayon::current_num_threads().max(1))).clamp(8, 256);
    let strong: Vec<usize> = map[mw..(h + 1) * mw]
        .par_chunks_mut(stripe * mw)
        .enumerate()
        .flat_map_iter(|(si, rows)| {
            arch.dispatch(Stripe {
                src,
                size: [h, w],
                cfg,
                thresholds: (clamp_i32(low), clamp_i32(high)),
                y0: si * stripe,
                rows,
            })
        })
        .collect();
    hysteresis(&mut map, mw, strong);
    let mut out = vec![0u8; n];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let m = &map[(y + 1) * mw + 1..(y + 1) * mw + 1 + w];
        for (o, &c) in row.iter_mut().zip(m) {
            *o = if c == 2 { 255 } else { 0 };
        }
    });
    Ok(out)
}

/// Gradient and non-maximum suppression of one stripe of rows of the edge map (rows `y0..`,
/// with the one-pixel border), returning the strong pixels' map indices. A `pulp::WithSimd`
/// operation, so that it is compiled for AVX2/FMA as well as the baseline and picked at run
/// time: its loops are auto-vectorised, and 8-lane i32 products need AVX2.
struct Stripe<'a> {
    src: &'a [u8],
    size: [usize; 2],
    cfg: &'a CannyConfig,
    /// (low, high) on the i32 magnitude scale.
    thresholds: (i32, i32),
    y0: usize,
    rows: &'a mut [u8],
}

impl pulp::WithSimd for Stripe<'_> {
    type Output = Vec<usize>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Vec<usize> {
        let ([h, w], y0, rows) = (self.size, self.y0, self.rows);
        let mw = w + 2;
        let nr = rows.len() / mw;
        // A rolling window of three gradient rows (the one above, the row, the one below),
        // slot `k % 3` for window row `k` = image row `y0 + k − 1`; the magnitude is 0 outside
        // the image and in the window's border columns. Small enough to stay in cache.
        let mut mag = vec![0i32; 3 * mw];
        let mut dx = vec![0i16; 3 * w];
        let mut dy = vec![0i16; 3 * w];
        let (low32, high32) = self.thresholds;
        let mut seeds = Vec::new();
        for k in 0..nr + 2 {
            let slot = k % 3;
            let m = &mut mag[slot * mw..(slot + 1) * mw];
            match (y0 + k).checked_sub(1).filter(|&v| v < h) {
                Some(yy) => gradient_row(
                    self.src,
                    [h, w],
                    yy,
                    self.cfg.aperture,
                    self.cfg.l2_gradient,
                    (
                        &mut dx[slot * w..(slot + 1) * w],
                        &mut dy[slot * w..(slot + 1) * w],
                        &mut m[1..w + 1],
                    ),
                ),
                None => m.fill(0),
            }
            if k < 2 {
                continue;
            }
            let r = k - 2;
            let row = &mut rows[r * mw..(r + 1) * mw];
            let (su, sm, sd) = ((k - 2) % 3, (k - 1) % 3, slot);
            let (gx, gy) = (&dx[sm * w..(sm + 1) * w], &dy[sm * w..(sm + 1) * w]);
            let (u, m, d) = (
                &mag[su * mw..(su + 1) * mw],
                &mag[sm * mw..(sm + 1) * mw],
                &mag[sd * mw..(sd + 1) * mw],
            );
            // Non-maximum suppression of row r, branch-free over equal-length slices indexed
            // by one counter (no bounds checks, 8 lanes of i32): all four neighbour tests are
            // evaluated and the sector picks one.
            let (ul, uc, ur) = (&u[..w], &u[1..w + 1], &u[2..w + 2]);
            let (ml, mc, mr) = (&m[..w], &m[1..w + 1], &m[2..w + 2]);
            let (dl, dc, dr) = (&d[..w], &d[1..w + 1], &d[2..w + 2]);
            let out = &mut row[1..w + 1];
            for x in 0..w {
                let m = mc[x];
                // OpenCV's sector test (see `TG22`), as lane masks.
                let (xs, ys) = (i32::from(gx[x]), i32::from(gy[x]));
                let (ax, ay) = (xs.abs(), ys.abs() << 15);
                let tg22x = ax * TG22 as i32;
                let horizontal = ay < tg22x;
                let vertical = !horizontal & (ay > tg22x + (ax << 16));
                let diagonal = !horizontal & !vertical;
                let anti = (xs ^ ys) < 0;
                let is_max = (horizontal & (m > ml[x]) & (m >= mr[x]))
                    | (vertical & (m > uc[x]) & (m >= dc[x]))
                    | (diagonal & anti & (m > ur[x]) & (m > dl[x]))
                    | (diagonal & !anti & (m > ul[x]) & (m > dr[x]));
                let keep = is_max & (m > low32);
                // 1 (not an edge), 0 (weak) or 2 (strong).
                out[x] = 1 - keep as u8 + 2 * (keep & (m > high32)) as u8;
            }
            // The map's border columns ("not an edge"); the map is allocated zeroed.
            row[0] = 1;
            row[w + 1] = 1;
            // Strong pixels (2, the only value with bit 1 set) are sparse: test 8 at a time.
            let y = y0 + r + 1;
            for (c, chunk) in row.chunks_exact(8).enumerate() {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let mut bits = u64::from_le_bytes(word) & 0x0202_0202_0202_0202;
                while bits != 0 {
                    seeds.push(y * mw + c * 8 + bits.trailing_zeros() as usize / 8);
                    bits &= bits - 1;
                }
            }
            let tail = mw - mw % 8;
            seeds.extend((tail..mw).filter(|&x| row[x] == 2).map(|x| y * mw + x));
        }
        seeds
    }
}

/// Grows edges (2) into 8-connected weak pixels (0) from the strong seeds.
fn hysteresis(map: &mut [u8], mw: usize, mut stack: Vec<usize>) {
    let offsets = [1, mw - 1, mw, mw + 1];
    while let Some(p) = stack.pop() {
        for o in offsets {
            for q in [p - o, p + o] {
                if map[q] == 0 {
                    map[q] = 2;
                    stack.push(q);
                }
            }
        }
    }
}
