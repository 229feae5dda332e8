//! `scheduler_config.json` as diffusers writes it, beta schedules, timestep spacings and presets.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ultrares_core::PredictionType;

use crate::{Error, Result};

/// How the training betas are laid out (diffusers' `beta_schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// `linspace(beta_start, beta_end, T)`.
    #[default]
    Linear,
    /// `linspace(√beta_start, √beta_end, T)²` (Stable Diffusion).
    ScaledLinear,
    /// Nichol & Dhariwal's cosine ᾱ: `β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999)` with
    /// `ᾱ(t) = cos²((t + 0.008)/1.008 · π/2)` — in floating point, not integer division.
    #[serde(rename = "squaredcos_cap_v2")]
    SquaredCosCapV2,
}

/// How inference timesteps are picked among the training steps (diffusers' `timestep_spacing`,
/// Table 2 of Lin et al. 2024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSpacing {
    /// `arange(0, n)·(T // n)`, reversed, plus `steps_offset`.
    Leading,
    /// `round(arange(T, 0, −T/n)) − 1`.
    Trailing,
    /// `round(linspace(0, T − 1, n))`, reversed.
    Linspace,
}

/// The fields of a diffusers `scheduler_config.json` that these schedulers use (others are
/// ignored). Defaults are diffusers'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Training steps `T`.
    pub num_train_timesteps: usize,
    /// First beta.
    pub beta_start: f64,
    /// Last beta.
    pub beta_end: f64,
    /// Beta layout.
    pub beta_schedule: BetaSchedule,
    /// What the model predicts (`epsilon`, `v_prediction`, `sample`, `flow_prediction`).
    #[serde(with = "prediction_serde")]
    pub prediction_type: PredictionType,
    /// Inference timestep spacing; `None` takes the scheduler's diffusers default
    /// (DDIM: leading, Euler: linspace).
    pub timestep_spacing: Option<TimestepSpacing>,
    /// Added to leading-spaced timesteps (1 for Stable Diffusion).
    pub steps_offset: usize,
    /// DDIM: use ᾱ = 1 for the step past t = 0 (else ᾱ₀).
    pub set_alpha_to_one: bool,
    /// DDPM/DDIM: clamp the predicted x₀ to `±clip_sample_range` (diffusers' default: on;
    /// Stable Diffusion's configs turn it off).
    pub clip_sample: bool,
    /// Bound of `clip_sample`.
    pub clip_sample_range: f64,
    /// DPM-Solver: Karras et al.'s ρ = 7 σ spacing instead of the timestep spacing.
    pub use_karras_sigmas: bool,
    /// Flow matching: static shift `σ' = sσ / (1 + (s − 1)σ)` (SD3: 3).
    pub shift: f64,
    /// Flow matching: resolution-dependent shift from the image sequence length (Flux).
    pub use_dynamic_shifting: bool,
    /// Flow matching: `mu` at `base_image_seq_len` tokens.
    pub base_shift: f64,
    /// Flow matching: `mu` at `max_image_seq_len` tokens.
    pub max_shift: f64,
    /// Flow matching: token count of `base_shift`.
    pub base_image_seq_len: usize,
    /// Flow matching: token count of `max_shift`.
    pub max_image_seq_len: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: BetaSchedule::Linear,
            prediction_type: PredictionType::Epsilon,
            timestep_spacing: None,
            steps_offset: 0,
            set_alpha_to_one: true,
            clip_sample: true,
            clip_sample_range: 1.0,
            use_karras_sigmas: false,
            shift: 1.0,
            use_dynamic_shifting: false,
            base_shift: 0.5,
            max_shift: 1.15,
            base_image_seq_len: 256,
            max_image_seq_len: 4096,
        }
    }
}

impl SchedulerConfig {
    /// Stable Diffusion 1.5 (`runwayml/stable-diffusion-v1-5` `scheduler/scheduler_config.json`):
    /// scaled-linear betas 0.00085–0.012, leading spacing, `steps_offset` 1,
    /// `set_alpha_to_one` false.
    pub fn sd15() -> Self {
        Self {
            beta_start: 0.00085,
            beta_end: 0.012,
            beta_schedule: BetaSchedule::ScaledLinear,
            timestep_spacing: Some(TimestepSpacing::Leading),
            steps_offset: 1,
            set_alpha_to_one: false,
            clip_sample: false,
            ..Self::default()
        }
    }

    /// SDXL base 1.0 (`stabilityai/stable-diffusion-xl-base-1.0` `scheduler_config.json`): the
    /// SD 1.5 betas, leading spacing, `steps_offset` 1 (shipped with EulerDiscreteScheduler;
    /// LSRNA and DemoFusion drive it with DDIM).
    pub fn sdxl() -> Self {
        Self::sd15()
    }

    /// SD3 medium (`FlowMatchEulerDiscreteScheduler`, shift 3.0).
    pub fn sd3() -> Self {
        Self {
            prediction_type: PredictionType::Flow,
            shift: 3.0,
            ..Self::default()
        }
    }

    /// FLUX.1-dev (`FlowMatchEulerDiscreteScheduler`, shift 3.0, dynamic shifting with base
    /// 0.5 / max 1.15 over 256…4096 tokens).
    pub fn flux_dev() -> Self {
        Self {
            use_dynamic_shifting: true,
            ..Self::sd3()
        }
    }

    /// A preset by name: `sd15`, `sdxl`, `sd3`, `flux-dev`.
    ///
    /// # Errors
    /// [`Error::Config`] for other names.
    pub fn preset(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "sd15" | "sd1.5" => Ok(Self::sd15()),
            "sdxl" => Ok(Self::sdxl()),
            "sd3" => Ok(Self::sd3()),
            "flux-dev" | "flux" => Ok(Self::flux_dev()),
            _ => Err(Error::Config(format!(
                "unknown preset {name:?} (sd15, sdxl, sd3, flux-dev)"
            ))),
        }
    }

    /// Parses a diffusers `scheduler_config.json` string. A `FlowMatchEulerDiscreteScheduler`
    /// config (which has no `prediction_type` key upstream) predicts the flow.
    ///
    /// # Errors
    /// [`Error::Json`] on malformed JSON or unknown enum values.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Json(e.to_string()))?;
        let flow = value.get("_class_name").and_then(|c| c.as_str())
            == Some("FlowMatchEulerDiscreteScheduler")
            && value.get("prediction_type").is_none();
        let mut config: Self =
            serde_json::from_value(value).map_err(|e| Error::Json(e.to_string()))?;
        if flow {
            config.prediction_type = PredictionType::Flow;
        }
        Ok(config)
    }

    /// Reads a diffusers `scheduler_config.json` file.
    ///
    /// # Errors
    /// [`Error::Json`] if the file cannot be read or parsed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path)
            .map_err(|e| Error::Json(format!("{}: {e}", path.display())))?;
        Self::from_json(&s)
    }

    /// `ᾱ_t` for `t = 0..T`, in f64.
    ///
    /// # Errors
    /// [`Error::Config`] for `T = 0` or betas outside (0, 1).
    pub fn alphas_cumprod(&self) -> Result<Vec<f64>> {
        let t = self.num_train_timesteps;
        if t == 0 || t > 1_000_000 {
            return Err(Error::Config(format!("num_train_timesteps = {t}")));
        }
        let lin = |a: f64, b: f64, i: usize| {
            if t == 1 {
                a
            } else {
                a + (b - a) * i as f64 / (t - 1) as f64
            }
        };
        let betas: Vec<f64> = match self.beta_schedule {
            BetaSchedule::Linear => (0..t)
                .map(|i| lin(self.beta_start, self.beta_end, i))
                .collect(),
            BetaSchedule::ScaledLinear => (0..t)
                .map(|i| lin(self.beta_start.sqrt(), self.beta_end.sqrt(), i).powi(2))
                .collect(),
            BetaSchedule::SquaredCosCapV2 => {
                let ab = |x: f64| {
                    ((x + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..t)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / t as f64, (i + 1) as f64 / t as f64);
                        (1.0 - ab(t2) / ab(t1)).min(0.999)
                    })
                    .collect()
            }
        };
        if let Some(b) = betas.iter().find(|b| !(**b > 0.0 && **b < 1.0)) {
            return Err(Error::Config(format!("beta {b} is outside (0, 1)")));
        }
        let mut acc = 1.0;
        Ok(betas
            .iter()
            .map(|b| {
                acc *= 1.0 - b;
                acc
            })
            .collect())
    }

    /// `σ_t = √((1 − ᾱ_t)/ᾱ_t)` for every training step.
    pub(crate) fn train_sigmas(&self) -> Result<Vec<f64>> {
        Ok(self
            .alphas_cumprod()?
            .iter()
            .map(|a| ((1.0 - a) / a).sqrt())
            .collect())
    }

    /// Checks `n` inference steps against the training steps.
    pub(crate) fn check_steps(&self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::Config("num_inference_steps must be ≥ 1".into()));
        }
        if n > self.num_train_timesteps {
            return Err(Error::Config(format!(
                "{n} inference steps exceed the {} training steps",
                self.num_train_timesteps
            )));
        }
        Ok(())
    }

    /// Checks that every timestep is a training step (a large `steps_offset` can push past T).
    pub(crate) fn check_timesteps(&self, timesteps: &[f64]) -> Result<()> {
        let t_max = self.num_train_timesteps as f64;
        if let Some(t) = timesteps.iter().find(|&&t| !(0.0..t_max).contains(&t)) {
            return Err(Error::Config(format!(
                "timestep {t} is outside the {} training steps (steps_offset too large?)",
                self.num_train_timesteps
            )));
        }
        Ok(())
    }

    /// Integer timesteps (descending) for `n` steps with `spacing` (DDIM's `set_timesteps`).
    pub(crate) fn discrete_timesteps(&self, n: usize, spacing: TimestepSpacing) -> Vec<f64> {
        let t = self.num_train_timesteps;
        match spacing {
            TimestepSpacing::Linspace => (0..n)
                .rev()
                .map(|i| (linspace(0.0, (t - 1) as f64, n, i)).round_ties_even())
                .collect(),
            TimestepSpacing::Leading => {
                let ratio = t / n;
                (0..n)
                    .rev()
                    .map(|i| (i * ratio + self.steps_offset) as f64)
                    .collect()
            }
            TimestepSpacing::Trailing => {
                let ratio = t as f64 / n as f64;
                (0..n)
                    .map(|i| (t as f64 - i as f64 * ratio).round_ties_even() - 1.0)
                    .collect()
            }
        }
    }
}

/// `numpy.linspace(a, b, n)[i]`.
pub(crate) fn linspace(a: f64, b: f64, n: usize, i: usize) -> f64 {
    if n == 1 {
        return a;
    }
    let step = (b - a) / (n - 1) as f64;
    if i == n - 1 { b } else { a + i as f64 * step }
}

mod prediction_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use ultrares_core::PredictionType;

    pub fn serialize<S: Serializer>(p: &PredictionType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.as_diffusers_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PredictionType, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "epsilon" => PredictionType::Epsilon,
            "v_prediction" => PredictionType::VPrediction,
            "sample" => PredictionType::Sample,
            "flow_prediction" | "flow" => PredictionType::Flow,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown prediction_type {other:?}"
                )));
            }
        })
    }
}
