//! Sampling with the exact denoiser of Gaussian data reproduces the data distribution.
//!
//! For x₀ ~ N(μ, s²) per element and x_t = √ᾱ·x₀ + √(1−ᾱ)·ε, x_t ~ N(√ᾱμ, v) with
//! v = ᾱs² + 1 − ᾱ and the exact ε-predictor is E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱμ)/v. For flow
//! matching x_σ = (1−σ)x₀ + σε ~ N((1−σ)μ, V), V = (1−σ)²s² + σ², and the exact velocity is
//! E[ε − x₀ | x_σ] = (σ − (1−σ)s²)(x_σ − (1−σ)μ)/V − μ. Sampling from pure noise with these
//! must end at mean μ and variance s²: this checks the samplers themselves, not only their
//! agreement with diffusers.

#![allow(clippy::needless_range_loop)] // step loops index several per-step arrays

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use ultrares_schedulers::{
    Ddim, DpmSolverMultistep, EulerDiscrete, FlowMatchEuler, Schedule, Scheduler, SchedulerConfig,
    TimestepSpacing,
};

type B = NdArray<f32>;
const MU: f64 = 0.5;
const S2: f64 = 0.09;
const SHAPE: [usize; 4] = [1, 1, 200, 200];

fn noise(seed: u64) -> Tensor<B, 4> {
    let device = Default::default();
    B::seed(&device, seed);
    Tensor::random(SHAPE, Distribution::Normal(0.0, 1.0), &device)
}

fn moments(x: &Tensor<B, 4>) -> (f64, f64) {
    let v = x.to_data().to_vec::<f32>().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().map(|&a| a as f64).sum::<f64>() / n;
    let var = v.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

/// Exact ε-prediction for an input at noise level ᾱ.
fn eps(x: Tensor<B, 4>, abar: f64) -> Tensor<B, 4> {
    let v = abar * S2 + 1.0 - abar;
    x.sub_scalar(abar.sqrt() * MU)
        .mul_scalar((1.0 - abar).sqrt() / v)
}

/// Deterministic samplers are first-order in the step size: with the exact denoiser the final
/// variance must be within 25 % of s² at 50 steps (trailing spacing ends with the largest jump) and within 4 % at 500 steps, at least 4×
/// closer (first order gives 10×; 40 000 samples add ≈ 0.7 % of sampling noise). What remains
/// is the samplers' own discretisation error, dominated by the last step to σ = 0; the values
/// equal the exact affine recursion of the same steps computed in f64 (checked by hand with
/// diffusers: Euler leading 200 steps → 0.0847, SD3 flow 200 steps → 0.0861, for s² = 0.09).
fn check_convergence(what: &str, run: impl Fn(usize) -> Tensor<B, 4>) {
    let errs = variance_errors(what, run);
    assert!(
        errs[0] < 0.25,
        "{what}: variance off by {:.3} at 50 steps",
        errs[0]
    );
    assert!(
        errs[1] < 0.04,
        "{what}: variance off by {:.4} at 500 steps",
        errs[1]
    );
    assert!(
        errs[1] < errs[0] / 4.0,
        "{what}: no first-order convergence {errs:?}"
    );
}

/// Relative variance errors at 50 and 500 steps (the mean is checked to ±0.01 on the way).
fn variance_errors(what: &str, run: impl Fn(usize) -> Tensor<B, 4>) -> Vec<f64> {
    let errs: Vec<f64> = [50, 500]
        .iter()
        .map(|&steps| {
            let x = run(steps);
            let (m, v) = moments(&x);
            assert!(
                (m - MU).abs() < 0.01,
                "{what} {steps} steps: mean {m} vs {MU}"
            );
            (v / S2 - 1.0).abs()
        })
        .collect();
    println!("{what}: relative variance error at 50 / 500 steps {errs:?}");
    errs
}

#[test]
fn ddim_samples_the_data_distribution() {
    for spacing in [
        TimestepSpacing::Leading,
        TimestepSpacing::Trailing,
        TimestepSpacing::Linspace,
    ] {
        check_convergence(&format!("DDIM {spacing:?}"), |steps| {
            // set_alpha_to_one: the last step lands on ᾱ = 1 (clean data).
            let cfg = SchedulerConfig {
                timestep_spacing: Some(spacing),
                set_alpha_to_one: true,
                ..SchedulerConfig::sd15()
            };
            let mut s = Ddim::new(cfg, steps).unwrap();
            // Start from the exact marginal at the first timestep (SD's schedule does not
            // reach zero SNR: N(0, 1) at t = 981 would bias the mean by ≈ s·√ᾱ_T·μ/1).
            let a_t = s.alphas_cumprod()[s.timesteps()[0] as usize];
            let mut x = noise(1)
                .mul_scalar((a_t * S2 + 1.0 - a_t).sqrt())
                .add_scalar(a_t.sqrt() * MU);
            for i in 0..steps {
                let abar = s.alphas_cumprod()[s.timesteps()[i] as usize];
                let e = eps(s.scale_model_input(x.clone(), i).unwrap(), abar);
                x = s.step(e, i, x, None).unwrap();
            }
            x
        });
    }
}

#[test]
fn euler_samples_the_data_distribution() {
    for spacing in [
        TimestepSpacing::Leading,
        TimestepSpacing::Linspace,
        TimestepSpacing::Trailing,
    ] {
        check_convergence(&format!("Euler {spacing:?}"), |steps| {
            let cfg = SchedulerConfig {
                timestep_spacing: Some(spacing),
                ..SchedulerConfig::sdxl()
            };
            let mut s = EulerDiscrete::new(cfg, steps).unwrap();
            let sigmas = s.sigmas().unwrap().to_vec();
            // The exact marginal at σ₀ in Euler's variable x = x₀ + σε.
            let mut x = noise(2)
                .mul_scalar((S2 + sigmas[0] * sigmas[0]).sqrt())
                .add_scalar(MU);
            for i in 0..steps {
                let abar = 1.0 / (1.0 + sigmas[i] * sigmas[i]);
                let e = eps(s.scale_model_input(x.clone(), i).unwrap(), abar);
                x = s.step(e, i, x, None).unwrap();
            }
            x
        });
    }
}

#[test]
fn flow_matching_samples_the_data_distribution() {
    for name in ["SD3", "Flux"] {
        check_convergence(name, |steps| {
            let mut s = match name {
                "SD3" => FlowMatchEuler::new(&SchedulerConfig::sd3(), steps).unwrap(),
                _ => FlowMatchEuler::flux(&SchedulerConfig::flux_dev(), steps, 4096).unwrap(),
            };
            let sigmas = s.sigmas().unwrap().to_vec();
            let mut x = noise(3); // σ₀ = 1: pure noise is the exact start
            for i in 0..steps {
                let sg = sigmas[i];
                let var = (1.0 - sg).powi(2) * S2 + sg * sg;
                let v = x
                    .clone()
                    .sub_scalar((1.0 - sg) * MU)
                    .mul_scalar((sg - (1.0 - sg) * S2) / var)
                    .sub_scalar(MU);
                x = s.step(v, i, x, None).unwrap();
            }
            x
        });
    }
}

#[test]
fn dpm_solver_samples_the_data_distribution() {
    for karras in [false, true] {
        let errs = variance_errors(&format!("DPM-Solver++(2M) karras={karras}"), |steps| {
            let cfg = SchedulerConfig {
                use_karras_sigmas: karras,
                ..SchedulerConfig::sdxl()
            };
            let mut s = DpmSolverMultistep::<B>::new(cfg, steps).unwrap();
            let sigmas = s.sigmas().unwrap().to_vec();
            // The exact marginal at σ₀ in the VP variable x_t = √ᾱ·x₀ + √(1−ᾱ)·ε.
            let a0 = 1.0 / (1.0 + sigmas[0] * sigmas[0]);
            let mut x = noise(4)
                .mul_scalar((a0 * S2 + 1.0 - a0).sqrt())
                .add_scalar(a0.sqrt() * MU);
            for i in 0..steps {
                let abar = 1.0 / (1.0 + sigmas[i] * sigmas[i]);
                let e = eps(x.clone(), abar);
                x = s.step(e, i, x, None).unwrap();
            }
            x
        });
        // With Karras σ the last (first-order) jump to σ = 0 starts at σ_min ≈ 0.03 and the
        // second-order steps leave only sampling noise (≈ 0.7 %); with timestep spacing the
        // last jump starts at σ(t = 20) and dominates like Euler's (first-order convergence).
        if !karras {
            assert!(
                errs[0] < 0.25 && errs[1] < 0.04 && errs[1] < errs[0] / 4.0,
                "{errs:?}"
            );
            continue;
        }
        assert!(
            errs.iter().all(|&e| e < 0.03),
            "DPM-Solver++ karras={karras}: {errs:?}"
        );
    }
}
