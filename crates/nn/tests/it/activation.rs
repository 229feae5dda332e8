//! burn-ndarray's host activations (`NnBackend::nn_activation`: SiLU, quick GELU and the tanh
//! GELU as `x · σ(g(x))` with a branch-free `exp`, the exact GELU through an f64 polynomial
//! `erf`; `NnBackend::nn_glu`) against the f64 formulas (libm's `erf`, fdlibm's, for the exact
//! GELU) and the portable tensor-op defaults. The values against torch are
//! `layers::activations_equal_torch` and `layers::geglu_and_timestep_embeddings_equal_diffusers`.

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_nn::activation::Activation;

type B = burn::backend::NdArray<f32>;

/// `x · σ(g)` in f64 and the gate's argument `g` (the tanh GELU's `(1 + tanh u)/2` is `σ(2u)`).
fn exact(act: Activation, x: f64) -> (f64, f64) {
    let g = match act {
        Activation::Silu => x,
        Activation::QuickGelu => 1.702 * x,
        Activation::GeluTanh => {
            2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)
        }
        Activation::Gelu => return (x / 2.0 * (1.0 + libm::erf(x / 2f64.sqrt())), 0.0),
    };
    (x / (1.0 + (-g).exp()), g)
}

#[test]
fn host_activations_equal_the_f64_formulas_and_the_portable_path() {
    let dev = Default::default();
    let mut xs: Vec<f32> = (-300_000..300_000).map(|i| i as f32 * 1e-4).collect();
    xs.extend([-100.0, 100.0, -1e-30, 1e-30, 0.0]);
    let n = xs.len();
    let x = Tensor::<B, 2>::from_data(TensorData::new(xs.clone(), [n / 5, 5]), &dev);
    for act in [
        Activation::Silu,
        Activation::QuickGelu,
        Activation::GeluTanh,
        Activation::Gelu,
    ] {
        let host: Vec<f32> = act.forward(x.clone()).into_data().to_vec().expect("f32");
        // Within 4 ulp of the exact value (the exp is within 3) times 1 + |g|: rounding the
        // argument g to f32 alone moves e^(−g) by |g|·2⁻²⁴ relative, in any f32 evaluation
        // (PyTorch's included). Below 1e-30 in absolute terms where the exact value underflows.
        // The exact GELU (f64 throughout): within 1 ulp (the final rounding's half and the
        // polynomial's relative 1e-9 where Φ(x) ≥ 1/2), and within the polynomial's
        // |erf error|·|x|/2 ≤ 2.3e-10·|x| in the negative tail where x·Φ(x) is tiny.
        let worst = xs
            .iter()
            .zip(&host)
            .map(|(&v, &y)| {
                let (e, g) = exact(act, f64::from(v));
                let bound = match act {
                    Activation::Gelu => e.abs() * 1.2e-7 + 2.3e-10 * f64::from(v).abs(),
                    _ => e.abs() * 4.8e-7 * (1.0 + g.abs()),
                };
                (f64::from(y) - e).abs() / (bound + 1e-30)
            })
            .fold(0f64, f64::max);
        assert!(worst <= 1.0, "{act:?}: {worst} × the bound");
        let portable = act.forward_portable(x.clone());
        let scale: f32 = portable.clone().abs().max().into_scalar();
        let err: f32 = (act.forward(x.clone()) - portable)
            .abs()
            .max()
            .into_scalar();
        println!(
            "{act:?}: {worst:.2} of the f64 bound, {:.1e} from the portable path",
            err / scale
        );
        assert!(err / scale < 1e-6, "{act:?}: {err:e}");
    }
    // A non-contiguous input takes the portable path.
    let t = x.clone().transpose();
    for act in [Activation::Gelu, Activation::GeluTanh] {
        let same = act
            .forward(t.clone())
            .equal(act.forward_portable(t.clone()));
        assert!(same.all().into_scalar(), "{act:?}");
    }
}

#[test]
fn host_glu_equals_the_narrowed_product() {
    let dev = Default::default();
    let xs: Vec<f32> = (0..6 * 7 * 40)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.09)
        .collect();
    let h = Tensor::<B, 3>::from_data(TensorData::new(xs, [6, 7, 40]), &dev);
    for act in [
        Activation::Silu,
        Activation::QuickGelu,
        Activation::GeluTanh,
        Activation::Gelu,
    ] {
        let fused = <B as ultrares_nn::NnBackend>::nn_glu(h.clone(), act);
        assert_eq!(fused.dims(), [6, 7, 20]);
        let expect = h.clone().narrow(2, 0, 20) * act.forward(h.clone().narrow(2, 20, 20));
        // The same per-element kernel: bit-identical.
        assert!(fused.clone().equal(expect).all().into_scalar(), "{act:?}");
        // A non-contiguous input takes the default, within float rounding of the host path.
        let t = h.clone().swap_dims(0, 1);
        let d = <B as ultrares_nn::NnBackend>::nn_glu(t, act).swap_dims(0, 1) - fused;
        let err: f32 = d.abs().max().into_scalar();
        assert!(err < 1e-5, "{act:?}: {err:e}");
    }
}
