//! Gradients through dwt2/idwt2: finite differences and the adjoint identity.
use crate::common;

use burn::backend::Autodiff;
use burn::tensor::{DType, Distribution, Tensor};
use common::{B64, max_diff};
use ultrares_wavelet::{Coeffs2, Mode, Wavelet, dwt2, fast, idwt2};

type AD = Autodiff<B64>;

fn rand(shape: [usize; 4]) -> Tensor<AD, 4> {
    // Explicit dtype: Burn 0.21 resolves the default float dtype per device type.
    Tensor::random(
        shape,
        Distribution::Uniform(-1.0, 1.0),
        (&Default::default(), DType::F64),
    )
}

/// `f(x) = Σ_bands <dwt2(x)_band, y_band>`.
fn pairing(x: Tensor<AD, 4>, y: &[Tensor<AD, 4>; 4], w: &Wavelet, mode: Mode) -> Tensor<AD, 1> {
    let c = dwt2(x, w, mode).unwrap().into_array();
    c.into_iter()
        .zip(y.iter())
        .map(|(a, b)| (a * b.clone()).sum())
        .reduce(|a, b| a + b)
        .unwrap()
}

#[test]
fn dwt2_gradient_matches_finite_differences() {
    for (name, mode) in [
        ("db2", Mode::Symmetric),
        ("sym3", Mode::Antisymmetric),
        ("coif1", Mode::Reflect),
        ("haar", Mode::Periodization),
        ("db3", Mode::Zero),
    ] {
        let w = Wavelet::new(name).unwrap();
        let x = rand([1, 2, 9, 8]).require_grad();
        let shapes = dwt2(x.clone().inner(), &w, mode).unwrap().a.dims();
        let y = [0; 4].map(|_| rand(shapes));
        let grads = pairing(x.clone(), &y, &w, mode).backward();
        let g = x.grad(&grads).unwrap();
        let gv = g.to_data().to_vec::<f64>().unwrap();
        let xv = x.clone().inner().to_data().to_vec::<f64>().unwrap();
        let eps = 1e-4;
        for i in (0..xv.len()).step_by(7) {
            let bump = |d: f64| {
                let mut v = xv.clone();
                v[i] += d;
                let xt = Tensor::<AD, 4>::from_data(
                    burn::tensor::TensorData::new(v, [1, 2, 9, 8]),
                    (&Default::default(), DType::F64),
                );
                pairing(xt, &y, &w, mode).into_scalar()
            };
            let fd = (bump(eps) - bump(-eps)) / (2.0 * eps);
            assert!(
                (fd - gv[i]).abs() < 1e-8,
                "{name} {mode} i={i}: fd {fd} vs grad {}",
                gv[i]
            );
        }
    }
}

#[test]
fn adjoint_identity_orthogonal_periodization() {
    // For an orthogonal wavelet in periodization mode on even sizes the DWT is orthogonal:
    // its adjoint (the gradient of the pairing) is the inverse transform, and
    // <dwt(x), y> = <x, idwt(y)>.
    for name in ["haar", "db4", "sym5", "coif2"] {
        let w = Wavelet::new(name).unwrap();
        let x = rand([2, 2, 16, 12]).require_grad();
        let y = [0; 4].map(|_| rand([2, 2, 8, 6]));
        let f = pairing(x.clone(), &y, &w, Mode::Periodization);
        let grads = f.backward();
        let g = x.grad(&grads).unwrap();
        let inv = idwt2(Coeffs2::from_array(y.clone()), &w, Mode::Periodization).unwrap();
        assert!(
            max_diff(&g, &inv.clone().inner()) < 1e-12,
            "{name}: grad != idwt"
        );
        let lhs = f.into_scalar();
        let rhs = (x.inner() * inv.inner()).sum().into_scalar();
        assert!((lhs - rhs).abs() < 1e-10, "{name}: {lhs} vs {rhs}");
    }
}

#[test]
fn idwt2_gradient_is_the_analysis_adjoint() {
    // g(c) = <idwt(c), z>; for orthogonal periodization ∂g/∂c = dwt(z).
    let w = Wavelet::new("db3").unwrap();
    let c = [0; 4].map(|_| rand([1, 3, 6, 5]).require_grad());
    let z = rand([1, 3, 12, 10]);
    let rec = idwt2(Coeffs2::from_array(c.clone()), &w, Mode::Periodization).unwrap();
    let grads = (rec * z.clone()).sum().backward();
    let want = dwt2(z.inner(), &w, Mode::Periodization)
        .unwrap()
        .into_array();
    for (ci, wi) in c.iter().zip(want.iter()) {
        assert!(max_diff(&ci.grad(&grads).unwrap(), wi) < 1e-12);
    }
}

#[test]
fn fast_path_gradients_equal_generic() {
    let haar = Wavelet::haar();
    let x = rand([2, 3, 8, 10]).require_grad();
    let y = [0; 4].map(|_| rand([2, 3, 4, 5]));
    let g_generic = x
        .grad(&pairing(x.clone(), &y, &haar, Mode::Zero).backward())
        .unwrap();
    let c = fast::dwt2(x.clone(), &haar, Mode::Zero)
        .unwrap()
        .into_array();
    let f = c
        .into_iter()
        .zip(y.iter())
        .map(|(a, b)| (a * b.clone()).sum())
        .reduce(|a, b| a + b)
        .unwrap();
    let g_fast = x.grad(&f.backward()).unwrap();
    assert!(max_diff(&g_fast, &g_generic) < 1e-12);
}
