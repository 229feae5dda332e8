//! DDIM (Song et al., ICLR 2021), as diffusers' `DDIMScheduler`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::scheduler::{check_index, check_step, impl_schedule, linear, need_noise, vp_noise};
use crate::{Error, Result, Scheduler, SchedulerConfig, TimestepSpacing};

/// DDIM with `eta` (0 = deterministic) on a fixed number of inference steps.
///
/// Step `i` goes from timestep `t = timesteps[i]` to `t − T // n` (diffusers uses that offset
/// for every spacing), with `ᾱ_prev = 1` past the start when `set_alpha_to_one` (else ᾱ₀):
/// `x̂₀ = (x − √(1−ᾱ_t)·ε)/√ᾱ_t`, `σ = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev))`,
/// `x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ²)·ε + σ·z`.
#[derive(Debug, Clone)]
pub struct Ddim {
    config: SchedulerConfig,
    alphas_cumprod: Vec<f64>,
    timesteps: Vec<f64>,
    eta: f64,
    begin: usize,
}

impl Ddim {
    /// A DDIM schedule of `steps` steps (`eta` = 0).
    ///
    /// # Errors
    /// [`Error::Config`] for 0 steps, more steps than training steps, or invalid betas.
    pub fn new(config: SchedulerConfig, steps: usize) -> Result<Self> {
        config.check_steps(steps)?;
        let alphas_cumprod = config.alphas_cumprod()?;
        let spacing = config.timestep_spacing.unwrap_or(TimestepSpacing::Leading);
        let timesteps = config.discrete_timesteps(steps, spacing);
        config.check_timesteps(&timesteps)?;
        Ok(Self {
            config,
            alphas_cumprod,
            timesteps,
            eta: 0.0,
            begin: 0,
        })
    }

    /// Sets `eta` (0: DDIM, 1: DDPM-like ancestral noise); `step` then needs `noise`.
    ///
    /// # Errors
    /// [`Error::Config`] for a negative or non-finite eta.
    pub fn with_eta(mut self, eta: f64) -> Result<Self> {
        if !eta.is_finite() || eta < 0.0 {
            return Err(Error::Config(format!("eta = {eta}")));
        }
        self.eta = eta;
        Ok(self)
    }

    /// `ᾱ_t` for every training step.
    pub fn alphas_cumprod(&self) -> &[f64] {
        &self.alphas_cumprod
    }

    fn alpha(&self, t: f64) -> f64 {
        if t >= 0.0 {
            self.alphas_cumprod[t as usize]
        } else if self.config.set_alpha_to_one {
            1.0
        } else {
            self.alphas_cumprod[0]
        }
    }
}

impl_schedule!(Ddim, stochastic = |s: &Ddim| s.eta > 0.0);

impl<B: Backend> Scheduler<B> for Ddim {
    fn step(
        &mut self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>> {
        check_step(i, self.timesteps.len(), &model_output, &sample, "DDIM step")?;
        let t = self.timesteps[i];
        let prev_t = t - (self.config.num_train_timesteps / self.timesteps.len()) as f64;
        let (a_t, a_prev) = (self.alpha(t), self.alpha(prev_t));
        let b_t = 1.0 - a_t;
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        // x̂₀ = p·x + q·m and ε̂ = r·x + u·m for the model output m.
        let [p, q, r, u] = match self.config.prediction_type {
            PredictionType::Epsilon => [1.0 / sa, -sb / sa, 0.0, 1.0],
            PredictionType::Sample => [0.0, 1.0, 1.0 / sb, -sa / sb],
            PredictionType::VPrediction => [sa, -sb, sb, sa],
            PredictionType::Flow => {
                return Err(Error::Config("DDIM does not take flow predictions".into()));
            }
        };
        let variance = (1.0 - a_prev) / b_t * (1.0 - a_t / a_prev);
        let std = self.eta * variance.max(0.0).sqrt();
        let dir = (1.0 - a_prev - std * std).max(0.0).sqrt();
        // x_prev = √ᾱ_prev·x̂₀ + dir·ε̂ (+ σ·z), one linear combination of x and m.
        let ap = a_prev.sqrt();
        let prev = if self.config.clip_sample {
            // diffusers clamps x̂₀ and recomputes ε̂ = (x − √ᾱ_t·x̂₀)/√(1−ᾱ_t) from it.
            let range = self.config.clip_sample_range;
            let x0 = linear(sample.clone(), p, model_output, q).clamp(-range, range);
            let eps = (sample - x0.clone().mul_scalar(sa)).div_scalar(sb);
            x0.mul_scalar(ap) + eps.mul_scalar(dir)
        } else {
            linear(sample, ap * p + dir * r, model_output, ap * q + dir * u)
        };
        if std > 0.0 {
            let z = need_noise(noise, &prev, "DDIM with eta > 0")?;
            return Ok(prev + z.mul_scalar(std));
        }
        Ok(prev)
    }

    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        self.add_noise_at(original, noise, self.timesteps[i] as usize)
    }
}

impl Ddim {
    /// `√ᾱ_t·x₀ + √(1−ᾱ_t)·ε` at any training timestep `t` (diffusers' `add_noise`).
    ///
    /// # Errors
    /// [`Error::Index`] if `t ≥ T`, [`Error::Input`] on shape mismatch.
    pub fn add_noise_at<B: Backend>(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        t: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(t, self.alphas_cumprod.len())?;
        vp_noise(original, noise, self.alphas_cumprod[t])
    }
}
