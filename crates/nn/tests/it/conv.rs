//! `conv2d_nn` — burn-ndarray's host convolution (faer GEMMs over strided views of the padded
//! input, `NnBackend::nn_conv2d_valid`) — equals Burn's native convolution: batches, groups,
//! 1×1 and rectangular kernels, valid and same padding, tiny and odd sizes, with and without bias.

use burn::backend::NdArray;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Distribution, Tensor};
use ultrares_nn::conv::conv2d_nn;

type B = NdArray<f32>;

#[test]
fn host_convolution_equals_native() {
    let device = Default::default();
    // (cin, cout, kernel, padding, groups, n, [h, w], bias)
    let cases = [
        (64, 64, [3, 3], [1, 1], 1, 1, [33, 30], true),
        (12, 20, [3, 3], [1, 1], 1, 3, [16, 16], true),
        (6, 9, [3, 3], [1, 1], 3, 2, [7, 5], true),
        (8, 16, [1, 1], [0, 0], 1, 2, [5, 9], true),
        (5, 7, [3, 1], [1, 0], 1, 1, [6, 4], false),
        (4, 4, [3, 3], [0, 0], 1, 1, [5, 5], true),
        (4, 3, [3, 3], [1, 1], 1, 1, [1, 1], true),
        (3, 8, [5, 5], [2, 2], 1, 1, [9, 11], false),
    ];
    for (cin, cout, k, pad, groups, n, [h, w], bias) in cases {
        let conv = Conv2dConfig::new([cin, cout], k)
            .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]))
            .with_groups(groups)
            .with_bias(bias)
            .init::<B>(&device);
        let x = Tensor::<B, 4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), &device);
        let want = conv.forward(x.clone());
        let got = conv2d_nn(&conv, x, 1 << 25);
        assert_eq!(got.dims(), want.dims(), "{cin}→{cout} {k:?} g{groups}");
        let scale: f32 = want.clone().abs().max().into_scalar();
        let err: f32 = (got - want).abs().max().into_scalar();
        assert!(
            err <= 1e-5 * scale,
            "{cin}→{cout} {k:?} pad {pad:?} g{groups} n{n} {h}×{w}: {err} (scale {scale})"
        );
    }
}
