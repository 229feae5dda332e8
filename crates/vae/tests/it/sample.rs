//! Seeded posterior sampling (diffusers' `DiagonalGaussianDistribution.sample`).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn_ndarray::NdArray;
use ultrares_vae::AutoencoderKlConfig;

type B = NdArray<f32>;

#[test]
fn seeded_sample_has_the_posterior_statistics() {
    let device = Default::default();
    let vae = AutoencoderKlConfig::new(vec![32])
        .with_shift_factor(Some(0.1))
        .init::<B>(&device)
        .expect("init");
    let (c, h, w) = (4, 64, 64);
    // mean 0.3, log-variance ln 0.25 (σ = 0.5).
    let mut m = vec![0.3f32; c * h * w];
    m.extend(vec![0.25f32.ln(); c * h * w]);
    let moments = Tensor::<B, 4>::from_data(TensorData::new(m, [1, 2 * c, h, w]), &device);
    let a = vae.sample_latent(moments.clone(), 7).expect("sample");
    let b = vae.sample_latent(moments.clone(), 7).expect("sample");
    let d = vae.sample_latent(moments.clone(), 8).expect("sample");
    assert_eq!(a.to_data(), b.to_data(), "same seed, same sample");
    assert_ne!(a.to_data(), d.to_data(), "another seed, another sample");
    // Back to VAE space and standardised: ≈ N(0, 1) over 16,384 values.
    let z = (vae.from_model_space(a) - 0.3) / 0.5;
    let n = (c * h * w) as f32;
    let mean: f32 = z.clone().mean().into_scalar();
    let var: f32 = (z - mean).powf_scalar(2.0).sum().into_scalar() / n;
    println!("standardised sample: mean {mean:.4}, variance {var:.4}");
    assert!(
        mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
        "{mean} {var}"
    );
    // The mode is the mean in model space.
    let mode = vae.moments_to_latent(moments);
    let want = (0.3 - 0.1) * 0.18215;
    let got: f32 = mode.mean().into_scalar();
    assert!((got - want as f32).abs() < 1e-6, "{got} vs {want}");
}
