//! Euler discrete (Karras et al. 2022, Algorithm 2 without churn), as diffusers'
//! `EulerDiscreteScheduler` with linear σ interpolation.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::config::linspace;
use crate::scheduler::{check_index, check_same, linear};
use crate::{Error, Result, Scheduler, SchedulerConfig, TimestepSpacing};

/// Euler on σ = √((1−ᾱ)/ᾱ): `x̂₀ = x − σ_i·ε`, `x_{i+1} = x + (x − x̂₀)/σ_i · (σ_{i+1} − σ_i)`.
/// σ at fractional timesteps is linearly interpolated over the training steps, and a final
/// σ = 0 is appended (diffusers' `interpolation_type="linear"`, `use_karras_sigmas=False`).
#[derive(Debug, Clone)]
pub struct EulerDiscrete {
    config: SchedulerConfig,
    timesteps: Vec<f64>,
    sigmas: Vec<f64>,
    init_sigma: f64,
    begin: usize,
}

impl EulerDiscrete {
    /// An Euler schedule of `steps` steps.
    ///
    /// # Errors
    /// [`Error::Config`] for 0 steps, more steps than training steps, invalid betas, or a
    /// `sample`/`flow` prediction type (diffusers' Euler takes ε and v).
    pub fn new(config: SchedulerConfig, steps: usize) -> Result<Self> {
        config.check_steps(steps)?;
        if matches!(
            config.prediction_type,
            PredictionType::Sample | PredictionType::Flow
        ) {
            return Err(Error::Config(format!(
                "Euler discrete takes epsilon or v_prediction, not {}",
                config.prediction_type.as_diffusers_str()
            )));
        }
        let ac = config.alphas_cumprod()?;
        let train_sigmas: Vec<f64> = ac.iter().map(|a| ((1.0 - a) / a).sqrt()).collect();
        let t_max = (config.num_train_timesteps - 1) as f64;
        let spacing = config.timestep_spacing.unwrap_or(TimestepSpacing::Linspace);
        let timesteps: Vec<f64> = match spacing {
            TimestepSpacing::Linspace => (0..steps)
                .rev()
                .map(|i| linspace(0.0, t_max, steps, i))
                .collect(),
            other => config.discrete_timesteps(steps, other),
        };
        let interp = |t: f64| {
            let t = t.clamp(0.0, t_max);
            let lo = t.floor() as usize;
            let hi = (lo + 1).min(train_sigmas.len() - 1);
            train_sigmas[lo] + (train_sigmas[hi] - train_sigmas[lo]) * (t - lo as f64)
        };
        let mut sigmas: Vec<f64> = timesteps.iter().map(|&t| interp(t)).collect();
        let max = sigmas.iter().copied().fold(0.0, f64::max);
        let init_sigma = match spacing {
            TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
            TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
        };
        sigmas.push(0.0);
        Ok(Self {
            config,
            timesteps,
            sigmas,
            init_sigma,
            begin: 0,
        })
    }
}

impl Scheduler for EulerDiscrete {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn sigmas(&self) -> Option<&[f64]> {
        Some(&self.sigmas)
    }

    fn init_noise_sigma(&self) -> f64 {
        self.init_sigma
    }

    fn begin_index(&self) -> usize {
        self.begin
    }

    fn set_begin_index(&mut self, index: usize) -> Result<()> {
        check_index(index, self.timesteps.len())?;
        self.begin = index;
        Ok(())
    }

    fn scale_model_input<B: Backend>(
        &self,
        sample: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        let s = self.sigmas[i];
        Ok(sample.div_scalar((s * s + 1.0).sqrt()))
    }

    fn step<B: Backend>(
        &self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        _noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        check_same(&model_output, &sample, "Euler step")?;
        let (s, s_next) = (self.sigmas[i], self.sigmas[i + 1]);
        let h = s_next - s;
        // x_next = x + h·(x − x̂₀)/σ: ε gives x − x̂₀ = σ·m; v gives
        // x − x̂₀ = x·σ²/(σ²+1) + m·σ/√(σ²+1).
        let (a, c) = match self.config.prediction_type {
            PredictionType::VPrediction => (1.0 + h * s / (s * s + 1.0), h / (s * s + 1.0).sqrt()),
            _ => (1.0, h),
        };
        Ok(linear(sample, a, model_output, c))
    }

    fn add_noise<B: Backend>(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        check_same(&original, &noise, "add_noise")?;
        Ok(original + noise.mul_scalar(self.sigmas[i]))
    }
}
