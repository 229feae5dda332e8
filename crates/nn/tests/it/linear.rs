//! `linear` and `NnBackend::nn_matmul` (faer's GEMM on burn-ndarray, Burn's matmul on burn-flex) against
//! Burn's own `Linear::forward` / `matmul`, the generic reference, in f32 (≤ 1e-5 relative), and
//! Burn's path kept for f16 on burn-flex.

use burn::backend::NdArray;
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::{DType, Distribution};
use ultrares_nn::NnBackend;
use ultrares_nn::linear::linear;

fn rel<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    let scale: f32 = b.clone().abs().max().into_scalar().elem();
    let diff: f32 = (a - b).abs().max().into_scalar().elem();
    diff / scale.max(1e-30)
}

fn check<B: NnBackend>() {
    let d = Default::default();
    for (lead, d_in, d_out, bias) in [
        (vec![2usize, 77], 64usize, 96usize, true),
        (vec![3, 5, 7], 33, 17, false),
        (vec![1], 1280, 1280, true),
        (vec![4096], 40, 320, true),
    ] {
        let layer = LinearConfig::new(d_in, d_out).with_bias(bias).init::<B>(&d);
        let mut shape = lead.clone();
        shape.push(d_in);
        let x = Tensor::<B, 1>::random(
            [shape.iter().product::<usize>()],
            Distribution::Normal(0.0, 1.0),
            &d,
        );
        match shape.len() {
            2 => {
                let x = x.reshape([shape[0], shape[1]]);
                let e = rel(linear(&layer, x.clone()), layer.forward(x));
                assert!(e <= 1e-5, "{shape:?}: {e:.2e}");
            }
            3 => {
                let x = x.reshape([shape[0], shape[1], shape[2]]);
                let e = rel(linear(&layer, x.clone()), layer.forward(x));
                assert!(e <= 1e-5, "{shape:?}: {e:.2e}");
            }
            _ => {
                let x = x.reshape([shape[0], shape[1], shape[2], shape[3]]);
                let e = rel(linear(&layer, x.clone()), layer.forward(x));
                assert!(e <= 1e-5, "{shape:?}: {e:.2e}");
            }
        }
    }
    let normal = Distribution::Normal(0.0, 1.0);
    for (m, k, n) in [(17, 9, 5), (256, 128, 40), (1, 1, 1)] {
        let a = Tensor::<B, 2>::random([m, k], normal, &d);
        let b = Tensor::<B, 2>::random([k, n], normal, &d);
        let e = rel(
            B::nn_matmul(a.clone(), b.clone()),
            a.clone().matmul(b.clone()),
        );
        assert!(e <= 1e-5, "[{m},{k}]x[{k},{n}]: {e:.2e}");
        // Transposed (column-major) and strided operands, as loaded weights and sliced inputs are.
        let bt = Tensor::<B, 2>::random([n, k], normal, &d).transpose();
        let e = rel(B::nn_matmul(a.clone(), bt.clone()), a.clone().matmul(bt));
        assert!(e <= 1e-5, "transposed rhs: {e:.2e}");
        let wide = Tensor::<B, 2>::random([m, 2 * k], normal, &d).slice([0..m, 0..k]);
        let e = rel(B::nn_matmul(wide.clone(), b.clone()), wide.matmul(b));
        assert!(e <= 1e-5, "strided lhs: {e:.2e}");
    }
}

#[test]
fn linear_equals_burn_on_ndarray() {
    check::<NdArray<f32>>();
}

#[test]
fn linear_equals_burn_on_flex_and_keeps_half_precision() {
    check::<burn_flex::Flex>();
    let d = Default::default();
    let layer = LinearConfig::new(32, 16).init::<burn_flex::Flex>(&d);
    let x = Tensor::<burn_flex::Flex, 2>::random([8, 32], Distribution::Normal(0.0, 1.0), &d);
    let h = |t: Tensor<burn_flex::Flex, 2>| t.cast(DType::F16);
    let layer16 = burn::nn::Linear {
        weight: burn::module::Param::from_tensor(h(layer.weight.val())),
        bias: layer
            .bias
            .as_ref()
            .map(|b| burn::module::Param::from_tensor(b.val().cast(DType::F16))),
    };
    let y = linear(&layer16, h(x.clone()));
    assert_eq!(y.dtype(), DType::F16);
    let e = rel(y.cast(DType::F32), layer.forward(x));
    assert!(e <= 5e-3, "f16: {e:.2e}");
}
