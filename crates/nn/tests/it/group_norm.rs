//! GroupNorm's burn-ndarray host kernels (`NnBackend::nn_group_var_mean`, `nn_scale_shift`: f64
//! statistics, fused SiLU) against the portable tensor-op defaults they replace, and the fused
//! `forward_silu` against `silu(forward)` on a backend without the kernels (burn-flex). The
//! values against torch are `layers::norms_equal_torch`.

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use ultrares_nn::activation::silu;
use ultrares_nn::{
    GroupNormConfig, NnBackend, group_var_mean, group_var_mean_portable, scale_shift,
};

type B = burn::backend::NdArray<f32>;

fn max_rel(got: Tensor<B, 4>, want: Tensor<B, 4>) -> f32 {
    assert_eq!(got.dims(), want.dims());
    let scale: f32 = want.clone().abs().max().into_scalar();
    let err: f32 = (got - want).abs().max().into_scalar();
    err / scale.max(f32::MIN_POSITIVE)
}

/// `[n, c, h, w]` normal values around `offset` (a large offset is where one f32 sum loses the
/// variance), seeded.
fn input(dims: [usize; 4], offset: f64, seed: u64) -> Tensor<B, 4> {
    B::seed(&Default::default(), seed);
    Tensor::random(dims, Distribution::Normal(offset, 2.0), &Default::default())
}

#[test]
fn host_statistics_equal_the_portable_sums() {
    for (dims, g, offset) in [
        ([2, 32, 24, 20], 8, 0.0),
        ([1, 64, 64, 64], 32, 100.0),
        ([3, 6, 1, 1], 3, -5.0),
        ([1, 4, 5, 7], 1, 1e3),
    ] {
        let x = input(dims, offset, 7);
        let (var, mean) = group_var_mean(x.clone(), g);
        let (var_p, mean_p) = group_var_mean_portable(x.clone(), g);
        assert_eq!(var.dims(), [dims[0], g, 1]);
        let rel = |a: Tensor<B, 3>, b: Tensor<B, 3>| {
            let s: f32 = b.clone().abs().max().into_scalar();
            let e: f32 = (a - b).abs().max().into_scalar();
            e / s
        };
        let (ev, em) = (rel(var, var_p), rel(mean, mean_p));
        println!("{dims:?}/{g} offset {offset}: var {ev:.1e}, mean {em:.1e}");
        // The portable two-level f32 sums are themselves ~1e-6 relative off the exact values
        // (the f64 host sums are closer), so the bound is theirs.
        assert!(ev < 2e-5 && em < 2e-6, "{dims:?}: var {ev:e}, mean {em:e}");
    }
}

#[test]
fn host_scale_shift_equals_the_tensor_ops_with_and_without_silu() {
    let dev = Default::default();
    for dims in [[2, 16, 9, 13], [1, 3, 1, 1], [1, 8, 128, 128]] {
        let [n, c, _, _] = dims;
        let x = input(dims, 0.5, 11);
        B::seed(&dev, 12);
        let scale = Tensor::<B, 2>::random([n, c], Distribution::Normal(0.0, 3.0), &dev);
        let shift = Tensor::<B, 2>::random([n, c], Distribution::Normal(0.0, 3.0), &dev);
        for act in [false, true] {
            let got = B::nn_scale_shift(x.clone(), scale.clone(), shift.clone(), act);
            let want = scale_shift(x.clone(), scale.clone(), shift.clone(), act);
            let e = max_rel(got, want);
            println!("{dims:?} silu {act}: {e:.1e}");
            assert!(e < 1e-6, "{dims:?} silu {act}: {e:e}");
        }
    }
    // A non-contiguous input (a transposed view) takes the portable path, same values.
    let x = input([1, 4, 6, 5], 0.0, 3).swap_dims(2, 3);
    let (s, t) = (
        Tensor::<B, 2>::ones([1, 4], &dev),
        Tensor::zeros([1, 4], &dev),
    );
    let got = B::nn_scale_shift(x.clone(), s.clone(), t.clone(), true);
    assert!(max_rel(got, silu(x)) < 1e-6);
}

#[test]
fn group_norm_and_fused_silu_equal_the_unfused_layer() {
    fn check<K: NnBackend>(dims: [usize; 4], g: usize) -> f32 {
        let dev = Default::default();
        let mut gn = GroupNormConfig::new(g, dims[1]).init::<K>(&dev);
        let c = dims[1];
        let ramp =
            |a: f32| TensorData::new((0..c).map(|i| a * i as f32 - 0.3).collect::<Vec<_>>(), [c]);
        gn.weight = burn::module::Param::from_tensor(Tensor::from_data(ramp(0.1), &dev));
        gn.bias = burn::module::Param::from_tensor(Tensor::from_data(ramp(-0.05), &dev));
        let n: usize = dims.iter().product();
        let data: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let x = Tensor::<K, 4>::from_data(TensorData::new(data, dims), &dev);
        let fused = gn.forward_silu(x.clone());
        let want = silu(gn.forward(x));
        let scale: f32 = want.clone().abs().max().into_scalar().elem();
        let err: f32 = (fused - want).abs().max().into_scalar().elem();
        err / scale
    }
    for (dims, g) in [([2, 32, 10, 12], 8), ([1, 6, 3, 3], 2)] {
        let (nd, flex) = (check::<B>(dims, g), check::<burn_flex::Flex>(dims, g));
        println!("{dims:?}: ndarray {nd:.1e}, flex {flex:.1e}");
        assert!(nd < 1e-6 && flex < 1e-6, "{dims:?}: {nd:e} {flex:e}");
    }
}
