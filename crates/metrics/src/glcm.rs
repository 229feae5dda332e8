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
    /// IEEE division is correctly rounded), so distinct values are counted by count and total
    /// instead of sorting the `levels²·n_dist·n_angle` floats.
    pub fn value_entropy(&self) -> f64 {
        let l2 = self.levels * self.levels;
        let slices: Vec<&[u32]> = self.counts.chunks_exact(l2).collect();
        let totals: Vec<u64> = slices
            .iter()
            .map(|s| s.iter().map(|&c| u64::from(c)).sum())
            .collect();
        let mut terms = ValueTerms::default();
        let mut counts = Vec::new();
        for group in groups_by_total(&totals) {
            counts.clear();
            for &s in &group.slices {
                counts.extend(slices[s].iter().copied().filter(|&c| c != 0));
            }
            terms.zeros += (group.slices.len() * l2 - counts.len()) as u64;
            counts.sort_unstable();
            for run in counts.chunk_by(|a, b| a == b) {
                terms.push(&group, u64::from(run[0]), run.len() as u64);
            }
        }
        terms.entropy()
    }
}

/// The slices of one total `T` (pair count) of a GLCM. Their values `v/T` are equal exactly
/// when the counts `v` are; a value of another total `T'` can equal `v/T` only if
/// `T / gcd(T, T')` divides `v`, so counts below `shared_from` are values of this total alone.
struct TotalGroup {
    total: u64,
    shared_from: u64,
    slices: Vec<usize>,
}

/// The slices grouped by total, in order of first appearance (for Diffusion-4K's 64² patches,
/// 8 totals: 64·(64−d) along rows and columns, (64−d)² along diagonals).
fn groups_by_total(totals: &[u64]) -> Vec<TotalGroup> {
    let mut groups: Vec<TotalGroup> = Vec::new();
    for (s, &total) in totals.iter().enumerate() {
        match groups.iter_mut().find(|g| g.total == total) {
            Some(g) => g.slices.push(s),
            None => groups.push(TotalGroup {
                total,
                shared_from: u64::MAX,
                slices: vec![s],
            }),
        }
    }
    let nonempty: Vec<u64> = groups.iter().map(|g| g.total).filter(|&t| t > 0).collect();
    for g in &mut groups {
        for &t in nonempty.iter().filter(|&&t| t != g.total) {
            g.shared_from = g.shared_from.min(g.total / gcd(g.total, t));
        }
    }
    groups
}

/// The multiplicities of the distinct values of a normalised GLCM, gathered per total group.
#[derive(Default)]
struct ValueTerms {
    /// Multiplicities of values that only one total has.
    terms: Vec<u64>,
    /// `((v, T) reduced, multiplicity)` of values that another total may share.
    shared: Vec<((u64, u64), u64)>,
    /// Zero entries (one value in every slice).
    zeros: u64,
}

impl ValueTerms {
    /// `m` entries with count `v ≥ 1` in the slices of `group`.
    #[inline]
    fn push(&mut self, group: &TotalGroup, v: u64, m: u64) {
        if v < group.shared_from {
            self.terms.push(m);
        } else {
            let g = gcd(v, group.total);
            self.shared.push(((v / g, group.total / g), m));
        }
    }

    /// The base-2 entropy of the value histogram; leaves `self` empty for the next matrix.
    fn entropy(&mut self) -> f64 {
        self.shared.sort_unstable_by_key(|&(key, _)| key);
        for run in self.shared.chunk_by(|a, b| a.0 == b.0) {
            self.terms.push(run.iter().map(|&(_, m)| m).sum());
        }
        if self.zeros > 0 {
            self.terms.push(self.zeros);
        }
        let h = entropy_base2(self.terms.iter().copied());
        self.terms.clear();
        self.shared.clear();
        self.zeros = 0;
        h
    }
}

/// Interleaved tables: consecutive pixels of a flat region hit the same bin, and one table
/// would make every increment wait for the previous one's store.
const WAYS: usize = 4;
/// Bins merged and scanned per step of [`value_entropy_of`].
const SPAN: usize = 16;

/// Reusable buffers of [`value_entropy_of`] (one per thread).
#[derive(Default)]
pub(crate) struct EntropyScratch {
    /// `WAYS` tables of pair counts by code `i·levels + j` (padded to `SPAN`); all zero
    /// between slices.
    bins: Vec<u16>,
    codes: Vec<u16>,
    /// The nonzero bin counts of one slice.
    packed: Vec<u16>,
    /// `WAYS` tables of how many bins hold each count; all zero between groups.
    per_count: Vec<u32>,
    terms: ValueTerms,
}

/// `graycomatrix(image, …).value_entropy()` without materialising the `levels²·n_dist·n_angle`
/// matrix: the slices of one total are counted one after another in `WAYS` interleaved `u16`
/// tables, which are merged `SPAN` bins at a time, reset, and only their nonzero bins
/// histogrammed by count.
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
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        let op = SliceEntropies {
            image,
            width,
            height,
            config,
            scratch,
            pack: v3,
        };
        return Ok(v3.vectorize(move || pulp::WithSimd::with_simd(op, v3)));
    }
    Ok(pulp::Arch::new().dispatch(SliceEntropies {
        image,
        width,
        height,
        config,
        scratch,
        pack: Portable,
    }))
}

/// Packs the nonzero lanes of `SPAN` merged bin counts, in order, to the front of `out`
/// (`SPAN` long) and returns how many there are.
trait PackNonzero: Copy {
    fn pack(self, sum: [u16; SPAN], out: &mut [u16]) -> usize;
}

/// Branch-free scalar packing.
#[derive(Clone, Copy)]
struct Portable;

impl PackNonzero for Portable {
    #[inline(always)]
    fn pack(self, sum: [u16; SPAN], out: &mut [u16]) -> usize {
        let mut n = 0;
        for (k, v) in sum.into_iter().enumerate() {
            out[n.min(k)] = v;
            n += usize::from(v != 0);
        }
        n
    }
}

/// `pshufb` controls moving the 16-bit lanes set in an 8-bit mask to the front.
#[cfg(target_arch = "x86_64")]
const PACK_LUT: [[u8; 16]; 256] = {
    let mut lut = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut n, mut j) = (0, 0);
        while j < 8 {
            if (m >> j) & 1 == 1 {
                lut[m][2 * n] = 2 * j as u8;
                lut[m][2 * n + 1] = 2 * j as u8 + 1;
                n += 1;
            }
            j += 1;
        }
        m += 1;
    }
    lut
};

/// AVX2 packing: a zero test, a byte mask, and one table shuffle per 8 lanes.
#[cfg(target_arch = "x86_64")]
impl PackNonzero for pulp::x86::V3 {
    #[inline(always)]
    fn pack(self, sum: [u16; SPAN], out: &mut [u16]) -> usize {
        use pulp::bytemuck::cast;
        use std::arch::x86_64::{__m128i, __m256i};
        let v: __m256i = cast(sum);
        let zero = self
            .avx2
            ._mm256_cmpeq_epi16(v, self.avx._mm256_setzero_si256());
        let halves = |x: __m256i| {
            (
                self.avx._mm256_castsi256_si128(x),
                self.avx2._mm256_extracti128_si256::<1>(x),
            )
        };
        let (z_lo, z_hi) = halves(zero);
        let zero_bits = self
            .sse2
            ._mm_movemask_epi8(self.sse2._mm_packs_epi16(z_lo, z_hi));
        let nonzero = !zero_bits as u32 & 0xffff;
        let (lo, hi) = halves(v);
        let shuffled = |x: __m128i, m: u32| -> [u16; 8] {
            cast(
                self.ssse3
                    ._mm_shuffle_epi8(x, cast(PACK_LUT[m as usize & 0xff])),
            )
        };
        let n_lo = (nonzero & 0xff).count_ones() as usize;
        out[..8].copy_from_slice(&shuffled(lo, nonzero));
        out[n_lo..n_lo + 8].copy_from_slice(&shuffled(hi, nonzero >> 8));
        nonzero.count_ones() as usize
    }
}

/// The counting loop of [`value_entropy_of`] as a `pulp::WithSimd` operation, compiled for
/// AVX2 as well as the baseline and chosen at run time.
struct SliceEntropies<'a, P> {
    image: &'a [u8],
    width: usize,
    height: usize,
    config: &'a GlcmConfig,
    scratch: &'a mut EntropyScratch,
    pack: P,
}

impl<P: PackNonzero> pulp::WithSimd for SliceEntropies<'_, P> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        if self.config.levels <= 64 {
            self.run::<4096>()
        } else {
            self.run::<65536>()
        }
    }
}

impl<P: PackNonzero> SliceEntropies<'_, P> {
    /// The entropy with tables of `N ≥ levels²` bins (a power of two, so that masking a code
    /// proves it in bounds).
    #[inline(always)]
    fn run<const N: usize>(self) -> f64 {
        let Self {
            image,
            width,
            height,
            config,
            scratch,
            pack,
        } = self;
        let l = config.levels;
        let ll = l * l;
        let padded = ll.next_multiple_of(SPAN);
        let EntropyScratch {
            bins,
            codes,
            packed,
            per_count,
            terms,
        } = scratch;
        if bins.len() != WAYS * N {
            *bins = vec![0; WAYS * N];
        }
        packed.resize(padded + SPAN, 0);
        // Pixel ranges of each slice's pairs, distance-major; none when the offset is wider
        // than the image.
        let slices: Vec<(i64, i64, std::ops::Range<usize>, std::ops::Range<usize>)> = config
            .distances
            .iter()
            .flat_map(|&d| config.angles.iter().map(move |&a| GlcmConfig::offset(d, a)))
            .map(|(dr, dc)| {
                let cols = pair_range(width, dc);
                let rows = if cols.is_empty() {
                    0..0
                } else {
                    pair_range(height, dr)
                };
                (dr, dc, rows, cols)
            })
            .collect();
        let pairs = if config.symmetric { 2 } else { 1 };
        let totals: Vec<u64> = slices
            .iter()
            .map(|(_, _, rows, cols)| (rows.len() * cols.len() * pairs) as u64)
            .collect();
        // Counts are ≤ the total (< 2¹⁶).
        let stride = totals.iter().copied().max().unwrap_or(0) as usize + 1;
        if per_count.len() < WAYS * stride {
            per_count.resize(WAYS * stride, 0);
        }
        let per_count = &mut per_count[..WAYS * stride];
        let [b0, b1, b2, b3] = bins.as_chunks_mut::<N>().0 else {
            unreachable!("bins holds WAYS tables")
        };
        let code = |i: u8, j: u8| u16::from(i) * l as u16 + u16::from(j);
        for group in groups_by_total(&totals) {
            let mut max_count = 0;
            for &s in &group.slices {
                let (dr, dc, rows, cols) = &slices[s];
                // Pair codes `i·levels + j`, one row (and its mirror) at a time (vectorised).
                codes.clear();
                codes.resize(totals[s] as usize, 0);
                let mut out = codes.chunks_exact_mut(cols.len().max(1));
                for r in rows.clone() {
                    let r2 = (r as i64 + dr) as usize;
                    let c2 = (cols.start as i64 + dc) as usize;
                    let src = &image[r * width..][cols.clone()];
                    let dst = &image[r2 * width + c2..][..src.len()];
                    if let Some(o) = out.next() {
                        for ((o, &i), &j) in o.iter_mut().zip(src).zip(dst) {
                            *o = code(i, j);
                        }
                    }
                    if config.symmetric
                        && let Some(o) = out.next()
                    {
                        for ((o, &i), &j) in o.iter_mut().zip(src).zip(dst) {
                            *o = code(j, i);
                        }
                    }
                }
                // Counted four at a time, one table each.
                let (quads, rest) = codes.as_chunks::<WAYS>();
                for &[c0, c1, c2, c3] in quads {
                    b0[usize::from(c0) % N] += 1;
                    b1[usize::from(c1) % N] += 1;
                    b2[usize::from(c2) % N] += 1;
                    b3[usize::from(c3) % N] += 1;
                }
                for &c in rest {
                    b0[usize::from(c) % N] += 1;
                }
                // Merge and reset the tables SPAN bins at a time (vectorised), packing the
                // nonzero counts; then histogram those, the k-th in table k mod WAYS.
                let mut nonzero = 0;
                for (((c0, c1), c2), c3) in b0[..padded]
                    .as_chunks_mut::<SPAN>()
                    .0
                    .iter_mut()
                    .zip(b1[..padded].as_chunks_mut::<SPAN>().0)
                    .zip(b2[..padded].as_chunks_mut::<SPAN>().0)
                    .zip(b3[..padded].as_chunks_mut::<SPAN>().0)
                {
                    let mut sum = [0u16; SPAN];
                    for k in 0..SPAN {
                        sum[k] = c0[k] + c1[k] + c2[k] + c3[k];
                    }
                    *c0 = [0; SPAN];
                    *c1 = [0; SPAN];
                    *c2 = [0; SPAN];
                    *c3 = [0; SPAN];
                    nonzero += pack.pack(sum, &mut packed[nonzero..nonzero + SPAN]);
                }
                let counts = &packed[..nonzero];
                max_count = max_count.max(usize::from(counts.iter().copied().max().unwrap_or(0)));
                let (quads, rest) = counts.as_chunks::<WAYS>();
                for q in quads {
                    for (k, &v) in q.iter().enumerate() {
                        per_count[k * stride + usize::from(v)] += 1;
                    }
                }
                for &v in rest {
                    per_count[usize::from(v)] += 1;
                }
                terms.zeros += (ll - nonzero) as u64;
            }
            let (p0, rest) = per_count.split_at_mut(stride);
            let (p1, rest) = rest.split_at_mut(stride);
            let (p2, p3) = rest.split_at_mut(stride);
            for v in 1..=max_count {
                let m = p0[v] + p1[v] + p2[v] + p3[v];
                if m != 0 {
                    (p0[v], p1[v], p2[v], p3[v]) = (0, 0, 0, 0);
                    terms.push(&group, v as u64, u64::from(m));
                }
            }
        }
        terms.entropy()
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
                        pack: Portable,
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
