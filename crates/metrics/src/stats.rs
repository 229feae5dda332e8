//! Feature statistics: FID, KID and Inception Score from feature / logit vectors, equal to
//! pytorch-fid, clean-fid and torch-fidelity's formulas (their feature extractor is separate).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, Side};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::{Error, Result};

/// Running mean and covariance of `d`-dimensional features in f64, updated batch by batch
/// (Chan et al.'s parallel update, batch cross-products by matrix multiplication), so 50 000 ×
/// 2048 features never need to be held at once. Memory: `d² + d` f64.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    dim: usize,
    n: u64,
    mean: Vec<f64>,
    /// Σ (x − mean)(x − mean)ᵀ, row-major `d × d`.
    m2: Mat<f64>,
}

impl FeatureStats {
    /// Empty statistics of `dim`-dimensional features (2048 for FID's pool3).
    ///
    /// # Errors
    /// [`Error::Argument`] for `dim = 0` or `dim > 65 536`.
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 || dim > 1 << 16 {
            return Err(Error::Argument(format!("feature dimension {dim}")));
        }
        Ok(Self {
            dim,
            n: 0,
            mean: vec![0.0; dim],
            m2: Mat::zeros(dim, dim),
        })
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of features added.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Adds a batch of features, row-major `rows × dim`.
    ///
    /// # Errors
    /// [`Error::Argument`] if the length is not a multiple of `dim` or a value is not finite.
    pub fn add<T: Copy + Into<f64>>(&mut self, batch: &[T]) -> Result<()> {
        let d = self.dim;
        if !batch.len().is_multiple_of(d) {
            return Err(Error::Argument(format!(
                "{} values are not rows of {d} features",
                batch.len()
            )));
        }
        let rows = batch.len() / d;
        if rows == 0 {
            return Ok(());
        }
        if batch.iter().any(|&v| !v.into().is_finite()) {
            return Err(Error::Argument("features contain NaN or infinity".into()));
        }
        let nb = rows as f64;
        let mut bmean = vec![0f64; d];
        for row in batch.chunks_exact(d) {
            for (m, &v) in bmean.iter_mut().zip(row) {
                *m += v.into();
            }
        }
        bmean.iter_mut().for_each(|m| *m /= nb);
        let xc = Mat::<f64>::from_fn(rows, d, |i, j| batch[i * d + j].into() - bmean[j]);
        let na = self.n as f64;
        let n = na + nb;
        let delta = Mat::<f64>::from_fn(d, 1, |j, _| bmean[j] - self.mean[j]);
        // Chan et al.'s pairwise update, lower triangle only (covariance() mirrors it):
        // M₂ += X_cᵀX_c + δδᵀ·nₐn_b/n.
        let par = faer::Par::rayon(0);
        let lower = BlockStructure::TriangularLower;
        let rect = BlockStructure::Rectangular;
        triangular::matmul(
            &mut self.m2,
            lower,
            Accum::Add,
            xc.transpose(),
            rect,
            &xc,
            rect,
            1.0,
            par,
        );
        let w = na * nb / n;
        triangular::matmul(
            &mut self.m2,
            lower,
            Accum::Add,
            &delta,
            rect,
            delta.transpose(),
            rect,
            w,
            par,
        );
        for (m, dl) in self.mean.iter_mut().zip(delta.col(0).iter()) {
            *m += dl * nb / n;
        }
        self.n += rows as u64;
        Ok(())
    }

    /// The mean (`np.mean(act, axis=0)`).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The unbiased covariance (`np.cov(act, rowvar=False)`), row-major `d × d`.
    ///
    /// # Errors
    /// [`Error::Argument`] with fewer than 2 features.
    pub fn covariance(&self) -> Result<Vec<f64>> {
        if self.n < 2 {
            return Err(Error::Argument(format!(
                "covariance of {} feature(s)",
                self.n
            )));
        }
        let k = 1.0 / (self.n - 1) as f64;
        let d = self.dim;
        // Only the lower triangle is accumulated.
        Ok((0..d * d)
            .map(|i| {
                let (r, c) = (i / d, i % d);
                self.m2[(r.max(c), r.min(c))] * k
            })
            .collect())
    }
}

/// The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂):
/// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂)`, with `tr √(Σ₁Σ₂) = Σᵢ √λᵢ(F Σ₂ Fᵀ)`, `FᵀF = Σ₁`
/// (Cholesky when Σ₁ is positive definite, else Σ₁^½ from a symmetric eigendecomposition), and
/// the eigenvalues of a symmetric matrix, all in f64 (faer; negative round-off clamps to 0). This
/// is pytorch-fid's `calculate_frechet_distance` without `scipy.linalg.sqrtm`'s complex detour.
///
/// # Errors
/// [`Error::Argument`] on mismatched sizes or non-finite input; a failed eigendecomposition.
pub fn frechet_distance(mu1: &[f64], sigma1: &[f64], mu2: &[f64], sigma2: &[f64]) -> Result<f64> {
    let d = mu1.len();
    if d == 0 || mu2.len() != d || sigma1.len() != d * d || sigma2.len() != d * d {
        return Err(Error::Argument(format!(
            "Fréchet distance: μ of {} and {}, Σ of {} and {} values",
            d,
            mu2.len(),
            sigma1.len(),
            sigma2.len()
        )));
    }
    if mu1
        .iter()
        .chain(mu2)
        .chain(sigma1)
        .chain(sigma2)
        .any(|v| !v.is_finite())
    {
        return Err(Error::Argument("statistics contain NaN or infinity".into()));
    }
    let s1 = Mat::<f64>::from_fn(d, d, |i, j| sigma1[i * d + j]);
    let s2 = Mat::<f64>::from_fn(d, d, |i, j| sigma2[i * d + j]);
    // tr √(Σ₁Σ₂) = Σᵢ √λᵢ(F Σ₂ Fᵀ) for any F with FᵀF = Σ₁ (the eigenvalues of Σ₁Σ₂ equal
    // those of the symmetric F Σ₂ Fᵀ). F = Lᵀ from a Cholesky factor when Σ₁ is positive
    // definite (cheap); otherwise (fewer samples than dimensions) F = Σ₁^½ from an
    // eigendecomposition, negative round-off eigenvalues clamped to 0.
    let f = match s1.llt(Side::Lower) {
        Ok(llt) => llt.L().transpose().to_owned(),
        Err(_) => {
            let e1 = s1
                .self_adjoint_eigen(Side::Lower)
                .map_err(|e| Error::Argument(format!("eigendecomposition failed: {e:?}")))?;
            let u = e1.U();
            let sq: Vec<f64> = e1
                .S()
                .column_vector()
                .iter()
                .map(|&l| l.max(0.0).sqrt())
                .collect();
            // Σ₁^½ = U·diag(√λ)·Uᵀ.
            let us = Mat::<f64>::from_fn(d, d, |i, k| u[(i, k)] * sq[k]);
            &us * u.transpose()
        }
    };
    let m = &f * &s2 * f.transpose();
    // Only the eigenvalues are needed (the lower triangle is read).
    let tr_sqrt: f64 = m
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Argument(format!("eigendecomposition failed: {e:?}")))?
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    let diff: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr1: f64 = (0..d).map(|i| sigma1[i * d + i]).sum();
    let tr2: f64 = (0..d).map(|i| sigma2[i * d + i]).sum();
    Ok(diff + tr1 + tr2 - 2.0 * tr_sqrt)
}

/// FID between two feature sets via their [`FeatureStats`].
///
/// # Errors
/// As [`frechet_distance`] and [`FeatureStats::covariance`].
pub fn fid(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    frechet_distance(a.mean(), &a.covariance()?, b.mean(), &b.covariance()?)
}

/// Unbiased MMD² with the cubic polynomial kernel `k(x, y) = (xᵀy/d + 1)³` of one subset pair
/// (clean-fid's `kernel_distance` inner term, before its `/ m`). `z` stacks the pair, `x` rows
/// `0..m` then `y` rows `m..2m`; one lower-triangular Gram `z·zᵀ` gives all three kernel blocks
/// (⅔ of the products of three separate ones).
fn mmd_poly<T: faer::traits::RealField + Copy + Into<f64> + From<f32>>(
    z: &Mat<T>,
    m: usize,
) -> f64 {
    let d = z.ncols() as f64;
    let mut g = Mat::<T>::zeros(2 * m, 2 * m);
    triangular::matmul(
        &mut g,
        BlockStructure::TriangularLower,
        Accum::Replace,
        z,
        BlockStructure::Rectangular,
        z.transpose(),
        BlockStructure::Rectangular,
        T::from(1.0f32),
        faer::Par::rayon(0),
    );
    let k = |v: T| (v.into() / d + 1.0).powi(3);
    // Off-diagonal sums of K_xx and K_yy (twice their strict lower triangles), all of K_xy.
    let (mut off, mut xy) = (0.0, 0.0);
    // faer is column-major: walk each column's contiguous lower part.
    for j in 0..2 * m {
        let col = g.col(j);
        let end = if j < m { m } else { 2 * m };
        off += (j + 1..end).map(|i| k(col[i])).sum::<f64>();
        if j < m {
            xy += (m..2 * m).map(|i| k(col[i])).sum::<f64>();
        }
    }
    let m = m as f64;
    2.0 * off / (m - 1.0) - xy * 2.0 / m
}

/// KID as clean-fid computes it: the mean over `subsets` random subset pairs (size
/// `min(n₁, n₂, max_subset_size)`, drawn without replacement) of the unbiased polynomial-kernel
/// MMD², divided by the subset size. Subsets are drawn from a ChaCha8 stream of `seed` (not
/// NumPy's global `np.random`, so values equal clean-fid's exactly when every subset is the
/// whole set). `feats1`/`feats2` are row-major `n × dim`.
///
/// # Errors
/// [`Error::Argument`] for empty or mismatched sets, fewer than 2 rows, or zero subsets.
pub fn kid(
    feats1: &[f32],
    feats2: &[f32],
    dim: usize,
    subsets: usize,
    max_subset_size: usize,
    seed: u64,
) -> Result<f64> {
    let mmd = gemm_mmd::<f64>(feats1, feats2, dim);
    kid_with([feats1, feats2], dim, subsets, max_subset_size, seed, mmd)
}

/// [`kid`] with f32-accurate Gram products, as clean-fid (NumPy float32) computes them; the
/// kernel sums stay in f64. On x86-64 Linux CPUs with AMX-INT8 (Sapphire Rapids and later) and
/// `dim ≤ 32768` the products are exact int8 tile products of 24-bit fixed-point features (one
/// scale per row, three signed 8-bit digits per value, eight of the nine digit products;
/// `ULTRARES_NO_AMX=1` turns this off), elsewhere f32 GEMMs. Either way each Gram entry is within
/// f32 GEMM's normwise error bound; measured KID errors are in `docs/benchmarks.md`.
///
/// # Errors
/// As [`kid`].
pub fn kid_f32(
    feats1: &[f32],
    feats2: &[f32],
    dim: usize,
    subsets: usize,
    max_subset_size: usize,
    seed: u64,
) -> Result<f64> {
    let sets = [feats1, feats2];
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if dim <= crate::amx::MAX_DIM && crate::amx::available() {
        let mmd = amx_mmd(feats1, feats2, dim);
        return kid_with(sets, dim, subsets, max_subset_size, seed, mmd);
    }
    let mmd = gemm_mmd::<f32>(feats1, feats2, dim);
    kid_with(sets, dim, subsets, max_subset_size, seed, mmd)
}

/// The unbiased MMD² of subsets `ix` of `feats2` and `iy` of `feats1` with faer GEMMs in `T`
/// (f64: [`kid`]; f32: [`kid_f32`] on any CPU).
pub(crate) fn gemm_mmd<T: faer::traits::RealField + Copy + Into<f64> + From<f32>>(
    feats1: &[f32],
    feats2: &[f32],
    dim: usize,
) -> impl FnMut(&[usize], &[usize]) -> f64 {
    move |ix, iy| mmd_poly(&stack::<T>(feats2, ix, feats1, iy, dim), ix.len())
}

/// [`gemm_mmd`] for [`kid_f32`] on AMX tiles (requires `amx::available()`); the fixed-point
/// sets are built on the first call, after [`kid_with`]'s checks.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) fn amx_mmd<'a>(
    feats1: &'a [f32],
    feats2: &'a [f32],
    dim: usize,
) -> impl FnMut(&[usize], &[usize]) -> f64 + 'a {
    use crate::amx::{Fixed, Packed, kernel_sums};
    let mut state = None;
    move |ix, iy| {
        let m = ix.len();
        let (s1, s2, packed) = state.get_or_insert_with(|| {
            let (s1, s2) = (Fixed::new(feats1, dim), Fixed::new(feats2, dim));
            (s1, s2, Packed::new(2 * m, dim))
        });
        let rows: Vec<(&Fixed, usize)> = ix
            .iter()
            .map(|&r| (&*s2, r))
            .chain(iy.iter().map(|&r| (&*s1, r)))
            .collect();
        packed.fill(&rows);
        let (same, cross) = kernel_sums(packed, m, dim);
        let m = m as f64;
        2.0 * same / (m - 1.0) - cross * 2.0 / m
    }
}

/// The stacked subset pair `[x; y]` (`x` rows `ix` of `fx`, `y` rows `iy` of `fy`).
fn stack<T: faer::traits::RealField + From<f32>>(
    fx: &[f32],
    ix: &[usize],
    fy: &[f32],
    iy: &[usize],
    dim: usize,
) -> Mat<T> {
    let m = ix.len();
    Mat::<T>::from_fn(2 * m, dim, |i, j| {
        let (f, r) = if i < m { (fx, ix[i]) } else { (fy, iy[i - m]) };
        T::from(f[r * dim + j])
    })
}

/// KID's argument checks, subset draws and average around `mmd(ix, iy)`, the unbiased MMD²
/// of the subsets `ix` of `feats2` and `iy` of `feats1` (clean-fid's order).
pub(crate) fn kid_with(
    [feats1, feats2]: [&[f32]; 2],
    dim: usize,
    subsets: usize,
    max_subset_size: usize,
    seed: u64,
    mut mmd: impl FnMut(&[usize], &[usize]) -> f64,
) -> Result<f64> {
    if dim == 0
        || !feats1.len().is_multiple_of(dim)
        || !feats2.len().is_multiple_of(dim)
        || subsets == 0
    {
        return Err(Error::Argument(format!(
            "KID: {} and {} values of dimension {dim}, {subsets} subsets",
            feats1.len(),
            feats2.len()
        )));
    }
    let (n1, n2) = (feats1.len() / dim, feats2.len() / dim);
    let m = n1.min(n2).min(max_subset_size);
    if m < 2 {
        return Err(Error::Argument(format!(
            "KID needs ≥ 2 features per set, subset size {m}"
        )));
    }
    if let Some(set) = [feats1, feats2]
        .iter()
        .position(|f| f.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::Argument(format!(
            "KID: feature set {} has a non-finite value",
            set + 1
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pick = |n: usize| -> Vec<usize> {
        // Partial Fisher–Yates.
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..m {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(m);
        idx
    };
    let mut t = 0.0;
    for _ in 0..subsets {
        // clean-fid's order: x from the second set, then y from the first.
        let (ix, iy) = (pick(n2), pick(n1));
        t += mmd(&ix, &iy);
    }
    Ok(t / subsets as f64 / m as f64)
}

/// Inception Score from classifier logits (row-major `n × classes`): softmax per row, the rows
/// split into `splits` consecutive chunks, per chunk `exp(mean_i KL(p(y|xᵢ) ‖ p(y)))`; returns
/// the mean and the standard deviation (ddof 0) over chunks (torch-fidelity / the original IS).
///
/// # Errors
/// [`Error::Argument`] for mismatched sizes, `splits` of 0 or more than the rows, non-finite logits.
pub fn inception_score(logits: &[f32], classes: usize, splits: usize) -> Result<(f64, f64)> {
    if classes == 0 || !logits.len().is_multiple_of(classes) {
        return Err(Error::Argument(format!(
            "{} logits for {classes} classes",
            logits.len()
        )));
    }
    let n = logits.len() / classes;
    if splits == 0 || splits > n {
        return Err(Error::Argument(format!("{splits} splits of {n} rows")));
    }
    if logits.iter().any(|v| !v.is_finite()) {
        return Err(Error::Argument("logits contain NaN or infinity".into()));
    }
    let probs: Vec<f64> = logits
        .chunks_exact(classes)
        .flat_map(|row| {
            let mx = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
            let e: Vec<f64> = row.iter().map(|&v| (f64::from(v) - mx).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect();
    let mut scores = Vec::with_capacity(splits);
    for k in 0..splits {
        // torch-fidelity: rows [k·n/splits, (k+1)·n/splits).
        let (a, b) = (k * n / splits, (k + 1) * n / splits);
        let part = &probs[a * classes..b * classes];
        let rows = (b - a) as f64;
        let py: Vec<f64> = (0..classes)
            .map(|c| part.chunks_exact(classes).map(|r| r[c]).sum::<f64>() / rows)
            .collect();
        let kl: f64 = part
            .chunks_exact(classes)
            .map(|r| {
                r.iter()
                    .zip(&py)
                    .filter(|(p, _)| **p > 0.0)
                    .map(|(p, q)| p * (p.ln() - q.ln()))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / rows;
        scores.push(kl.exp());
    }
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok((mean, var.sqrt()))
}
