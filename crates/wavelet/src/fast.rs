//! Backend kernels for one-level transforms ([`WaveletBackend`]).
//!
//! The trait's defaults are the generic paths: a tensor-op Haar butterfly in the hot case
//! (Haar, even H and W; the 2×2 butterflies of spec `wavelet.md` §1.1) and
//! [`crate::dwt2`]/[`crate::idwt2`] otherwise. Backends override them:
//! * burn-ndarray (feature `ndarray`): host kernels, rayon over output rows, f32 and f64 — the
//!   Haar butterfly (memory-bandwidth bound) and PyWavelets' sums for every other wavelet and
//!   mode ([`cpu`], which also works on plain slices);
//! * CubeCL backends (feature `cubecl`): the Haar butterfly as a CubeCL kernel for every float
//!   dtype (f32, f16, bf16), generic path otherwise ([`cube`](self) module, feature-gated);
//! * `Autodiff<B>` keeps the defaults, which autodiff differentiates.
//!
//! [`dwt2`]/[`idwt2`]/[`wavedec2`]/[`waverec2`] here validate their input and dispatch to the
//! trait, so they accept every wavelet and mode. For even sizes every [`Mode`] gives the same
//! Haar coefficients (no extension is read).

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::{Coeffs2, Decomposition2, Error, Mode, Result, Wavelet};

/// Backends with fast one-level 2-D transforms.
///
/// The default methods use the generic tensor-op Haar in the hot case (Haar, even H and W)
/// and [`crate::dwt2`]/[`crate::idwt2`] otherwise. burn-ndarray (feature `ndarray`) overrides
/// them with host kernels: the Haar butterfly, and PyWavelets' sums for every other wavelet
/// and mode. Callers ([`dwt2`], [`idwt2`]) have checked that the input is non-empty and that
/// the four bands share one shape.
pub trait WaveletBackend: Backend {
    /// One-level analysis: `[a, h, v, d]` (PyWavelets' `cA, cH, cV, cD`).
    ///
    /// # Errors
    /// As [`crate::dwt2`].
    fn wavelet_dwt2(
        x: FloatTensor<Self>,
        wavelet: &Wavelet,
        mode: Mode,
    ) -> Result<[FloatTensor<Self>; 4]> {
        default_dwt2::<Self>(x, wavelet, mode)
    }

    /// One-level synthesis from `[a, h, v, d]`.
    ///
    /// # Errors
    /// As [`crate::idwt2`].
    fn wavelet_idwt2(
        bands: [FloatTensor<Self>; 4],
        wavelet: &Wavelet,
        mode: Mode,
    ) -> Result<FloatTensor<Self>> {
        default_idwt2::<Self>(bands, wavelet, mode)
    }
}

/// The default of [`WaveletBackend::wavelet_dwt2`].
///
/// # Errors
/// As [`crate::dwt2`].
pub fn default_dwt2<B: Backend>(
    x: FloatTensor<B>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<[FloatTensor<B>; 4]> {
    let x = Tensor::<B, 4>::from_primitive(TensorPrimitive::Float(x));
    if is_hot_case(wavelet, x.dims()) {
        return Ok(generic_haar_dwt2::<B>(x.into_primitive().tensor()));
    }
    Ok(crate::dwt2(x, wavelet, mode)?
        .into_array()
        .map(|t| t.into_primitive().tensor()))
}

/// The default of [`WaveletBackend::wavelet_idwt2`].
///
/// # Errors
/// As [`crate::idwt2`].
pub fn default_idwt2<B: Backend>(
    bands: [FloatTensor<B>; 4],
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<FloatTensor<B>> {
    if wavelet.is_haar() {
        return Ok(generic_haar_idwt2::<B>(bands));
    }
    let c =
        Coeffs2::<B>::from_array(bands.map(|t| Tensor::from_primitive(TensorPrimitive::Float(t))));
    Ok(crate::idwt2(c, wavelet, mode)?.into_primitive().tensor())
}

/// The generic tensor-op Haar analysis (what [`default_dwt2`] runs in the hot case).
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

/// The generic tensor-op Haar synthesis (what [`default_idwt2`] runs for Haar).
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

/// [`crate::dwt2`] through the backend's [`WaveletBackend`] kernels (same results up to
/// floating-point rounding).
///
/// # Errors
/// As [`crate::dwt2`].
pub fn dwt2<B: WaveletBackend>(
    x: Tensor<B, 4>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Coeffs2<B>> {
    let [n, c, h, w] = x.dims();
    if n == 0 || c == 0 || h == 0 || w == 0 {
        return Err(Error::shape(format!(
            "dwt2 needs a non-empty (N, C, H, W) tensor, got {:?}",
            [n, c, h, w]
        )));
    }
    let bands = B::wavelet_dwt2(x.into_primitive().tensor(), wavelet, mode)?;
    Ok(Coeffs2::from_array(bands.map(|t| {
        Tensor::from_primitive(TensorPrimitive::Float(t))
    })))
}

/// [`crate::idwt2`] through the backend's [`WaveletBackend`] kernels.
///
/// # Errors
/// As [`crate::idwt2`].
pub fn idwt2<B: WaveletBackend>(
    c: Coeffs2<B>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Tensor<B, 4>> {
    let shape = c.check()?;
    if shape[2] > crate::plan::MAX_LEN / 2 || shape[3] > crate::plan::MAX_LEN / 2 {
        return Err(Error::shape(format!("bands {shape:?} are too large")));
    }
    let bands = c.into_array().map(|t| t.into_primitive().tensor());
    let out = B::wavelet_idwt2(bands, wavelet, mode)?;
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

/// [`crate::wavedec2`] through the backend's kernels.
///
/// # Errors
/// As [`crate::wavedec2`].
pub fn wavedec2<B: WaveletBackend>(
    x: Tensor<B, 4>,
    wavelet: &Wavelet,
    mode: Mode,
    level: usize,
) -> Result<Decomposition2<B>> {
    crate::transform::wavedec2_with(x, wavelet, mode, level, dwt2)
}

/// [`crate::waverec2`] through the backend's kernels.
///
/// # Errors
/// As [`crate::waverec2`].
pub fn waverec2<B: WaveletBackend>(
    c: Decomposition2<B>,
    wavelet: &Wavelet,
    mode: Mode,
) -> Result<Tensor<B, 4>> {
    crate::transform::waverec2_with(c, wavelet, mode, idwt2)
}

impl<B: Backend, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy>
    WaveletBackend for burn::backend::Autodiff<B, C>
{
}

pub mod cpu;
#[cfg(feature = "cubecl")]
pub mod cube;

#[cfg(feature = "ndarray")]
mod ndarray_kernel {
    use burn::backend::ndarray::{
        FloatNdArrayElement, IntNdArrayElement, NdArray, NdArrayTensor, QuantElement, SharedArray,
    };
    use ndarray::{ArcArray, ArrayView, IxDyn};

    use super::cpu::{self, Real};
    use super::{WaveletBackend, default_dwt2, default_idwt2};
    use crate::{Mode, Result, Wavelet};

    impl<E: FloatNdArrayElement, I: IntNdArrayElement, Q: QuantElement> WaveletBackend
        for NdArray<E, I, Q>
    where
        NdArrayTensor: From<SharedArray<E>>,
        NdArrayTensor: From<SharedArray<I>>,
    {
        fn wavelet_dwt2(
            x: NdArrayTensor,
            wavelet: &Wavelet,
            mode: Mode,
        ) -> Result<[NdArrayTensor; 4]> {
            match x {
                NdArrayTensor::F32(s) => {
                    Ok(dwt(s.view(), wavelet, mode, |v| v as f32)?.map(Into::into))
                }
                NdArrayTensor::F64(s) => Ok(dwt(s.view(), wavelet, mode, |v| v)?.map(Into::into)),
                other => default_dwt2::<Self>(other, wavelet, mode),
            }
        }

        fn wavelet_idwt2(
            bands: [NdArrayTensor; 4],
            wavelet: &Wavelet,
            mode: Mode,
        ) -> Result<NdArrayTensor> {
            match bands {
                [
                    NdArrayTensor::F32(a),
                    NdArrayTensor::F32(h),
                    NdArrayTensor::F32(v),
                    NdArrayTensor::F32(d),
                ] => Ok(idwt(
                    [a.view(), h.view(), v.view(), d.view()],
                    wavelet,
                    mode,
                    |v| v as f32,
                )?
                .into()),
                [
                    NdArrayTensor::F64(a),
                    NdArrayTensor::F64(h),
                    NdArrayTensor::F64(v),
                    NdArrayTensor::F64(d),
                ] => Ok(idwt(
                    [a.view(), h.view(), v.view(), d.view()],
                    wavelet,
                    mode,
                    |v| v,
                )?
                .into()),
                other => default_idwt2::<Self>(other, wavelet, mode),
            }
        }
    }

    fn contiguous<'a, T: Real>(v: &'a ArrayView<'a, T, IxDyn>) -> std::borrow::Cow<'a, [T]> {
        match v.as_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(v.iter().copied().collect()),
        }
    }

    fn shared<T: Real>(data: Vec<T>, shape: [usize; 4]) -> SharedArray<T> {
        // The length is the product of the shape by construction.
        ArcArray::from_shape_vec(IxDyn(&shape), data)
            .unwrap_or_else(|e| unreachable!("kernel output shape: {e}"))
    }

    fn dims(v: &ArrayView<'_, impl Real, IxDyn>) -> [usize; 4] {
        let s = v.shape();
        [s[0], s[1], s[2], s[3]]
    }

    fn dwt<T: Real>(
        x: ArrayView<'_, T, IxDyn>,
        wavelet: &Wavelet,
        mode: Mode,
        real: impl Fn(f64) -> T + Sync,
    ) -> Result<[SharedArray<T>; 4]> {
        let [n, c, h, w] = dims(&x);
        let input = contiguous(&x);
        if super::is_hot_case(wavelet, [n, c, h, w]) {
            let len = n * c * (h / 2) * (w / 2);
            let mut out: [Vec<T>; 4] = std::array::from_fn(|_| cpu::alloc_output(len));
            let [a, hh, v, d] = &mut out;
            cpu::haar_dwt2(&input, [n, c, h, w], [a, hh, v, d]);
            return Ok(out.map(|v| shared(v, [n, c, h / 2, w / 2])));
        }
        let (out, shape) = cpu::dwt2_any(&input, [n, c, h, w], wavelet, mode, real)?;
        Ok(out.map(|v| shared(v, shape)))
    }

    fn idwt<T: Real>(
        bands: [ArrayView<'_, T, IxDyn>; 4],
        wavelet: &Wavelet,
        mode: Mode,
        real: impl Fn(f64) -> T + Sync,
    ) -> Result<SharedArray<T>> {
        let shape = dims(&bands[0]);
        let [n, c, h2, w2] = shape;
        let [a, h, v, d] = [0, 1, 2, 3].map(|i| contiguous(&bands[i]));
        if wavelet.is_haar() {
            let mut out = cpu::alloc_output(n * c * 4 * h2 * w2);
            cpu::haar_idwt2([&a, &h, &v, &d], shape, &mut out);
            return Ok(shared(out, [n, c, 2 * h2, 2 * w2]));
        }
        let (out, shape) = cpu::idwt2_any([&a, &h, &v, &d], shape, wavelet, mode, real)?;
        Ok(shared(out, shape))
    }
}
