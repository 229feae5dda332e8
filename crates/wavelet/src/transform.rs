//! `dwt2`/`idwt2` and `wavedec2`/`waverec2` on batched NCHW tensors of any backend, equal to
//! PyWavelets band for band.

use burn::tensor::backend::Backend;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Int, Tensor, TensorData};

use crate::plan;
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
    /// Checks that the four bands share one non-empty shape (what every inverse needs) and
    /// returns it.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the band that differs.
    pub fn check(&self) -> Result<[usize; 4]> {
        let shape = self.a.dims();
        for (name, band) in [("h", &self.h), ("v", &self.v), ("d", &self.d)] {
            if band.dims() != shape {
                return Err(Error::shape(format!(
                    "idwt2 needs bands of one shape: a is {shape:?}, {name} is {:?}",
                    band.dims()
                )));
            }
        }
        if shape.contains(&0) {
            return Err(Error::shape(format!("idwt2 got empty bands {shape:?}")));
        }
        Ok(shape)
    }

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
/// Cost per axis: one gather (the extended signal) and one stride-2 convolution;
/// autodiff-safe.
/// [`crate::fast::dwt2`] uses the backend's kernels where it has them (burn-ndarray: every
/// wavelet; CubeCL: Haar on even sizes).
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
    let [lo, hi] = analyze(x, 2, wavelet, mode)?;
    let [a, v] = analyze(lo, 3, wavelet, mode)?;
    let [hd, d] = analyze(hi, 3, wavelet, mode)?;
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
    c.check()?;
    let lo = synthesize(c.a, c.v, 3, wavelet, mode)?;
    let hi = synthesize(c.h, c.d, 3, wavelet, mode)?;
    synthesize(lo, hi, 2, wavelet, mode)
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
    wavedec2_with(x, wavelet, mode, level, dwt2)
}

/// [`wavedec2`] over any one-level transform (the generic one or [`crate::fast::dwt2`]).
pub(crate) fn wavedec2_with<B: Backend>(
    x: Tensor<B, 4>,
    wavelet: &Wavelet,
    mode: Mode,
    level: usize,
    dwt: impl Fn(Tensor<B, 4>, &Wavelet, Mode) -> Result<Coeffs2<B>>,
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
        let (next, d) = dwt(a, wavelet, mode)?.split();
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
    waverec2_with(c, wavelet, mode, idwt2)
}

/// [`waverec2`] over any one-level inverse (the generic one or [`crate::fast::idwt2`]).
pub(crate) fn waverec2_with<B: Backend>(
    c: Decomposition2<B>,
    wavelet: &Wavelet,
    mode: Mode,
    idwt: impl Fn(Coeffs2<B>, &Wavelet, Mode) -> Result<Tensor<B, 4>>,
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
        a = idwt(
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

/// The `[1, 1, L, 1]`-shaped (dim 2) or `[1, 1, 1, L]`-shaped (dim 3) kernel geometry.
fn kernel_shape(dim: usize, len: usize, channels: [usize; 2]) -> [usize; 4] {
    if dim == 2 {
        [channels[0], channels[1], len, 1]
    } else {
        [channels[0], channels[1], 1, len]
    }
}

fn stride(dim: usize) -> [usize; 2] {
    if dim == 2 { [2, 1] } else { [1, 2] }
}

fn index<B: Backend>(idx: Vec<i64>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = idx.len();
    Tensor::from_data(TensorData::new(idx, [n]), device)
}

/// One-level analysis along `dim` (2 = H, 3 = W): `[low-pass, high-pass]`.
fn analyze<B: Backend>(
    x: Tensor<B, 4>,
    dim: usize,
    w: &Wavelet,
    mode: Mode,
) -> Result<[Tensor<B, 4>; 2]> {
    let [n, c, _, _] = x.dims();
    let device = x.device();
    let dtype = x.dtype();
    let ext = plan::extension(x.dims()[dim], w, mode)?;
    let elen = ext.idx.len();
    let mut xe = x.select(dim, index::<B>(ext.idx, &device));
    if let Some(sign) = ext.sign {
        let mut shape = [1; 4];
        shape[dim] = elen;
        xe = xe * Tensor::<B, 4>::from_data(TensorData::new(sign, shape), (&device, dtype));
    }
    let [_, _, he, we] = xe.dims();
    let xe = xe.reshape([n * c, 1, he, we]);
    // Cross-correlation with the reversed decomposition filters.
    let l = w.filter_len();
    let taps: Vec<f64> = w
        .dec_lo()
        .iter()
        .rev()
        .chain(w.dec_hi().iter().rev())
        .copied()
        .collect();
    let weight = Tensor::<B, 4>::from_data(
        TensorData::new(taps, kernel_shape(dim, l, [2, 1])),
        (&device, dtype),
    );
    let y = conv2d(
        xe,
        weight,
        None,
        ConvOptions::new(stride(dim), [0, 0], [1, 1], 1),
    );
    let [_, _, ho, wo] = y.dims();
    let band = |i: usize| {
        y.clone()
            .slice([0..n * c, i..i + 1, 0..ho, 0..wo])
            .reshape([n, c, ho, wo])
    };
    Ok([band(0), band(1)])
}

/// One-level synthesis along `dim` from the low-pass and high-pass coefficients.
fn synthesize<B: Backend>(
    lo: Tensor<B, 4>,
    hi: Tensor<B, 4>,
    dim: usize,
    w: &Wavelet,
    mode: Mode,
) -> Result<Tensor<B, 4>> {
    let [n, c, _, _] = lo.dims();
    let device = lo.device();
    let dtype = lo.dtype();
    let m = lo.dims()[dim];
    let l = w.filter_len();
    let out_len = plan::rec_len(m, l, mode).ok_or_else(|| {
        Error::shape(format!(
            "{m} coefficients are too few to reconstruct with a {l}-tap filter (need ≥ {})",
            l / 2
        ))
    })?;
    if m > plan::MAX_LEN / 2 {
        return Err(Error::shape(format!(
            "{m} coefficients per axis is too many"
        )));
    }
    // Periodization wraps: extend the coefficients periodically and crop further in.
    let (lo, hi, e) = if mode == Mode::Periodization {
        let e = l.div_ceil(2);
        let idx = plan::periodic(m, e);
        (
            lo.select(dim, index::<B>(idx.clone(), &device)),
            hi.select(dim, index::<B>(idx, &device)),
            e,
        )
    } else {
        (lo, hi, 0)
    };
    let [_, _, hl, wl] = lo.dims();
    let z = Tensor::cat(
        vec![
            lo.reshape([n * c, 1, hl, wl]),
            hi.reshape([n * c, 1, hl, wl]),
        ],
        1,
    );
    let taps: Vec<f64> = w
        .rec_lo()
        .iter()
        .chain(w.rec_hi().iter())
        .copied()
        .collect();
    let weight = Tensor::<B, 4>::from_data(
        TensorData::new(taps, kernel_shape(dim, l, [2, 1])),
        (&device, dtype),
    );
    let y = conv_transpose2d(
        z,
        weight,
        None,
        ConvTransposeOptions::new(stride(dim), [0, 0], [0, 0], [1, 1], 1),
    );
    let start = l - 1 - plan::shift(l, mode) + 2 * e;
    let [_, _, hy, wy] = y.dims();
    let y = if dim == 2 {
        y.slice([0..n * c, 0..1, start..start + out_len, 0..wy])
    } else {
        y.slice([0..n * c, 0..1, 0..hy, start..start + out_len])
    };
    let [_, _, ho, wo] = y.dims();
    Ok(y.reshape([n, c, ho, wo]))
}
