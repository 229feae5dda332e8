//! Flow-matching Euler (SD3, Flux), as diffusers' `FlowMatchEulerDiscreteScheduler`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::config::linspace;
use crate::scheduler::{check_index, check_same, check_step, impl_schedule, linear};
use crate::{Error, Result, Scheduler, SchedulerConfig};

/// Rectified-flow Euler: `x_{i+1} = x + (σ_{i+1} − σ_i)·v` with the model's velocity
/// `v = ε − x₀`, σ from 1 down, a final σ = 0, timesteps `σ·T`.
///
/// σ: `linspace(σ_max·T, σ_min·T, n)/T` with diffusers' training-grid ends (σ_min is the shifted
/// `1/T`), then shifted — statically `sσ/(1 + (s−1)σ)` (SD3, s = 3), or for
/// `use_dynamic_shifting` by `e^μ/(e^μ + 1/σ − 1)` with μ interpolated linearly from the image
/// token count (Flux; [`FlowMatchEuler::flux`] also uses the Flux pipeline's
/// `σ = linspace(1, 1/n, n)`).
#[derive(Debug, Clone)]
pub struct FlowMatchEuler {
    timesteps: Vec<f64>,
    sigmas: Vec<f64>,
    begin: usize,
}

impl FlowMatchEuler {
    /// SD3-style schedule of `steps` steps (static shift; `config.use_dynamic_shifting` must be
    /// off — use [`FlowMatchEuler::with_mu`] or [`FlowMatchEuler::flux`] otherwise).
    ///
    /// # Errors
    /// [`Error::Config`] for 0 steps, more steps than training steps, a non-positive shift, or
    /// dynamic shifting without μ.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Self> {
        if config.use_dynamic_shifting {
            return Err(Error::Config(
                "dynamic shifting needs mu: use FlowMatchEuler::with_mu or ::flux".into(),
            ));
        }
        Self::build(config, steps, None, None)
    }

    /// Dynamic shifting with an explicit `mu`.
    ///
    /// # Errors
    /// As [`FlowMatchEuler::new`], and a non-finite `mu`.
    pub fn with_mu(config: &SchedulerConfig, steps: usize, mu: f64) -> Result<Self> {
        if !mu.is_finite() {
            return Err(Error::Config(format!("mu = {mu}")));
        }
        Self::build(config, steps, None, Some(mu))
    }

    /// The Flux pipeline's schedule: `σ = linspace(1, 1/n, n)`, dynamically shifted with
    /// `mu = calculate_shift(image_seq_len)` (`image_seq_len` = (H/16)·(W/16) tokens).
    ///
    /// # Errors
    /// As [`FlowMatchEuler::new`].
    pub fn flux(config: &SchedulerConfig, steps: usize, image_seq_len: usize) -> Result<Self> {
        config.check_steps(steps)?;
        let sigmas: Vec<f64> = (0..steps)
            .map(|i| linspace(1.0, 1.0 / steps as f64, steps, i))
            .collect();
        Self::build(
            config,
            steps,
            Some(sigmas),
            Some(calculate_shift(config, image_seq_len)),
        )
    }

    fn build(
        config: &SchedulerConfig,
        steps: usize,
        sigmas: Option<Vec<f64>>,
        mu: Option<f64>,
    ) -> Result<Self> {
        config.check_steps(steps)?;
        if config.prediction_type != PredictionType::Flow {
            return Err(Error::Config(format!(
                "flow matching takes flow_prediction, not {}",
                config.prediction_type.as_diffusers_str()
            )));
        }
        if !(config.shift.is_finite() && config.shift > 0.0) {
            return Err(Error::Config(format!("shift = {}", config.shift)));
        }
        let t = config.num_train_timesteps as f64;
        let static_shift = |s: f64| config.shift * s / (1.0 + (config.shift - 1.0) * s);
        let sigmas = sigmas.unwrap_or_else(|| {
            // The training grid: σ = k/T for k = T..1, statically shifted unless dynamic.
            let shift_grid = |s: f64| {
                if config.use_dynamic_shifting {
                    s
                } else {
                    static_shift(s)
                }
            };
            let (hi, lo) = (shift_grid(1.0) * t, shift_grid(1.0 / t) * t);
            (0..steps).map(|i| linspace(hi, lo, steps, i) / t).collect()
        });
        let mut sigmas: Vec<f64> = match mu {
            Some(mu) => sigmas
                .iter()
                .map(|&s| mu.exp() / (mu.exp() + (1.0 / s - 1.0)))
                .collect(),
            None => sigmas.iter().map(|&s| static_shift(s)).collect(),
        };
        let timesteps = sigmas.iter().map(|s| s * t).collect();
        sigmas.push(0.0);
        Ok(Self {
            timesteps,
            sigmas,
            begin: 0,
        })
    }
}

/// Flux's `calculate_shift`: μ linear in the token count between
/// (`base_image_seq_len`, `base_shift`) and (`max_image_seq_len`, `max_shift`), extrapolated.
pub fn calculate_shift(config: &SchedulerConfig, image_seq_len: usize) -> f64 {
    let m = (config.max_shift - config.base_shift)
        / (config.max_image_seq_len as f64 - config.base_image_seq_len as f64);
    let b = config.base_shift - m * config.base_image_seq_len as f64;
    image_seq_len as f64 * m + b
}

impl_schedule!(FlowMatchEuler, sigmas = sigmas);

impl<B: Backend> Scheduler<B> for FlowMatchEuler {
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
            "flow-match step",
        )?;
        Ok(linear(
            sample,
            1.0,
            model_output,
            self.sigmas[i + 1] - self.sigmas[i],
        ))
    }

    /// diffusers' `scale_noise`: `σ_i·ε + (1 − σ_i)·x₀`.
    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        check_same(&original, &noise, "add_noise")?;
        let s = self.sigmas[i];
        Ok(noise.mul_scalar(s) + original.mul_scalar(1.0 - s))
    }
}
