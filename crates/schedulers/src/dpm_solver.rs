//! DPM-Solver++(2M) (Lu et al. 2022), as diffusers' `DPMSolverMultistepScheduler` with
//! `algorithm_type="dpmsolver++"`, `solver_order=2`, `solver_type="midpoint"`,
//! `final_sigmas_type="zero"` (the last step is first order), optional Karras σ.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ultrares_core::PredictionType;

use crate::config::linspace;
use crate::euler::interp;
use crate::scheduler::{check_index, check_same, check_step, linear};
use crate::{Error, Result, Schedule, Scheduler, SchedulerConfig, TimestepSpacing};

/// The multistep solver. It remembers the previous step's x̂₀, so steps must run in order (a
/// step whose predecessor did not run is taken at first order, as after `set_begin_index`).
#[derive(Debug, Clone)]
pub struct DpmSolverMultistep<B: Backend> {
    config: SchedulerConfig,
    timesteps: Vec<f64>,
    sigmas: Vec<f64>,
    begin: usize,
    previous: Option<(usize, Tensor<B, 4>)>,
}

impl<B: Backend> DpmSolverMultistep<B> {
    /// A DPM-Solver++(2M) schedule of `steps` steps (default spacing: linspace; Karras σ when
    /// `config.use_karras_sigmas`).
    ///
    /// # Errors
    /// [`Error::Config`] for 0 steps, more steps than training steps, invalid betas, or a flow
    /// prediction type.
    pub fn new(config: SchedulerConfig, steps: usize) -> Result<Self> {
        config.check_steps(steps)?;
        if config.prediction_type == PredictionType::Flow {
            return Err(Error::Config(
                "DPM-Solver (VP) does not take flow predictions".into(),
            ));
        }
        let train = config.train_sigmas()?;
        let t = config.num_train_timesteps;
        let mut timesteps: Vec<f64> =
            match config.timestep_spacing.unwrap_or(TimestepSpacing::Linspace) {
                // linspace(0, T − 1, n + 1).round()[::-1][:-1]
                TimestepSpacing::Linspace => (1..=steps)
                    .rev()
                    .map(|i| (linspace(0.0, (t - 1) as f64, steps + 1, i)).round_ties_even())
                    .collect(),
                // (arange(0, n + 1)·(T // (n + 1))).round()[::-1][:-1] + steps_offset
                TimestepSpacing::Leading => {
                    let ratio = t / (steps + 1);
                    (1..=steps)
                        .rev()
                        .map(|i| (i * ratio + config.steps_offset) as f64)
                        .collect()
                }
                TimestepSpacing::Trailing => {
                    config.discrete_timesteps(steps, TimestepSpacing::Trailing)
                }
            };
        config.check_timesteps(&timesteps)?;
        let mut sigmas: Vec<f64> = if config.use_karras_sigmas {
            let (lo, hi) = (train[0], train[t - 1]);
            let rho = 7.0;
            let s: Vec<f64> = (0..steps)
                .map(|i| {
                    let r = linspace(0.0, 1.0, steps, i);
                    (hi.powf(1.0 / rho) + r * (lo.powf(1.0 / rho) - hi.powf(1.0 / rho))).powf(rho)
                })
                .collect();
            let logs: Vec<f64> = train.iter().map(|v| v.ln()).collect();
            timesteps = s
                .iter()
                .map(|&v| (sigma_to_t(v, &logs)).round_ties_even())
                .collect();
            s
        } else {
            timesteps.iter().map(|&ts| interp(&train, ts)).collect()
        };
        sigmas.push(0.0);
        Ok(Self {
            config,
            timesteps,
            sigmas,
            begin: 0,
            previous: None,
        })
    }

    /// x̂₀ from the model output at σ (diffusers' `convert_model_output` for dpmsolver++).
    fn x0(&self, m: Tensor<B, 4>, x: Tensor<B, 4>, s: f64) -> Tensor<B, 4> {
        let (alpha, sig) = alpha_sigma(s);
        match self.config.prediction_type {
            PredictionType::Sample => m,
            PredictionType::VPrediction => linear(x, alpha, m, -sig),
            _ => linear(x, 1.0 / alpha, m, -sig / alpha),
        }
    }
}

/// `(α_t, σ_t)` of the VP process from Euler's σ: `(1/√(σ²+1), σ/√(σ²+1))`.
fn alpha_sigma(s: f64) -> (f64, f64) {
    let n = (s * s + 1.0).sqrt();
    (1.0 / n, s / n)
}

/// λ = log α − log σ (−∞… +∞ at σ = 0).
fn lambda(s: f64) -> f64 {
    let (a, sg) = alpha_sigma(s);
    a.ln() - sg.ln()
}

/// diffusers' `_sigma_to_t`: piecewise-linear inverse of log σ over the training steps.
fn sigma_to_t(sigma: f64, log_sigmas: &[f64]) -> f64 {
    let ls = sigma.max(1e-10).ln();
    let count = log_sigmas.iter().filter(|&&l| ls - l >= 0.0).count();
    let low = count.saturating_sub(1).min(log_sigmas.len() - 2);
    let (l0, l1) = (log_sigmas[low], log_sigmas[low + 1]);
    let w = ((l0 - ls) / (l0 - l1)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * (low + 1) as f64
}

impl<B: Backend> Schedule for DpmSolverMultistep<B> {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }
    fn sigmas(&self) -> Option<&[f64]> {
        Some(&self.sigmas)
    }
    fn begin_index(&self) -> usize {
        self.begin
    }
    fn set_begin_index(&mut self, index: usize) -> Result<()> {
        check_index(index, self.timesteps.len())?;
        self.begin = index;
        self.previous = None;
        Ok(())
    }
    fn is_multistep(&self) -> bool {
        true
    }
}

impl<B: Backend> Scheduler<B> for DpmSolverMultistep<B> {
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
            "DPM-Solver step",
        )?;
        let (s0, st) = (self.sigmas[i], self.sigmas[i + 1]);
        let x0 = self.x0(model_output, sample.clone(), s0);
        let (alpha_t, sigma_t) = alpha_sigma(st);
        let (_, sigma_s0) = alpha_sigma(s0);
        let h = lambda(st) - lambda(s0);
        let em1 = (-h).exp() - 1.0; // → −1 at the final σ = 0
        let last = i + 1 == self.timesteps.len();
        let out = match self.previous.take() {
            Some((j, x0_prev)) if j + 1 == i && !last => {
                // Second order, midpoint: D0 = x̂₀, D1 = (x̂₀ − x̂₀_prev)/r0.
                let r0 = (lambda(s0) - lambda(self.sigmas[i - 1])) / h;
                let d1 = (x0.clone() - x0_prev).div_scalar(r0);
                linear(sample, sigma_t / sigma_s0, x0.clone(), -alpha_t * em1)
                    - d1.mul_scalar(0.5 * alpha_t * em1)
            }
            _ => linear(sample, sigma_t / sigma_s0, x0.clone(), -alpha_t * em1),
        };
        self.previous = Some((i, x0));
        Ok(out)
    }

    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps.len())?;
        check_same(&original, &noise, "add_noise")?;
        let (a, s) = alpha_sigma(self.sigmas[i]);
        Ok(linear(original, a, noise, s))
    }
}
