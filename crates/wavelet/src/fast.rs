//! The hot case — Haar, one level, even H and W — as a backend extension.
//!
//! [`WaveletBackend`]'s default methods are a generic tensor-op Haar (four strided quarter
//! views, the 2×2 butterflies of spec `wavelet.md` §1.1); backends override them with a
//! single-pass kernel. With the `ndarray` feature, burn-ndarray gets a CPU kernel (rayon over
//! output rows, f32 and f64). Autodiff backends keep the default, which autodiff
//! differentiates. [`dwt2`]/[`idwt2`] here dispatch to the extension in the hot case and to
//! [`crate::dwt2`]/[`crate::idwt2`] otherwise, so they accept every wavelet and mode.
//!
//! For even sizes every [`Mode`] gives the same Haar coefficients (no extension is read).

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::{Coeffs2, Error, Mode, Result, Wavelet};

/// Backends with a fast one-level Haar DWT/IDWT on even-sized NCHW tensors.
///
/// Inputs are guaranteed by the callers in this module: rank 4, non-empty, even H and W
/// (forward), four bands of one shape (inverse).
pub trait WaveletBackend: Backend {
    /// `(N, C, H, W)` → `[a, h, v, d]`, each `(N, C, H/2, W/2)` (PyWavelets' `cA, cH, cV, cD`).
    fn haar_dwt2(x: FloatTensor<Self>) -> [FloatTensor<Self>; 4] {
        generic_haar_dwt2::<Self>(x)
    }

    /// `[a, h, v, d]` → `(N, C, 2h, 2w)`.
    fn haar_idwt2(bands: [FloatTensor<Self>; 4]) -> FloatTensor<Self> {
        generic_haar_idwt2::<Self>(bands)
    }
}

/// The generic tensor-op Haar analysis (the default of [`WaveletBackend::haar_dwt2`]).
pub fn generic_haar_dwt2<B: Backend>(x: FloatTensor<B>) -> [FloatTensor<B>; 4] {
    let x = Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(x));
    let [n, c, h, w] = x.dims();
    let (h2, w2) = (h / 2, w / 2);
    let x6: Tensor<B, 6> = x.reshape([n, c, h2, 2, w2, 2]);
    let q = |i: usize, j: usize| {
        x6.clone()
            .slice([0..n, 0..c, 0..h2, i..i + 1, 0..w2, j..j + 1])
            .reshape([n, c, h2, w2])
    };
    let (p00, p01, p10, p11) = (q(0, 0), q(0, 1), q(1, 0), q(1, 1));
    let (s0, d0) = (p00.clone() + p01.clone(), p00 - p01);
    let (s1, d1) = (p10.clone() + p11.clone(), p10 - p11);
    [
        (s0.clone() + s1.clone()).mul_scalar(0.5),
        (s0 - s1).mul_scalar(0.5),
        (d0.clone() + d1.clone()).mul_scalar(0.5),
        (d0 - d1).mul_scalar(0.5),
    ]
    .map(|t| t.into_primitive().tensor())
}

/// The generic tensor-op Haar synthesis (the default of [`WaveletBackend::haar_idwt2`]).
pub fn generic_haar_idwt2<B: Backend>(bands: [FloatTensor<B>; 4]) -> FloatTensor<B> {
    let [a, h, v, d] = bands.map(|t| Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(t)));
    let [n, c, h2, w2] = a.dims();
    let (ah_s, ah_d) = (a.clone() + h.clone(), a - h);
    let (vd_s, vd_d) = (v.clone() + d.clone(), v - d);
    // Top row of each 2×2 block: (A+H±(V+D))/2; bottom row: (A−H±(V−D))/2.
    let p00 = (ah_s.clone() + vd_s.clone()).mul_scalar(0.5);
    let p01 = (ah_s - vd_s).mul_scalar(0.5);
    let p10 = (ah_d.clone() + vd_d.clone()).mul_scalar(0.5);
    let p11 = (ah_d - vd_d).mul_scalar(0.5);
    let top: Tensor<B, 5> = Tensor::stack(vec![p00, p01], 4);
    let bottom: Tensor<B, 5> = Tensor::stack(vec![p10, p11], 4);
    let x: Tensor<B, 6> = Tensor::stack(vec![top, bottom], 3);
    x.reshape([n, c, 2 * h2, 2 * w2]).into_primitive().tensor()
}

/// Whether [`dwt2`] takes the fast path for this input.
pub fn is_hot_case(wavelet: &Wavelet, dims: [usize; 4]) -> bool {
    let [n, c, h, w] = dims;
    wavelet.is_haar() && n > 0 && c > 0 && h > 0 && w > 0 && h % 2 == 0 && w % 2 == 0
}

/// [`crate::dwt2`] with the backend's fast Haar kernel in the hot case (same results up to
/// floating-point rounding: the kernel computes `(a ± b ± c ± d)/2` directly).
///
/// # Errors
/// As [`crate::dwt2`].
pub fn dwt2<B: WaveletBackend>(
    x: Tensor<B, 4>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Coeffs2<B>> {
    if !is_hot_case(wavelet, x.dims()) {
        return crate::dwt2(x, wavelet, mode);
    }
    let bands = B::haar_dwt2(x.into_primitive().tensor());
    Ok(Coeffs2::from_array(bands.map(|t| {
        Tensor::from_primitive(TensorPrimitive::Float(t))
    })))
}

/// [`crate::idwt2`] with the backend's fast Haar kernel in the hot case.
///
/// # Errors
/// As [`crate::idwt2`].
pub fn idwt2<B: WaveletBackend>(
    c: Coeffs2<B>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Tensor<B, 4>> {
    let shape = c.a.dims();
    let same = [&c.h, &c.v, &c.d].iter().all(|b| b.dims() == shape);
    if !(wavelet.is_haar() && same && shape.iter().all(|&s| s > 0)) {
        return crate::idwt2(c, wavelet, mode);
    }
    if shape[2] > crate::plan::MAX_LEN / 2 || shape[3] > crate::plan::MAX_LEN / 2 {
        return Err(Error::shape(format!("bands {shape:?} are too large")));
    }
    let out = B::haar_idwt2(c.into_array().map(|t| t.into_primitive().tensor()));
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

impl<B: Backend, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy>
    WaveletBackend for burn::backend::Autodiff<B, C>
{
}

#[cfg(feature = "ndarray")]
mod ndarray_kernel {
    use burn::backend::ndarray::{
        FloatNdArrayElement, IntNdArrayElement, NdArray, NdArrayTensor, QuantElement, SharedArray,
    };
    use ndarray::{ArcArray, ArrayView, IxDyn};
    use rayon::prelude::*;

    use super::{WaveletBackend, generic_haar_dwt2, generic_haar_idwt2};

    /// Rows handed to one rayon task at least (keeps tasks ≥ ~32 KiB of output).
    const MIN_ELEMS_PER_TASK: usize = 8192;

    impl<E: FloatNdArrayElement, I: IntNdArrayElement, Q: QuantElement> WaveletBackend
        for NdArray<E, I, Q>
    where
        NdArrayTensor: From<SharedArray<E>>,
        NdArrayTensor: From<SharedArray<I>>,
    {
        fn haar_dwt2(x: NdArrayTensor) -> [NdArrayTensor; 4] {
            match x {
                NdArrayTensor::F32(s) => dwt_kernel(s.view()).map(Into::into),
                NdArrayTensor::F64(s) => dwt_kernel(s.view()).map(Into::into),
                other => generic_haar_dwt2::<Self>(other),
            }
        }

        fn haar_idwt2(bands: [NdArrayTensor; 4]) -> NdArrayTensor {
            match bands {
                [
                    NdArrayTensor::F32(a),
                    NdArrayTensor::F32(h),
                    NdArrayTensor::F32(v),
                    NdArrayTensor::F32(d),
                ] => idwt_kernel([a.view(), h.view(), v.view(), d.view()]).into(),
                [
                    NdArrayTensor::F64(a),
                    NdArrayTensor::F64(h),
                    NdArrayTensor::F64(v),
                    NdArrayTensor::F64(d),
                ] => idwt_kernel([a.view(), h.view(), v.view(), d.view()]).into(),
                other => generic_haar_idwt2::<Self>(other),
            }
        }
    }

    /// Element types of the kernel.
    trait Real:
        Copy
        + Send
        + Sync
        + Default
        + std::ops::Add<Output = Self>
        + std::ops::Sub<Output = Self>
        + std::ops::Mul<Output = Self>
    {
        const HALF: Self;
    }
    impl Real for f32 {
        const HALF: f32 = 0.5;
    }
    impl Real for f64 {
        const HALF: f64 = 0.5;
    }

    fn contiguous<'a, T: Real>(v: &'a ArrayView<'a, T, IxDyn>) -> std::borrow::Cow<'a, [T]> {
        match v.as_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(v.iter().copied().collect()),
        }
    }

    fn shared<T: Real>(data: Vec<T>, shape: [usize; 4]) -> SharedArray<T> {
        // The length is n·c·h·w by construction.
        ArcArray::from_shape_vec(IxDyn(&shape), data)
            .unwrap_or_else(|e| unreachable!("kernel output shape: {e}"))
    }

    fn dwt_kernel<T: Real>(x: ArrayView<'_, T, IxDyn>) -> [SharedArray<T>; 4] {
        let s = x.shape();
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let (h2, w2) = (h / 2, w / 2);
        let input = contiguous(&x);
        let len = n * c * h2 * w2;
        let mut out: [Vec<T>; 4] = std::array::from_fn(|_| vec![T::default(); len]);
        let [oa, oh, ov, od] = &mut out;
        let min_rows = (MIN_ELEMS_PER_TASK / w2.max(1)).max(1);
        oa.par_chunks_mut(w2)
            .zip(oh.par_chunks_mut(w2))
            .zip(ov.par_chunks_mut(w2))
            .zip(od.par_chunks_mut(w2))
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(row, (((ra, rh), rv), rd))| {
                let (plane, r) = (row / h2, row % h2);
                let top = &input[(plane * h + 2 * r) * w..][..w];
                let bottom = &input[(plane * h + 2 * r + 1) * w..][..w];
                for k in 0..w2 {
                    let (p00, p01) = (top[2 * k], top[2 * k + 1]);
                    let (p10, p11) = (bottom[2 * k], bottom[2 * k + 1]);
                    let (s0, d0, s1, d1) = (p00 + p01, p00 - p01, p10 + p11, p10 - p11);
                    ra[k] = (s0 + s1) * T::HALF;
                    rh[k] = (s0 - s1) * T::HALF;
                    rv[k] = (d0 + d1) * T::HALF;
                    rd[k] = (d0 - d1) * T::HALF;
                }
            });
        let shape = [n, c, h2, w2];
        out.map(|v| shared(v, shape))
    }

    fn idwt_kernel<T: Real>(bands: [ArrayView<'_, T, IxDyn>; 4]) -> SharedArray<T> {
        let s = bands[0].shape();
        let (n, c, h2, w2) = (s[0], s[1], s[2], s[3]);
        let (h, w) = (2 * h2, 2 * w2);
        let [a, hh, v, d] = [0, 1, 2, 3].map(|i| contiguous(&bands[i]));
        let mut out = vec![T::default(); n * c * h * w];
        let min_rows = (MIN_ELEMS_PER_TASK / (2 * w).max(1)).max(1);
        out.par_chunks_mut(2 * w)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(row, pair)| {
                let (top, bottom) = pair.split_at_mut(w);
                let off = row * w2;
                let (ra, rh) = (&a[off..][..w2], &hh[off..][..w2]);
                let (rv, rd) = (&v[off..][..w2], &d[off..][..w2]);
                for k in 0..w2 {
                    let (ahs, ahd) = (ra[k] + rh[k], ra[k] - rh[k]);
                    let (vds, vdd) = (rv[k] + rd[k], rv[k] - rd[k]);
                    top[2 * k] = (ahs + vds) * T::HALF;
                    top[2 * k + 1] = (ahs - vds) * T::HALF;
                    bottom[2 * k] = (ahd + vdd) * T::HALF;
                    bottom[2 * k + 1] = (ahd - vdd) * T::HALF;
                }
            });
        shared(out, [n, c, h, w])
    }
}
