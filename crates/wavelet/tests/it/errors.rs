//! Bad input returns clear errors.
use crate::common;

use burn::tensor::Tensor;
use common::B;
use ultrares_wavelet::{
    Coeffs2, Decomposition2, Error, Mode, Wavelet, dwt2, idwt2, wavedec2, waverec2,
};

fn zeros(shape: [usize; 4]) -> Tensor<B, 4> {
    Tensor::zeros(shape, &Default::default())
}

#[test]
fn unknown_names() {
    assert!(matches!(
        "db4x".parse::<Wavelet>(),
        Err(Error::UnknownWavelet(_))
    ));
    assert!(matches!("per".parse::<Mode>(), Err(Error::UnknownMode(_))));
    assert_eq!(
        "Periodization".parse::<Mode>().unwrap(),
        Mode::Periodization
    );
    let msg = "smooth".parse::<Mode>().unwrap_err().to_string();
    assert!(msg.contains("smooth") && msg.contains("symmetric"), "{msg}");
}

#[test]
fn level_too_deep_or_zero() {
    let db4 = Wavelet::new("db4").unwrap();
    // dwt_max_level(27, 8) = 1
    let e = wavedec2(zeros([1, 1, 27, 64]), &db4, Mode::Symmetric, 2).unwrap_err();
    assert!(matches!(e, Error::Level(_)));
    assert!(e.to_string().contains("1..=1"), "{e}");
    assert!(wavedec2(zeros([1, 1, 27, 64]), &db4, Mode::Symmetric, 1).is_ok());
    assert!(matches!(
        wavedec2(zeros([1, 1, 8, 8]), &Wavelet::haar(), Mode::Zero, 0),
        Err(Error::Level(_))
    ));
    let empty = Decomposition2 {
        a: zeros([1, 1, 2, 2]),
        details: vec![],
    };
    assert!(matches!(
        waverec2(empty, &db4, Mode::Zero),
        Err(Error::Level(_))
    ));
}

#[test]
fn empty_and_degenerate_shapes() {
    let haar = Wavelet::haar();
    assert!(matches!(
        dwt2(zeros([1, 1, 0, 4]), &haar, Mode::Zero),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        dwt2(zeros([0, 1, 4, 4]), &haar, Mode::Zero),
        Err(Error::Shape(_))
    ));
    // PyWavelets: "Input data length must be greater than 1 for [anti]reflect mode."
    assert!(matches!(
        dwt2(zeros([1, 1, 1, 4]), &haar, Mode::Reflect),
        Err(Error::Shape(_))
    ));
    assert!(dwt2(zeros([1, 1, 1, 4]), &haar, Mode::Symmetric).is_ok());
}

#[test]
fn mismatched_bands_on_inverse() {
    let haar = Wavelet::haar();
    let c = Coeffs2 {
        a: zeros([1, 2, 4, 4]),
        h: zeros([1, 2, 4, 4]),
        v: zeros([1, 2, 4, 3]),
        d: zeros([1, 2, 4, 4]),
    };
    let e = idwt2(c, &haar, Mode::Zero).unwrap_err();
    assert!(matches!(e, Error::Shape(_)));
    assert!(e.to_string().contains("v is"), "{e}");
    // Too few coefficients for the filter: db4 needs ≥ 4 per axis outside periodization.
    let db4 = Wavelet::new("db4").unwrap();
    let c = Coeffs2::from_array([0; 4].map(|_| zeros([1, 1, 3, 8])));
    assert!(matches!(
        idwt2(c.clone(), &db4, Mode::Symmetric),
        Err(Error::Shape(_))
    ));
    assert!(idwt2(c, &db4, Mode::Periodization).is_ok());
    // Multi-level: approximation does not fit the details.
    let d = ultrares_wavelet::Details2 {
        h: zeros([1, 1, 4, 4]),
        v: zeros([1, 1, 4, 4]),
        d: zeros([1, 1, 4, 4]),
    };
    let dec = Decomposition2 {
        a: zeros([1, 1, 6, 4]),
        details: vec![d.clone()],
    };
    assert!(matches!(
        waverec2(dec, &haar, Mode::Zero),
        Err(Error::Shape(_))
    ));
    let dec = Decomposition2 {
        a: zeros([1, 2, 4, 4]),
        details: vec![d],
    };
    assert!(matches!(
        waverec2(dec, &haar, Mode::Zero),
        Err(Error::Shape(_))
    ));
}

#[test]
fn slice_kernels_check_lengths() {
    use ultrares_wavelet::fast::cpu;
    let x = vec![1.0f32; 2 * 4 * 6];
    let mut b = [
        vec![0.0f32; 12],
        vec![0.0; 12],
        vec![0.0; 12],
        vec![0.0; 12],
    ];
    let [a, h, v, d] = &mut b;
    assert!(matches!(
        cpu::haar_dwt2_into(&x, [1, 2, 4, 5], [a, h, v, d]),
        Err(Error::Shape(_))
    ));
    let [a, h, v, d] = &mut b;
    assert!(matches!(
        cpu::haar_dwt2_into(&x[1..], [1, 2, 4, 6], [a, h, v, d]),
        Err(Error::Shape(_))
    ));
    let [a, h, v, d] = &mut b;
    cpu::haar_dwt2_into(&x, [1, 2, 4, 6], [a, h, v, d]).unwrap();
    // A constant image of value v has LL = 2v and zero details.
    assert!(b[0].iter().all(|&x| x == 2.0) && b[3].iter().all(|&x| x == 0.0));
    let mut out = vec![0.0f32; 48];
    let bands = [b[0].as_slice(), &b[1], &b[2], &b[3]];
    cpu::haar_idwt2_into(bands, [1, 2, 2, 3], &mut out).unwrap();
    assert_eq!(out, x);
    assert!(matches!(
        cpu::haar_idwt2_into(bands, [1, 2, 2, 3], &mut out[1..]),
        Err(Error::Shape(_))
    ));
}
