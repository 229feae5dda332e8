//! `dwt2`/`idwt2` and `wavedec2`/`waverec2` on batched NCHW tensors of any backend, equal to
//! PyWavelets band for band.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::plan::{self, Ell};
use crate::{Error, Mode, Result, Wavelet};

/// One level of a 2-D decomposition, in PyWavelets' names: `pywt.dwt2` returns
/// `(cA, (cH, cV, cD))`. Each band is `(N, C, h', w')` with `h' = coeff_len(H)`,
/// `w' = coeff_len(W)` (see [`Mode`]).
///
/// "Horizontal" refers to array axis 0 as in PyWavelets: `h` is high-pass along the height and
/// low-pass along the width (pytorch_wavelets' `yh[:, :, 0]`; WaveCNet calls it `HL`).
#[derive(Debug, Clone)]
pub struct Coeffs2<B: Backend> {
    /// Approximation `cA` (low-pass along both axes).
    pub a: Tensor<B, 4>,
    /// Horizontal detail `cH` (high-pass along H, low-pass along W).
    pub h: Tensor<B, 4>,
    /// Vertical detail `cV` (low-pass along H, high-pass along W).
    pub v: Tensor<B, 4>,
    /// Diagonal detail `cD` (high-pass along both axes).
    pub d: Tensor<B, 4>,
}

/// The three detail bands of one level.
#[derive(Debug, Clone)]
pub struct Details2<B: Backend> {
    /// Horizontal detail `cH`.
    pub h: Tensor<B, 4>,
    /// Vertical detail `cV`.
    pub v: Tensor<B, 4>,
    /// Diagonal detail `cD`.
    pub d: Tensor<B, 4>,
}

/// A multi-level decomposition: the coarsest approximation and the details of every level,
/// **finest first** (`details[0]` is level 1). PyWavelets' `wavedec2` list is
/// `[a, details[J−1], …, details[0]]` (coarsest first); see [`Decomposition2::to_pywt_order`].
#[derive(Debug, Clone)]
pub struct Decomposition2<B: Backend> {
    /// Approximation at the coarsest level `J`.
    pub a: Tensor<B, 4>,
    /// Details of levels `1..=J`, finest first.
    pub details: Vec<Details2<B>>,
}

impl<B: Backend> Coeffs2<B> {
    /// The bands as an array `[a, h, v, d]`.
    pub fn into_array(self) -> [Tensor<B, 4>; 4] {
        [self.a, self.h, self.v, self.d]
    }
    /// Builds from `[a, h, v, d]`.
    pub fn from_array([a, h, v, d]: [Tensor<B, 4>; 4]) -> Self {
        Self { a, h, v, d }
    }
    /// Splits into the approximation and the details.
    pub fn split(self) -> (Tensor<B, 4>, Details2<B>) {
        let Self { a, h, v, d } = self;
        (a, Details2 { h, v, d })
    }
}

impl<B: Backend> Decomposition2<B> {
    /// Number of levels `J`.
    pub fn levels(&self) -> usize {
        self.details.len()
    }
    /// PyWavelets' list order: the approximation, then the details from the coarsest level to
    /// the finest.
    pub fn to_pywt_order(self) -> (Tensor<B, 4>, Vec<Details2<B>>) {
        let mut d = self.details;
        d.reverse();
        (self.a, d)
    }
}

/// One-level 2-D DWT of `x: (N, C, H, W)` along H and W; equals `pywt.dwt2(x, wavelet, mode)`
/// (axes (−2, −1)). Odd sizes, filters longer than the signal and every [`Mode`] follow
/// PyWavelets exactly. Non-finite values propagate as in PyWavelets (no check: it would need a
/// device read-back).
///
/// Cost: `L` gathers and multiply-adds per axis (`L` = filter length); autodiff-safe.
/// For Haar on even sizes, [`crate::fast::dwt2`] uses a single-pass kernel where the backend
/// has one.
///
/// # Errors
/// [`Error::Shape`] for an empty axis, an axis over 2³⁰, or `Reflect` with a length-1 axis.
pub fn dwt2<B: Backend>(x: Tensor<B, 4>, wavelet: &Wavelet, mode: Mode) -> Result<Coeffs2<B>> {
    let [n, c, h, w] = x.dims();
    if n == 0 || c == 0 {
        return Err(Error::shape(format!(
            "dwt2 needs a non-empty (N, C, H, W) tensor, got {:?}",
            [n, c, h, w]
        )));
    }
    let along_h = plan::analysis(h, wavelet, mode)?;
    let along_w = plan::analysis(w, wavelet, mode)?;
    let [lo, hi] = two(apply(x, 2, &along_h));
    let [a, v] = two(apply(lo, 3, &along_w));
    let [hd, d] = two(apply(hi, 3, &along_w));
    Ok(Coeffs2 { a, h: hd, v, d })
}

/// One-level 2-D inverse DWT; equals `pywt.idwt2((a, (h, v, d)), wavelet, mode)`. All four bands
/// must have the same shape `(N, C, m_h, m_w)`; the output is `(N, C, H', W')` with
/// `H' = 2m_h − L + 2` (`2m_h` for `Periodization`), which is one more than the original size
/// when that was odd, exactly as PyWavelets.
///
/// # Errors
/// [`Error::Shape`] if band shapes differ or are too small for the filter.
pub fn idwt2<B: Backend>(c: Coeffs2<B>, wavelet: &Wavelet, mode: Mode) -> Result<Tensor<B, 4>> {
    let shape = c.a.dims();
    for (name, band) in [("h", &c.h), ("v", &c.v), ("d", &c.d)] {
        if band.dims() != shape {
            return Err(Error::shape(format!(
                "idwt2 needs bands of one shape: a is {shape:?}, {name} is {:?}",
                band.dims()
            )));
        }
    }
    if shape[0] == 0 || shape[1] == 0 {
        return Err(Error::shape(format!("idwt2 got empty bands {shape:?}")));
    }
    let along_w = plan::synthesis(shape[3], wavelet, mode)?;
    let along_h = plan::synthesis(shape[2], wavelet, mode)?;
    let [lo] = one(apply(Tensor::cat(vec![c.a, c.v], 3), 3, &along_w));
    let [hi] = one(apply(Tensor::cat(vec![c.h, c.d], 3), 3, &along_w));
    let [x] = one(apply(Tensor::cat(vec![lo, hi], 2), 2, &along_h));
    Ok(x)
}

/// Multi-level 2-D DWT; equals `pywt.wavedec2(x, wavelet, mode, level)` with the details stored
/// finest first (see [`Decomposition2`]).
///
/// # Errors
/// [`Error::Level`] if `level` is 0 or deeper than PyWavelets' `dwt_max_level` for the smaller
/// of H and W (where PyWavelets warns that every coefficient has boundary effects), and the
/// errors of [`dwt2`].
pub fn wavedec2<B: Backend>(
    x: Tensor<B, 4>,
    wavelet: &Wavelet,
    mode: Mode,
    level: usize,
) -> Result<Decomposition2<B>> {
    let [_, _, h, w] = x.dims();
    let max = wavelet.max_level(h.min(w));
    if level == 0 || level > max {
        return Err(Error::Level(format!(
            "level {level} is not in 1..={max} for a {h}×{w} input with {} ({} taps); \
             PyWavelets' dwt_max_level is {max}",
            wavelet.name(),
            wavelet.filter_len()
        )));
    }
    let mut details = Vec::with_capacity(level);
    let mut a = x;
    for _ in 0..level {
        let (next, d) = dwt2(a, wavelet, mode)?.split();
        details.push(d);
        a = next;
    }
    Ok(Decomposition2 { a, details })
}

/// Multi-level inverse; equals `pywt.waverec2` (at each level the approximation is trimmed by
/// one row/column when it is one larger than the details, as PyWavelets does after odd sizes).
///
/// # Errors
/// [`Error::Shape`] on incompatible band shapes, [`Error::Level`] on an empty decomposition.
pub fn waverec2<B: Backend>(
    c: Decomposition2<B>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Tensor<B, 4>> {
    if c.details.is_empty() {
        return Err(Error::Level("waverec2 needs at least one level".into()));
    }
    let mut a = c.a;
    for (i, d) in c.details.into_iter().enumerate().rev() {
        let [n, ch, dh, dw] = d.h.dims();
        let [an, ac, ah, aw] = a.dims();
        let fits = |av: usize, dv: usize| av == dv || av == dv + 1;
        if an != n || ac != ch || !fits(ah, dh) || !fits(aw, dw) {
            return Err(Error::shape(format!(
                "level {}: approximation {:?} does not fit details {:?}",
                i + 1,
                [an, ac, ah, aw],
                [n, ch, dh, dw]
            )));
        }
        if (ah, aw) != (dh, dw) {
            a = a.slice([0..n, 0..ch, 0..dh, 0..dw]);
        }
        a = idwt2(
            Coeffs2 {
                a,
                h: d.h,
                v: d.v,
                d: d.d,
            },
            wavelet,
            mode,
        )?;
    }
    Ok(a)
}

/// Applies `op` along `dim` (2 or 3): one output per coefficient set.
fn apply<B: Backend>(x: Tensor<B, 4>, dim: usize, op: &Ell) -> Vec<Tensor<B, 4>> {
    let device = x.device();
    let dtype = x.dtype();
    let len = op.out_len;
    let mut shape = x.dims();
    shape[dim] = len;
    let mut bshape = [1usize; 4];
    bshape[dim] = len;
    let mut acc: Vec<Option<Tensor<B, 4>>> = vec![None; op.coef.len()];
    for (t, idx) in op.idx.iter().enumerate() {
        if op.coef.iter().all(|set| set[t].iter().all(|&v| v == 0.0)) {
            continue;
        }
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx.clone(), [len]), &device);
        let gathered = x.clone().select(dim, idx);
        for (set, sum) in op.coef.iter().zip(acc.iter_mut()) {
            let c = &set[t];
            if c.iter().all(|&v| v == 0.0) {
                continue;
            }
            let term = if c.iter().all(|&v| v == c[0]) {
                gathered.clone().mul_scalar(c[0])
            } else {
                let data = TensorData::new(c.clone(), bshape).convert_dtype(dtype);
                gathered.clone() * Tensor::<B, 4>::from_data(data, (&device, dtype))
            };
            *sum = Some(match sum.take() {
                Some(s) => s + term,
                None => term,
            });
        }
    }
    acc.into_iter()
        .map(|s| s.unwrap_or_else(|| Tensor::zeros(shape, (&device, dtype))))
        .collect()
}

fn two<B: Backend>(v: Vec<Tensor<B, 4>>) -> [Tensor<B, 4>; 2] {
    let mut it = v.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => [a, b],
        _ => unreachable!("analysis operators have two coefficient sets"),
    }
}

fn one<B: Backend>(v: Vec<Tensor<B, 4>>) -> [Tensor<B, 4>; 1] {
    match v.into_iter().next() {
        Some(a) => [a],
        None => unreachable!("synthesis operators have one coefficient set"),
    }
}
