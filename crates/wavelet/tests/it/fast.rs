//! The fast Haar path (CPU kernel, generic tensor-op default) equals the generic transform.
use crate::common;

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorPrimitive};
use common::{B, B64, max_diff};
use proptest::prelude::*;
use ultrares_wavelet::fast::{self, WaveletBackend, generic_haar_dwt2, generic_haar_idwt2};
use ultrares_wavelet::{Coeffs2, Mode, Wavelet, dwt2, idwt2};

/// Burn 0.21 resolves the default float dtype per device type, so `NdArray<f32>` and
/// `NdArray<f64>` tensors in one process need the dtype spelled out.
fn check<Bk: WaveletBackend>(shape: [usize; 4], tol: f64) {
    let device = Default::default();
    let haar = Wavelet::haar();
    let dtype = <Bk::FloatElem as burn::tensor::Element>::dtype();
    let x = Tensor::<Bk, 4>::random(shape, Distribution::Uniform(-4.0, 4.0), (&device, dtype));
    assert_eq!(x.dtype(), dtype);
    let reference = dwt2(x.clone(), &haar, Mode::Periodization)
        .unwrap()
        .into_array();
    // The backend's kernel (ndarray: the CPU kernel).
    let kernel = fast::dwt2(x.clone(), &haar, Mode::Periodization)
        .unwrap()
        .into_array();
    // The generic tensor-op default.
    let default = generic_haar_dwt2::<Bk>(x.clone().into_primitive().tensor())
        .map(|t| Tensor::<Bk, 4>::from_primitive(TensorPrimitive::Float(t)));
    for i in 0..4 {
        assert!(
            max_diff(&kernel[i], &reference[i]) <= tol,
            "{shape:?} band {i} kernel"
        );
        assert!(
            max_diff(&default[i], &reference[i]) <= tol,
            "{shape:?} band {i} default"
        );
    }
    let rec_ref = idwt2(
        Coeffs2::from_array(reference.clone()),
        &haar,
        Mode::Periodization,
    )
    .unwrap();
    let rec_kernel =
        fast::idwt2(Coeffs2::from_array(reference.clone()), &haar, Mode::Zero).unwrap();
    let rec_default = Tensor::<Bk, 4>::from_primitive(TensorPrimitive::Float(
        generic_haar_idwt2::<Bk>(reference.map(|t| t.into_primitive().tensor())),
    ));
    assert!(
        max_diff(&rec_kernel, &rec_ref) <= tol,
        "{shape:?} inverse kernel"
    );
    assert!(
        max_diff(&rec_default, &rec_ref) <= tol,
        "{shape:?} inverse default"
    );
    assert!(
        max_diff(&rec_kernel, &x) <= 2.0 * tol,
        "{shape:?} round trip"
    );
}

#[test]
fn kernel_and_default_equal_generic_f32_f64() {
    for shape in [[1, 1, 2, 2], [2, 3, 8, 6], [1, 4, 64, 130], [3, 2, 34, 2]] {
        check::<B>(shape, 4e-6);
        check::<B64>(shape, 1e-13);
    }
}

#[test]
fn non_contiguous_input() {
    let device = Default::default();
    let x = Tensor::<B, 4>::random([1, 2, 10, 12], Distribution::Default, &device).swap_dims(2, 3);
    let haar = Wavelet::haar();
    let a = fast::dwt2(x.clone(), &haar, Mode::Zero).unwrap().a;
    let b = dwt2(x, &haar, Mode::Zero).unwrap().a;
    assert!(max_diff(&a, &b) < 1e-6);
}

#[test]
fn falls_back_outside_the_hot_case() {
    let device = Default::default();
    // Odd size, other wavelet: the generic path answers (same as crate::dwt2).
    for (name, shape) in [("haar", [1, 1, 7, 8]), ("db2", [1, 1, 8, 8])] {
        let w = Wavelet::new(name).unwrap();
        let x = Tensor::<B, 4>::random(shape, Distribution::Default, &device);
        let a = fast::dwt2(x.clone(), &w, Mode::Symmetric).unwrap();
        let b = dwt2(x, &w, Mode::Symmetric).unwrap();
        assert!(max_diff(&a.d, &b.d) < 1e-6);
        let ra = fast::idwt2(a, &w, Mode::Symmetric).unwrap();
        let rb = idwt2(b, &w, Mode::Symmetric).unwrap();
        assert!(max_diff(&ra, &rb) < 1e-6);
    }
    assert!(!fast::is_hot_case(&Wavelet::haar(), [1, 1, 8, 7]));
    assert!(fast::is_hot_case(
        &Wavelet::new("db1").unwrap(),
        [1, 1, 8, 8]
    ));
}

fn _assert_backend<Bk: Backend + WaveletBackend>() {}
#[test]
fn autodiff_and_ndarray_implement_the_extension() {
    _assert_backend::<B>();
    _assert_backend::<burn::backend::Autodiff<B>>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn kernel_equals_generic_any_even_shape(n in 1usize..3, c in 1usize..4, h in 1usize..12, w in 1usize..12) {
        check::<B>([n, c, 2 * h, 2 * w], 4e-6);
    }
}
