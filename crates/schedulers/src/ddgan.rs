//! WaveDiff's / DDGAN's posterior sampler (spec `wavelet.md` §2.2–2.4; `WaveDiff:diffusion.py`).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::scheduler::{check_index, check_same, check_step, impl_schedule, linear, need_noise};
use crate::{Error, Result, Scheduler};

/// The continuous VP schedule of DDGAN discretised into `T` steps, and posterior sampling
/// `x_t = c1[t]·x̂₀ + c2[t]·x_{t+1} + 1[t≠0]·exp(½·logvar[t])·z` with the generator's x̂₀.
///
/// `t_i = i/T·(1 − 10⁻³) + 10⁻³`, `ᾱ(t) = exp(−½t²(β_max − β_min) − tβ_min)`,
/// `β_i = 1 − ᾱ_i/ᾱ_{i−1}` (β₀ = 10⁻⁸), posterior coefficients from `β_1…β_T`. Steps run
/// `t = T−1 … 0`; [`crate::Schedule::timesteps`] are these integer labels (what the generator
/// and discriminator receive). The generator predicts x₀ ("sample").
#[derive(Debug, Clone)]
pub struct DdganPosterior {
    timesteps: Vec<f64>,
    /// `[c1, c2, logvar]` per t = 0..T−1.
    coef: Vec<[f64; 3]>,
    /// `(ā_cum, σ_cum)` per t = 0..T (forward marginal `q(x_t | x₀)`).
    marginal: Vec<(f64, f64)>,
    /// `(a, σ) = (√(1 − β), √β)` per t = 0..T (one forward step).
    steps: Vec<(f64, f64)>,
    begin: usize,
}

impl DdganPosterior {
    /// `T` steps with β_min = 0.1, β_max = 20 (WaveDiff's defaults; T = 2 or 4 per dataset).
    ///
    /// # Errors
    /// [`Error::Config`] for `T = 0` or `T > 1000`.
    pub fn new(num_timesteps: usize) -> Result<Self> {
        Self::with_betas(num_timesteps, 0.1, 20.0)
    }

    /// WaveDiff's preset for a dataset: `cifar10`, `stl10`, `lsun` (T = 4) or `celeba_256`,
    /// `celeba_512`, `celeba_1024` (T = 2).
    ///
    /// # Errors
    /// [`Error::Config`] for other names.
    pub fn wavediff(dataset: &str) -> Result<Self> {
        match dataset {
            "cifar10" | "stl10" | "lsun" => Self::new(4),
            "celeba_256" | "celeba_512" | "celeba_1024" => Self::new(2),
            other => Err(Error::Config(format!(
                "unknown WaveDiff dataset {other:?} (cifar10, stl10, lsun, celeba_256, celeba_512, celeba_1024)"
            ))),
        }
    }

    /// Any `T`, β_min, β_max (`use_geometric = False`).
    ///
    /// # Errors
    /// [`Error::Config`] for `T = 0`, `T > 1000` or non-positive / non-finite betas.
    pub fn with_betas(num_timesteps: usize, beta_min: f64, beta_max: f64) -> Result<Self> {
        let n = num_timesteps;
        if n == 0 || n > 1000 || !(beta_min > 0.0 && beta_max.is_finite() && beta_max > beta_min) {
            return Err(Error::Config(format!(
                "DDGAN schedule: T = {n}, beta_min = {beta_min}, beta_max = {beta_max}"
            )));
        }
        let eps = 1e-3;
        let abar: Vec<f64> = (0..=n)
            .map(|i| {
                let t = i as f64 / n as f64 * (1.0 - eps) + eps;
                (2.0 * (-0.25 * t * t * (beta_max - beta_min) - 0.5 * t * beta_min)).exp()
            })
            .collect();
        // betas[0] = 1e-8, then 1 − ᾱ_i/ᾱ_{i−1}; WaveDiff stores them in float32.
        let betas: Vec<f64> = std::iter::once(1e-8)
            .chain((1..=n).map(|i| 1.0 - abar[i] / abar[i - 1]))
            .map(|b| f64::from(b as f32))
            .collect();
        // `Diffusion_Coefficients` works in float32: 1 − 10⁻⁸ rounds to 1, so σ_cum[0] is 0
        // there (10⁻⁴ in exact arithmetic); mirror it.
        let mut marginal = Vec::with_capacity(n + 1);
        let mut steps = Vec::with_capacity(n + 1);
        let mut acc = 1.0f32;
        for &b in &betas {
            let a = (1.0 - b as f32).sqrt();
            acc *= a;
            marginal.push((f64::from(acc), f64::from((1.0 - acc * acc).sqrt())));
            steps.push((f64::from(a), f64::from((b as f32).sqrt())));
        }
        let mut coef = Vec::with_capacity(n);
        let mut ac_prev = 1.0;
        for &b in &betas[1..] {
            let ac = ac_prev * (1.0 - b);
            let var = b * (1.0 - ac_prev) / (1.0 - ac);
            coef.push([
                b * ac_prev.sqrt() / (1.0 - ac),
                (1.0 - ac_prev) * (1.0 - b).sqrt() / (1.0 - ac),
                var.max(1e-20).ln(),
            ]);
            ac_prev = ac;
        }
        Ok(Self {
            timesteps: (0..n).rev().map(|t| t as f64).collect(),
            coef,
            marginal,
            steps,
            begin: 0,
        })
    }

    /// Posterior coefficients `[c1, c2, logvar]` of `t = 0..T−1`.
    pub fn posterior_coefficients(&self) -> &[[f64; 3]] {
        &self.coef
    }

    /// Forward marginal `(√ᾱ, √(1−ᾱ))` per `t = 0..T` (`a_s_cum`, `sigmas_cum`, in float32 as
    /// WaveDiff computes them).
    pub fn marginal(&self) -> &[(f64, f64)] {
        &self.marginal
    }

    /// One forward step `(a_s, σ) = (√(1 − β), √β)` per `t = 0..T` (`Diffusion_Coefficients`'
    /// `a_s` and `sigmas`, float32): `x_{t+1} = a_s[t+1]·x_t + σ[t+1]·ε` in `q_sample_pairs`.
    pub fn forward_steps(&self) -> &[(f64, f64)] {
        &self.steps
    }
}

impl_schedule!(DdganPosterior, stochastic = |_: &DdganPosterior| true);

impl<B: Backend> Scheduler<B> for DdganPosterior {
    /// `model_output` is the generator's x̂₀; `noise` is needed for every step but the last.
    fn step(
        &mut self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>> {
        check_step(
            i,
            self.timesteps.len(),
            &model_output,
            &sample,
            "DDGAN step",
        )?;
        let t = self.timesteps[i] as usize;
        let [c1, c2, logvar] = self.coef[t];
        let mean = linear(model_output, c1, sample, c2);
        if t == 0 {
            return Ok(mean);
        }
        let z = need_noise(noise, &mean, "DDGAN posterior step")?;
        Ok(mean + z.mul_scalar((0.5 * logvar).exp()))
    }

    /// `q(x_{t+1} | x₀)` for the step's input `x_{t+1}` with `t = timesteps[i]`.
    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        check_same(&original, &noise, "add_noise")?;
        let (a, s) = self.marginal[self.timesteps[i] as usize + 1];
        Ok(linear(original, a, noise, s))
    }
}
