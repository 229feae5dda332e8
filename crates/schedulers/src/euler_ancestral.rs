//! Euler ancestral, as diffusers' `EulerAncestralDiscreteScheduler`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::euler::euler_coefficients;
use crate::scheduler::{check_step, linear, need_noise};
use crate::{EulerDiscrete, Result, Schedule, Scheduler, SchedulerConfig};

/// Euler with ancestral noise: from σ to σ', `σ_up = √(σ'²(σ² − σ'²)/σ²)`,
/// `σ_down = √(σ'² − σ_up²)`, `x' = x + (x − x̂₀)/σ·(σ_down − σ) + σ_up·z`. The schedule,
/// input scaling and `add_noise` are [`crate::EulerDiscrete`]'s; only the step differs.
#[derive(Debug, Clone)]
pub struct EulerAncestral {
    euler: EulerDiscrete,
}

impl EulerAncestral {
    /// An Euler-ancestral schedule of `steps` steps.
    ///
    /// # Errors
    /// As [`crate::EulerDiscrete::new`].
    pub fn new(config: SchedulerConfig, steps: usize) -> Result<Self> {
        Ok(Self {
            euler: EulerDiscrete::new(config, steps)?,
        })
    }
}

impl Schedule for EulerAncestral {
    fn timesteps(&self) -> &[f64] {
        self.euler.timesteps()
    }
    fn sigmas(&self) -> Option<&[f64]> {
        self.euler.sigmas()
    }
    fn init_noise_sigma(&self) -> f64 {
        self.euler.init_noise_sigma()
    }
    fn begin_index(&self) -> usize {
        self.euler.begin_index()
    }
    fn set_begin_index(&mut self, index: usize) -> Result<()> {
        self.euler.set_begin_index(index)
    }
    fn is_stochastic(&self) -> bool {
        true
    }
}

impl<B: Backend> Scheduler<B> for EulerAncestral {
    fn scale_model_input(&self, sample: Tensor<B, 4>, i: usize) -> Result<Tensor<B, 4>> {
        self.euler.scale_model_input(sample, i)
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
            self.euler.timesteps.len(),
            &model_output,
            &sample,
            "Euler ancestral step",
        )?;
        let (s, s_to) = (self.euler.sigmas[i], self.euler.sigmas[i + 1]);
        let s_up = (s_to * s_to * (s * s - s_to * s_to) / (s * s))
            .max(0.0)
            .sqrt();
        let s_down = (s_to * s_to - s_up * s_up).max(0.0).sqrt();
        let (a, c) = euler_coefficients(self.euler.config.prediction_type, s, s_down - s);
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
        self.euler.add_noise(original, noise, i)
    }
}
