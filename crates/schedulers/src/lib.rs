//! # ultrares-schedulers
//!
//! Diffusion schedulers step-for-step equal to [diffusers](https://github.com/huggingface/diffusers)
//! (tested against its goldens), with the schedule math on the host in f64 and only the step's
//! tensor arithmetic on the device (any Burn backend):
//!
//! - [`Ddpm`] (`DDPMScheduler`, fixed-small variance),
//! - [`Ddim`] (`DDIMScheduler`: eta, `set_alpha_to_one`, `steps_offset`, `clip_sample`, ε / v /
//!   x₀ predictions),
//! - [`EulerDiscrete`] and [`EulerAncestral`] (linear σ interpolation),
//! - [`DpmSolverMultistep`] (DPM-Solver++(2M), optional Karras σ),
//! - [`FlowMatchEuler`] (`FlowMatchEulerDiscreteScheduler`: SD3 static shift, Flux dynamic
//!   shifting from the image token count),
//! - [`DdganPosterior`] (WaveDiff's 2–4 step DDGAN posterior sampler).
//!
//! [`SchedulerConfig`] deserialises a diffusers `scheduler_config.json` and has presets
//! (`sd15`, `sdxl`, `sd3`, `flux_dev`). Every scheduler implements [`Schedule`] (host side) and
//! [`Scheduler`] (tensor side); stochastic steps take their noise as an argument. Partial
//! denoising (LSRNA-DemoFusion runs the last 30 of 50 DDIM steps, from t = 581) starts at a
//! begin index after [`Scheduler::add_noise`].
//!
//! ```
//! use ultrares_schedulers::{Ddim, Schedule, SchedulerConfig};
//!
//! let ddim = Ddim::new(SchedulerConfig::sdxl(), 50)?;
//! assert_eq!(ddim.timesteps()[0], 981.0);
//! assert_eq!(ddim.timesteps()[20], 581.0); // where LSRNA starts
//! # Ok::<(), ultrares_schedulers::Error>(())
//! ```
#![warn(missing_docs)]

mod config;
mod ddgan;
mod ddim;
mod ddpm;
mod dpm_solver;
mod error;
mod euler;
mod euler_ancestral;
mod flow_match;
mod scheduler;

pub use config::{BetaSchedule, SchedulerConfig, TimestepSpacing};
pub use ddgan::DdganPosterior;
pub use ddim::Ddim;
pub use ddpm::Ddpm;
pub use dpm_solver::DpmSolverMultistep;
pub use error::{Error, Result};
pub use euler::EulerDiscrete;
pub use euler_ancestral::EulerAncestral;
pub use flow_match::{FlowMatchEuler, calculate_shift};
pub use scheduler::{Schedule, Scheduler};
pub use ultrares_core::PredictionType;
