//! Euler discrete (Karras et al. 2022, Algorithm 2 without churn), as diffusers'
//! `EulerDiscreteScheduler` with linear σ interpolation.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::config::linspace;
use crate::scheduler::{check_index, check_same, check_step, impl_schedule, linear};
use crate::{Error, Result, Scheduler, SchedulerConfig, TimestepSpacing};

/// Euler on σ = √((1−ᾱ)/ᾱ): `x̂₀ = x − σ_i·ε`, `x_{i+1} = x + (x − x̂₀)/σ_i · (σ_{i+1} − σ_i)`.
/// σ at fractional timesteps is linearly interpolated over the training steps, and a final
/// σ = 0 is appended (diffusers' `interpolation_type="linear"`, `use_karras_sigmas=False`).
#[derive(Debug, Clone)]
pub struct EulerDiscrete {
    pub(crate) config: SchedulerConfig,
    pub(crate) timesteps: Vec<f64>,
    pub(crate) sigmas: Vec<f64>,
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
        let (timesteps, sigmas, init_sigma) = euler_sigmas(&config, steps)?;
        Ok(Self {
            config,
            timesteps,
            sigmas,
            init_sigma,
            begin: 0,
        })
    }
}

/// Euler's σ schedule: timesteps by spacing, σ linearly
/// interpolated at them, a final 0, and the initial noise σ.
fn euler_sigmas(config: &SchedulerConfig, steps: usize) -> Result<(Vec<f64>, Vec<f64>, f64)> {
    config.check_steps(steps)?;
    if matches!(
        config.prediction_type,
        PredictionType::Sample | PredictionType::Flow
    ) {
        return Err(Error::Config(format!(
            "Euler schedulers take epsilon or v_prediction, not {}",
            config.prediction_type.as_diffusers_str()
        )));
    }
    let train_sigmas = config.train_sigmas()?;
    let t_max = (config.num_train_timesteps - 1) as f64;
    let spacing = config.timestep_spacing.unwrap_or(TimestepSpacing::Linspace);
    let timesteps: Vec<f64> = match spacing {
        TimestepSpacing::Linspace => (0..steps)
            .rev()
            .map(|i| linspace(0.0, t_max, steps, i))
            .collect(),
        other => config.discrete_timesteps(steps, other),
    };
    config.check_timesteps(&timesteps)?;
    let mut sigmas: Vec<f64> = timesteps
        .iter()
        .map(|&t| interp(&train_sigmas, t))
        .collect();
    let max = sigmas.iter().copied().fold(0.0, f64::max);
    let init_sigma = match spacing {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
    };
    sigmas.push(0.0);
    Ok((timesteps, sigmas, init_sigma))
}

/// `x / √(σ² + 1)` (the model sees the VP-scaled sample).
fn scale_input<B: Backend>(x: Tensor<B, 4>, s: f64) -> Tensor<B, 4> {
    x.div_scalar((s * s + 1.0).sqrt())
}

/// `(a, c)` of the Euler move `x + h·(x − x̂₀)/σ = a·x + c·m`: ε gives `x − x̂₀ = σ·m`; v gives
/// `x − x̂₀ = x·σ²/(σ²+1) + m·σ/√(σ²+1)`.
pub(crate) fn euler_coefficients(pred: PredictionType, s: f64, h: f64) -> (f64, f64) {
    match pred {
        PredictionType::VPrediction => (1.0 + h * s / (s * s + 1.0), h / (s * s + 1.0).sqrt()),
        _ => (1.0, h),
    }
}

/// `numpy.interp(t, arange(len(v)), v)`.
pub(crate) fn interp(v: &[f64], t: f64) -> f64 {
    let t = t.clamp(0.0, (v.len() - 1) as f64);
    let lo = t.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (t - lo as f64)
}

impl_schedule!(EulerDiscrete, sigmas = sigmas, init = init_sigma);

impl<B: Backend> Scheduler<B> for EulerDiscrete {
    fn scale_model_input(&self, sample: Tensor<B, 4>, i: usize) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        Ok(scale_input(sample, self.sigmas[i]))
    }

    fn step(
        &mut self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        _noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>> {
        check_step(
            i,
            self.timesteps.len(),
            &model_output,
            &sample,
            "Euler step",
        )?;
        let (s, s_next) = (self.sigmas[i], self.sigmas[i + 1]);
        let (a, c) = euler_coefficients(self.config.prediction_type, s, s_next - s);
        Ok(linear(sample, a, model_output, c))
    }

    fn add_noise(
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
