//! Half precision: GroupNorm statistics in f32 keep f16 activations finite; the whole model runs
//! in f16/bf16 (burn-flex, whose CPU kernels have half-precision types) close to f32.

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_flex::Flex;
use ultrares_core::testing::splitmix_uniform;
use ultrares_nn::GroupNormConfig;
use ultrares_vae::norm::{CtxNorm, NormCtx};
use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig};

type B = Flex;

fn det(seed: u64, shape: [usize; 4], scale: f64) -> Tensor<B, 4> {
    let n = shape.iter().product();
    let v: Vec<f32> = splitmix_uniform(seed, n)
        .map(|u| (u * scale) as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn max_abs(a: Tensor<B, 4>, b: Tensor<B, 4>) -> f32 {
    let d = (a.cast(DType::F32) - b.cast(DType::F32)).abs();
    d.max().into_scalar()
}

/// Activations of magnitude ~2000 square past f16's range (65504): statistics in f16 would be
/// infinite; upcast they are exact and the normalised output matches f32.
#[test]
fn group_norm_upcasts_statistics() {
    let device = Default::default();
    let norm = GroupNormConfig::new(4, 8)
        .with_epsilon(1e-6)
        .init::<B>(&device);
    let x = det(1, [1, 8, 16, 16], 2000.0);
    let want = norm
        .forward_ctx(x.clone(), &mut NormCtx::local())
        .expect("f32");
    let got = norm
        .forward_ctx(x.cast(DType::F16), &mut NormCtx::local())
        .expect("f16");
    assert_eq!(got.dtype(), DType::F16);
    let err = max_abs(got.clone(), want);
    let finite = got.cast(DType::F32).is_finite().all().into_scalar();
    println!("f16 GroupNorm at |x| ≤ 2000: max abs error {err:.2e}");
    assert!(finite, "non-finite output");
    assert!(err < 5e-3, "max abs error {err}");
}

fn hashed(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    common::hashed(cfg)
}

#[test]
fn half_precision_model_matches_f32() {
    let cfg = AutoencoderKlConfig::new(vec![32, 64]).with_force_upcast(false);
    let vae = hashed(&cfg);
    let image = det(2, [1, 3, 32, 32], 1.0);
    let latent = det(3, [1, 4, 12, 12], 2.0);
    let want_m = vae.encode_moments(image.clone()).expect("encode");
    let want_d = vae.decode(latent.clone()).expect("decode");
    for dtype in [DType::F16, DType::BF16] {
        let half = vae.clone().with_dtype(dtype).expect("cast");
        assert_eq!(half.dtype(), dtype);
        let m = half.encode_moments(image.clone()).expect("encode");
        let d = half.decode(latent.clone()).expect("decode");
        assert_eq!(d.dtype(), DType::F32, "outputs are returned in f32");
        let (em, ed) = (max_abs(m, want_m.clone()), max_abs(d, want_d.clone()));
        let scale = want_d.clone().abs().max().into_scalar();
        println!(
            "{dtype:?}: encode max abs error {em:.2e}, decode {ed:.2e} (|decode| ≤ {scale:.2})"
        );
        let tol = if dtype == DType::F16 { 1e-2 } else { 0.1 };
        assert!(em < tol && ed < tol, "{dtype:?}: {em} {ed}");
    }
    assert!(vae.clone().with_dtype(DType::I32).is_err());

    // force_upcast (the SDXL VAE): diffusers' upcast_vae — only post_quant_conv, decoder.conv_in
    // and the decoder's mid block take f16; the encoder and up blocks stay f32.
    let mut upcast = vae.clone();
    upcast.force_upcast = true;
    let upcast = upcast.with_dtype(DType::F16).expect("cast");
    assert_eq!(upcast.dtype(), DType::F16);
    assert_eq!(upcast.encoder.conv_in.weight.val().dtype(), DType::F32);
    assert_eq!(upcast.decoder.conv_out.weight.val().dtype(), DType::F32);
    let m = upcast.encode_moments(image).expect("encode");
    let d = upcast.decode(latent).expect("decode");
    let (em, ed) = (max_abs(m, want_m), max_abs(d, want_d));
    println!("F16 with force_upcast: encode max abs error {em:.2e}, decode {ed:.2e}");
    assert!(em < 1e-5 && ed < 1e-2, "{em} {ed}");
}
