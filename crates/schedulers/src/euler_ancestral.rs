//! Euler ancestral, as diffusers' `EulerAncestralDiscreteScheduler`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::euler::{euler_coefficients, euler_sigmas, scale_input};
use crate::scheduler::{check_index, check_same, check_step, impl_schedule, linear, need_noise};
use crate::{Result, Scheduler, SchedulerConfig};

/// Euler with ancestral noise: from σ to σ', `σ_up = √(σ'²(σ² − σ'²)/σ²)`,
/// `σ_down = √(σ'² − σ_up²)`, `x' = x + (x − x̂₀)/σ·(σ_down − σ) + σ_up·z`. Same σ schedule as
/// [`crate::EulerDiscrete`].
#[derive(Debug, Clone)]
pub struct EulerAncestral {
    config: SchedulerConfig,
    timesteps: Vec<f64>,
    sigmas: Vec<f64>,
    init_sigma: f64,
    begin: usize,
}

impl EulerAncestral {
    /// An Euler-ancestral schedule of `steps` steps.
    ///
    /// # Errors
    /// As [`crate::EulerDiscrete::new`].
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

impl_schedule!(
    EulerAncestral,
    sigmas = sigmas,
    init = init_sigma,
    stochastic = |_: &EulerAncestral| true
);

impl<B: Backend> Scheduler<B> for EulerAncestral {
    fn scale_model_input(&self, sample: Tensor<B, 4>, i: usize) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        Ok(scale_input(sample, self.sigmas[i]))
    }

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
            "Euler ancestral step",
        )?;
        let (s, s_to) = (self.sigmas[i], self.sigmas[i + 1]);
        let s_up = (s_to * s_to * (s * s - s_to * s_to) / (s * s))
            .max(0.0)
            .sqrt();
        let s_down = (s_to * s_to - s_up * s_up).max(0.0).sqrt();
        let (a, c) = euler_coefficients(self.config.prediction_type, s, s_down - s);
        let prev = linear(sample, a, model_output, c);
        let z = need_noise(noise, &prev, "Euler ancestral step")?;
        Ok(prev + z.mul_scalar(s_up))
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
