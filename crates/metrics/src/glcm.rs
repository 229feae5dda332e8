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
        let mut hist: std::collections::BTreeMap<(u64, u64), u64> =
            std::collections::BTreeMap::new();
        let mut zeros = 0u64;
        let mut per_count: Vec<u64> = Vec::new();
        for d in 0..self.n_dist {
            for a in 0..self.n_angle {
                let counts = self.counts(d, a);
                let total = self.total(d, a).max(1);
                // Histogram of the counts first: a slice has few distinct counts.
                let max = counts.iter().copied().max().unwrap_or(0) as usize;
                per_count.clear();
                per_count.resize(max + 1, 0);
                for &c in counts {
                    per_count[c as usize] += 1;
                }
                zeros += per_count[0];
                for (c, &m) in per_count
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(_, m)| **m > 0)
                {
                    let g = gcd(c as u64, total);
                    *hist.entry((c as u64 / g, total / g)).or_insert(0) += m;
                }
            }
        }
        if zeros > 0 {
            hist.insert((0, 1), zeros);
        }
        entropy_base2(hist.values().copied())
    }
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
