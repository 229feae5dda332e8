//! DDPM ancestral sampling (Ho et al., NeurIPS 2020), as diffusers' `DDPMScheduler` with
//! `variance_type="fixed_small"`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::scheduler::{check_index, check_step, impl_schedule, linear, need_noise, vp_noise};
use crate::{Error, Result, Scheduler, SchedulerConfig, TimestepSpacing};

/// DDPM on `n` of the `T` training steps: from `t` to `t' = t − T // n`,
/// `x̂₀` from the model, mean `√ᾱ_{t'}(1 − ᾱ_t/ᾱ_{t'})/(1−ᾱ_t)·x̂₀ + √(ᾱ_t/ᾱ_{t'})(1−ᾱ_{t'})/(1−ᾱ_t)·x`
/// and, for `t > 0`, noise of variance `(1−ᾱ_{t'})/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_{t'})` (clamped at
/// 1e-20).
#[derive(Debug, Clone)]
pub struct Ddpm {
    config: SchedulerConfig,
    alphas_cumprod: Vec<f64>,
    timesteps: Vec<f64>,
    begin: usize,
}

impl Ddpm {
    /// A DDPM schedule of `steps` steps (diffusers' default spacing: leading).
    ///
    /// # Errors
    /// [`Error::Config`] for 0 steps, more steps than training steps, or invalid betas.
    pub fn new(config: SchedulerConfig, steps: usize) -> Result<Self> {
        config.check_steps(steps)?;
        if config.prediction_type == PredictionType::Flow {
            return Err(Error::Config("DDPM does not take flow predictions".into()));
        }
        let alphas_cumprod = config.alphas_cumprod()?;
        let spacing = config.timestep_spacing.unwrap_or(TimestepSpacing::Leading);
        let timesteps = config.discrete_timesteps(steps, spacing);
        config.check_timesteps(&timesteps)?;
        Ok(Self {
            config,
            alphas_cumprod,
            timesteps,
            begin: 0,
        })
    }
}

impl_schedule!(Ddpm, stochastic = |_: &Ddpm| true);

impl<B: Backend> Scheduler<B> for Ddpm {
    fn step(
        &mut self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>> {
        check_step(i, self.timesteps.len(), &model_output, &sample, "DDPM step")?;
        let t = self.timesteps[i];
        let prev_t = t - (self.config.num_train_timesteps / self.timesteps.len()) as f64;
        let a_t = self.alphas_cumprod[t as usize];
        let a_prev = if prev_t >= 0.0 {
            self.alphas_cumprod[prev_t as usize]
        } else {
            1.0
        };
        let (b_t, b_prev) = (1.0 - a_t, 1.0 - a_prev);
        let (cur_a, cur_b) = (a_t / a_prev, 1.0 - a_t / a_prev);
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        let [p, q] = match self.config.prediction_type {
            PredictionType::Epsilon => [1.0 / sa, -sb / sa],
            PredictionType::Sample => [0.0, 1.0],
            PredictionType::VPrediction => [sa, -sb],
            PredictionType::Flow => unreachable!("rejected in Ddpm::new"),
        };
        let x0 = linear(sample.clone(), p, model_output, q);
        let x0 = if self.config.clip_sample {
            let r = self.config.clip_sample_range;
            x0.clamp(-r, r)
        } else {
            x0
        };
        let mean = linear(
            x0,
            a_prev.sqrt() * cur_b / b_t,
            sample,
            cur_a.sqrt() * b_prev / b_t,
        );
        if t > 0.0 {
            let var = (b_prev / b_t * cur_b).max(1e-20);
            let z = need_noise(noise, &mean, "DDPM step")?;
            return Ok(mean + z.mul_scalar(var.sqrt()));
        }
        Ok(mean)
    }

    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        vp_noise(
            original,
            noise,
            self.alphas_cumprod[self.timesteps[i] as usize],
        )
    }
}
