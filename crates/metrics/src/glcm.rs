//! Gray-level co-occurrence matrices and their properties, as scikit-image's
//! `skimage.feature.graycomatrix` / `graycoprops` (0.26) compute them.

use crate::{Error, Result};

/// Largest number of gray levels (`u8` images).
pub const MAX_LEVELS: usize = 256;

/// Parameters of [`graycomatrix`] (scikit-image's arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct GlcmConfig {
    /// Pixel-pair distances.
    pub distances: Vec<usize>,
    /// Angles in radians (0 = to the right, π/2 = downwards).
    pub angles: Vec<f64>,
    /// Gray levels: pixel values must be `< levels`.
    pub levels: usize,
    /// Count each pair in both orders (`symmetric=True`).
    pub symmetric: bool,
}

impl GlcmConfig {
    /// Diffusion-4K's setting (`eval.py`): distances 1–4, angles 0, π/4, π/2, 3π/4, 64 levels,
    /// not symmetric.
    pub fn diffusion_4k() -> Self {
        use std::f64::consts::PI;
        Self {
            distances: vec![1, 2, 3, 4],
            angles: vec![0.0, PI / 4.0, PI / 2.0, 3.0 * PI / 4.0],
            levels: 64,
            symmetric: false,
        }
    }

    /// scikit-image's pixel offset `(Δrow, Δcol) = (⌊sin θ·d + ½⌋, ⌊cos θ·d + ½⌋)` in f64 — its
    /// rounding, found by brute force: π/6 at d = 1 gives sin·d = 0.49999999999999994, whose
    /// `+ ½` rounds to 1, so the row offset is 1 (C `round` would give 0). π/4 at d = 1 and
    /// d = 2 are both (1, 1).
    pub fn offset(distance: usize, angle: f64) -> (i64, i64) {
        let d = distance as f64;
        let r = |v: f64| (v * d + 0.5).floor() as i64;
        (r(angle.sin()), r(angle.cos()))
    }

    fn check(&self) -> Result<()> {
        if self.distances.is_empty() || self.angles.is_empty() {
            return Err(Error::Argument(
                "graycomatrix needs at least one distance and angle".into(),
            ));
        }
        if !(1..=MAX_LEVELS).contains(&self.levels) {
            return Err(Error::Argument(format!(
                "levels = {} (1..=256)",
                self.levels
            )));
        }
        if let Some(a) = self.angles.iter().find(|a| !a.is_finite()) {
            return Err(Error::Argument(format!("angle {a}")));
        }
        if let Some(d) = self.distances.iter().find(|&&d| d > 1 << 20) {
            return Err(Error::Argument(format!("distance {d}")));
        }
        Ok(())
    }
}

/// Co-occurrence counts `P[i, j, d, a]` for `levels × levels` gray pairs, per distance `d` and
/// angle `a` (scikit-image's `(levels, levels, n_dist, n_angle)` layout, stored slice by slice).
#[derive(Debug, Clone, PartialEq)]
pub struct Glcm {
    levels: usize,
    n_dist: usize,
    n_angle: usize,
    /// `counts[(d·n_angle + a)·levels² + i·levels + j]`.
    counts: Vec<u32>,
}

/// The co-occurrence matrix of a gray image (`width × height`, row-major, values `< levels`).
///
/// For every (distance, angle) the pair `(image[r, c], image[r + Δr, c + Δc])` is counted over
/// all positions where both pixels are inside the image.
///
/// # Errors
/// [`Error::Argument`] for an invalid config; [`Error::Image`] if the buffer does not match the
/// size or a pixel is `≥ levels` (scikit-image raises there too).
pub fn graycomatrix(
    image: &[u8],
    width: usize,
    height: usize,
    config: &GlcmConfig,
) -> Result<Glcm> {
    check_image(image, width, height, config)?;
    let l = config.levels;
    let (nd, na) = (config.distances.len(), config.angles.len());
    let mut counts = vec![0u32; nd * na * l * l];
    for (di, &d) in config.distances.iter().enumerate() {
        for (ai, &a) in config.angles.iter().enumerate() {
            let (dr, dc) = GlcmConfig::offset(d, a);
            let slice = &mut counts[(di * na + ai) * l * l..][..l * l];
            let rows = pair_range(height, dr);
            let cols = pair_range(width, dc);
            for r in rows {
                let r2 = (r as i64 + dr) as usize;
                let (src, dst) = (&image[r * width..][..width], &image[r2 * width..][..width]);
                for c in cols.clone() {
                    let c2 = (c as i64 + dc) as usize;
                    let (i, j) = (src[c] as usize, dst[c2] as usize);
                    slice[i * l + j] += 1;
                    if config.symmetric {
                        slice[j * l + i] += 1;
                    }
                }
            }
        }
    }
    Ok(Glcm {
        levels: l,
        n_dist: nd,
        n_angle: na,
        counts,
    })
}

/// Positions `p` with `p` and `p + off` both in `0..len`.
fn pair_range(len: usize, off: i64) -> std::ops::Range<usize> {
    let len = len as i64;
    let start = (-off).max(0).min(len);
    let end = (len - off).min(len).max(start);
    start as usize..end as usize
}

/// A scalar texture property of a normalised GLCM (`graycoprops`' `prop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlcmProp {
    /// `Σ P·(i−j)²`.
    Contrast,
    /// `Σ P·|i−j|`.
    Dissimilarity,
    /// `Σ P/(1 + (i−j)²)`.
    Homogeneity,
    /// Angular second moment `Σ P²`.
    Asm,
    /// `√ASM`.
    Energy,
    /// `Σ P·(i−μᵢ)(j−μⱼ)/(σᵢσⱼ)`, 1 when either σ < 1e-15.
    Correlation,
    /// `Σ P·i`.
    Mean,
    /// `Σ P·(i − mean)²`.
    Variance,
    /// `√variance`.
    Std,
    /// The textbook GLCM entropy `−Σ P·ln P` (natural log, as scikit-image).
    Entropy,
}

impl GlcmProp {
    /// scikit-image's name (`"contrast"`, `"ASM"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Contrast => "contrast",
            Self::Dissimilarity => "dissimilarity",
            Self::Homogeneity => "homogeneity",
            Self::Asm => "ASM",
            Self::Energy => "energy",
            Self::Correlation => "correlation",
            Self::Mean => "mean",
            Self::Variance => "variance",
            Self::Std => "std",
            Self::Entropy => "entropy",
        }
    }

    /// Parses scikit-image's names.
    ///
    /// # Errors
    /// [`Error::Argument`] for other names.
    pub fn parse(name: &str) -> Result<Self> {
        [
            Self::Contrast,
            Self::Dissimilarity,
            Self::Homogeneity,
            Self::Asm,
            Self::Energy,
            Self::Correlation,
            Self::Mean,
            Self::Variance,
            Self::Std,
            Self::Entropy,
        ]
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| Error::Argument(format!("unknown GLCM property {name:?}")))
    }
}

impl Glcm {
    /// Gray levels.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// `(number of distances, number of angles)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.n_dist, self.n_angle)
    }

    /// The `levels × levels` counts of distance `d`, angle `a` (row `i` = reference level).
    pub fn counts(&self, d: usize, a: usize) -> &[u32] {
        let l2 = self.levels * self.levels;
        &self.counts[(d * self.n_angle + a) * l2..][..l2]
    }

    /// Total pairs of one slice.
    pub fn total(&self, d: usize, a: usize) -> u64 {
        self.counts(d, a).iter().map(|&c| u64::from(c)).sum()
    }

    /// The normalised slice `P / ΣP` (`normed=True`; an empty slice stays all zero).
    pub fn normalized(&self, d: usize, a: usize) -> Vec<f64> {
        let total = self.total(d, a).max(1) as f64;
        self.counts(d, a)
            .iter()
            .map(|&c| f64::from(c) / total)
            .collect()
    }

    /// `graycoprops(P, prop)`: one value per (distance, angle), distance-major.
    pub fn prop(&self, prop: GlcmProp) -> Vec<f64> {
        let l = self.levels;
        let mut out = Vec::with_capacity(self.n_dist * self.n_angle);
        for d in 0..self.n_dist {
            for a in 0..self.n_angle {
                let p = self.normalized(d, a);
                let at = |i: usize, j: usize| p[i * l + j];
                let sum = |f: &dyn Fn(usize, usize) -> f64| -> f64 {
                    (0..l)
                        .map(|i| (0..l).map(|j| at(i, j) * f(i, j)).sum::<f64>())
                        .sum()
                };
                let diff = |i: usize, j: usize| i as f64 - j as f64;
                let mean = || sum(&|i, _| i as f64);
                let variance = || {
                    let m = mean();
                    sum(&|i, _| (i as f64 - m).powi(2))
                };
                let v = match prop {
                    GlcmProp::Contrast => sum(&|i, j| diff(i, j).powi(2)),
                    GlcmProp::Dissimilarity => sum(&|i, j| diff(i, j).abs()),
                    GlcmProp::Homogeneity => sum(&|i, j| 1.0 / (1.0 + diff(i, j).powi(2))),
                    GlcmProp::Asm => p.iter().map(|v| v * v).sum(),
                    GlcmProp::Energy => p.iter().map(|v| v * v).sum::<f64>().sqrt(),
                    GlcmProp::Mean => mean(),
                    GlcmProp::Variance => variance(),
                    GlcmProp::Std => variance().sqrt(),
                    GlcmProp::Entropy => -p
                        .iter()
                        .filter(|&&v| v != 0.0)
                        .map(|v| v * v.ln())
                        .sum::<f64>(),
                    GlcmProp::Correlation => {
                        let mi = sum(&|i, _| i as f64);
                        let mj = sum(&|_, j| j as f64);
                        let si = sum(&|i, _| (i as f64 - mi).powi(2)).sqrt();
                        let sj = sum(&|_, j| (j as f64 - mj).powi(2)).sqrt();
                        if si < 1e-15 || sj < 1e-15 {
                            1.0
                        } else {
                            sum(&|i, j| (i as f64 - mi) * (j as f64 - mj)) / (si * sj)
                        }
                    }
                };
                out.push(v);
            }
        }
        out
    }

    /// scikit-image's `shannon_entropy` of the normalised GLCM tensor: the base-2 entropy of the
    /// histogram of its **distinct values** (what Diffusion-4K's GLCM Score averages; not the
    /// textbook GLCM entropy, which is [`GlcmProp::Entropy`]).
    ///
    /// Values `c/N` of different slices are equal exactly when the fractions are (N ≤ 2³² and
    /// IEEE division is correctly rounded), so distinct values are counted by reduced fraction
    /// instead of sorting the `levels²·n_dist·n_angle` floats.
    pub fn value_entropy(&self) -> f64 {
        let mut values = ValueHistogram::default();
        let mut per_count = Vec::new();
        for d in 0..self.n_dist {
            for a in 0..self.n_angle {
                values.add_slice(self.counts(d, a), self.total(d, a), &mut per_count);
            }
        }
        values.entropy()
    }
}

/// Interleaved tables for histograms of small counts: runs of equal counts (most are 0 or 1)
/// would otherwise make every increment wait for the previous one's store. (The pair counting
/// of [`value_entropy_of`] splits its tables by hand for four.)
const WAYS: usize = 4;
const _: () = assert!(WAYS == 4);

/// The histogram of the distinct values `c / total` of normalised GLCM slices, keyed by reduced
/// fraction: values of different slices are equal exactly when the fractions are (totals
/// ≤ 2³² and IEEE division is correctly rounded).
#[derive(Default)]
struct ValueHistogram {
    fractions: std::collections::BTreeMap<(u64, u64), u64>,
    zeros: u64,
}

impl ValueHistogram {
    /// Adds one slice from its bin counts (`total` = their sum). `per_count` is scratch.
    #[inline(always)]
    fn add_slice<C: Copy + Ord + Default + Into<u32>>(
        &mut self,
        counts: &[C],
        total: u64,
        per_count: &mut Vec<u64>,
    ) {
        // Histogram of the counts (a slice has few distinct ones) in `WAYS` interleaved tables,
        // skipping all-zero spans of bins (most of them).
        let max = counts.iter().copied().max().unwrap_or_default().into() as usize;
        let stride = max + 1;
        per_count.clear();
        per_count.resize(WAYS * stride, 0);
        for span in counts.chunks(16) {
            if span.iter().copied().fold(C::default(), C::max) != C::default() {
                for (k, &c) in span.iter().enumerate() {
                    per_count[(k % WAYS) * stride + c.into() as usize] += 1;
                }
            }
        }
        self.zeros += counts.iter().filter(|&&c| c == C::default()).count() as u64;
        let total = total.max(1);
        for c in 1..stride {
            let m: u64 = (0..WAYS).map(|t| per_count[t * stride + c]).sum();
            if m > 0 {
                let g = gcd(c as u64, total);
                *self.fractions.entry((c as u64 / g, total / g)).or_insert(0) += m;
            }
        }
    }

    fn entropy(mut self) -> f64 {
        if self.zeros > 0 {
            self.fractions.insert((0, 1), self.zeros);
        }
        entropy_base2(self.fractions.values().copied())
    }
}

/// Reusable buffers of [`value_entropy_of`] (one per thread).
#[derive(Default)]
pub(crate) struct EntropyScratch {
    /// `WAYS` tables of pair counts by code `i·levels + j`; all zero between slices.
    bins: Vec<u16>,
    codes: Vec<u16>,
    per_count: Vec<u64>,
}

/// `graycomatrix(image, …).value_entropy()` without materialising the `levels²·n_dist·n_angle`
/// matrix: each slice is counted in `WAYS` interleaved tables (consecutive pixels of a flat
/// region hit the same bin, and one table would make every increment wait for the previous
/// one's store), which are then merged, histogrammed and reset in place.
///
/// # Errors
/// As [`graycomatrix`].
pub(crate) fn value_entropy_of(
    image: &[u8],
    width: usize,
    height: usize,
    config: &GlcmConfig,
    scratch: &mut EntropyScratch,
) -> Result<f64> {
    check_image(image, width, height, config)?;
    if width * height * 2 > usize::from(u16::MAX) {
        // The u16 tables could overflow: count in the full matrix instead.
        return Ok(graycomatrix(image, width, height, config)?.value_entropy());
    }
    Ok(pulp::Arch::new().dispatch(SliceEntropies {
        image,
        width,
        height,
        config,
        scratch,
    }))
}

/// The counting loop of [`value_entropy_of`] as a `pulp::WithSimd` operation, compiled for
/// AVX2 as well as the baseline and chosen at run time.
struct SliceEntropies<'a> {
    image: &'a [u8],
    width: usize,
    height: usize,
    config: &'a GlcmConfig,
    scratch: &'a mut EntropyScratch,
}

impl pulp::WithSimd for SliceEntropies<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        let Self {
            image,
            width,
            height,
            config,
            scratch,
        } = self;
        let l = config.levels;
        let ll = l * l;
        let EntropyScratch {
            bins,
            codes,
            per_count,
        } = scratch;
        if bins.len() != WAYS * ll {
            *bins = vec![0; WAYS * ll];
        }
        let mut values = ValueHistogram::default();
        for &d in &config.distances {
            for &a in &config.angles {
                let (dr, dc) = GlcmConfig::offset(d, a);
                let cols = pair_range(width, dc);
                // Pair codes `i·levels + j` (vectorised), then counted four at a time, one table
                // each. (No pairs when the offset is wider than the image: nothing to index.)
                codes.clear();
                let rows = if cols.is_empty() {
                    0..0
                } else {
                    pair_range(height, dr)
                };
                for r in rows {
                    let r2 = (r as i64 + dr) as usize;
                    let c2 = (cols.start as i64 + dc) as usize;
                    let src = &image[r * width..][cols.clone()];
                    let dst = &image[r2 * width + c2..][..src.len()];
                    let code = |i: u8, j: u8| u16::from(i) * l as u16 + u16::from(j);
                    codes.extend(src.iter().zip(dst).map(|(&i, &j)| code(i, j)));
                    if config.symmetric {
                        codes.extend(src.iter().zip(dst).map(|(&i, &j)| code(j, i)));
                    }
                }
                let (b0, rest) = bins.split_at_mut(ll);
                let (b1, rest) = rest.split_at_mut(ll);
                let (b2, b3) = rest.split_at_mut(ll);
                let mut quads = codes.chunks_exact(WAYS);
                for q in &mut quads {
                    b0[usize::from(q[0])] += 1;
                    b1[usize::from(q[1])] += 1;
                    b2[usize::from(q[2])] += 1;
                    b3[usize::from(q[3])] += 1;
                }
                for &c in quads.remainder() {
                    b0[usize::from(c)] += 1;
                }
                // Merge the tables into the first (vectorised), then reset them all.
                for b in [&mut *b1, &mut *b2, &mut *b3] {
                    for (x, y) in b0.iter_mut().zip(b.iter_mut()) {
                        *x += std::mem::take(y);
                    }
                }
                values.add_slice(b0, codes.len() as u64, per_count);
                b0.fill(0);
            }
        }
        values.entropy()
    }
}

/// The checks of [`graycomatrix`]'s arguments.
fn check_image(image: &[u8], width: usize, height: usize, config: &GlcmConfig) -> Result<()> {
    config.check()?;
    if width.checked_mul(height) != Some(image.len()) {
        return Err(Error::Image(format!(
            "{} bytes for a {width}×{height} image",
            image.len()
        )));
    }
    let l = config.levels;
    if let Some(v) = image.iter().find(|&&v| v as usize >= l) {
        return Err(Error::Image(format!("pixel value {v} is ≥ levels = {l}")));
    }
    Ok(())
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `scipy.stats.entropy(counts, base=2)`.
pub(crate) fn entropy_base2(counts: impl Iterator<Item = u64> + Clone) -> f64 {
    let total: u64 = counts.clone().sum();
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    let h: f64 = counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    h / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A patch with flat runs (long chains on one bin) and noise, values `< levels`.
    fn patch(w: usize, h: usize, levels: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..w * h)
            .map(|k| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = if (k / w).is_multiple_of(3) {
                    7
                } else {
                    (x >> 33) as usize
                };
                (v % levels) as u8
            })
            .collect()
    }

    #[test]
    fn sliced_value_entropy_equals_the_full_matrix() {
        let mut scratch = EntropyScratch::default();
        let mut cases = 0;
        for (w, h) in [(64, 64), (17, 5), (1, 9), (40, 33)] {
            for levels in [1, 8, 64, 256] {
                for symmetric in [false, true] {
                    let config = GlcmConfig {
                        levels,
                        symmetric,
                        distances: vec![1, 2, 5, 70],
                        ..GlcmConfig::diffusion_4k()
                    };
                    let img = patch(w, h, levels, (w * 1000 + levels) as u64);
                    let want = graycomatrix(&img, w, h, &config).unwrap().value_entropy();
                    let got = value_entropy_of(&img, w, h, &config, &mut scratch).unwrap();
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{w}×{h} L{levels} {symmetric}"
                    );
                    let baseline = pulp::Arch::Scalar.dispatch(SliceEntropies {
                        image: &img,
                        width: w,
                        height: h,
                        config: &config,
                        scratch: &mut scratch,
                    });
                    assert_eq!(baseline.to_bits(), want.to_bits());
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 32);
        // Too large for the u16 tables: the full-matrix fallback.
        let config = GlcmConfig::diffusion_4k();
        let img = patch(200, 200, 64, 3);
        let want = graycomatrix(&img, 200, 200, &config)
            .unwrap()
            .value_entropy();
        let got = value_entropy_of(&img, 200, 200, &config, &mut scratch).unwrap();
        assert_eq!(got.to_bits(), want.to_bits());
    }
}
