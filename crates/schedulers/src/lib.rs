//! # ultrares-schedulers
//!
//! Diffusion schedulers step-for-step equal to [diffusers](https://github.com/huggingface/diffusers)
//! (tested against its goldens), with the schedule math on the host in f64 and only the step's
//! tensor arithmetic on the device (any Burn backend):
//!
//! - [`Ddim`] (`DDIMScheduler`: eta, `set_alpha_to_one`, `steps_offset`, ε / v / x₀ predictions),
//! - [`EulerDiscrete`] (`EulerDiscreteScheduler`, linear σ interpolation),
//! - [`FlowMatchEuler`] (`FlowMatchEulerDiscreteScheduler`: SD3 static shift, Flux dynamic
//!   shifting from the image token count).
//!
//! [`SchedulerConfig`] deserialises a diffusers `scheduler_config.json` and has presets
//! (`sd15`, `sdxl`, `sd3`, `flux_dev`). Every scheduler implements [`Scheduler`]; partial
//! denoising (LSRNA-DemoFusion runs the last 30 of 50 DDIM steps, from t = 581) starts at a
//! begin index after [`Scheduler::add_noise`].
//!
//! ```
//! use ultrares_schedulers::{Ddim, Scheduler, SchedulerConfig};
//!
//! let ddim = Ddim::new(SchedulerConfig::sdxl(), 50)?;
//! assert_eq!(ddim.timesteps()[0], 981.0);
//! assert_eq!(ddim.timesteps()[20], 581.0); // where LSRNA starts
//! # Ok::<(), ultrares_schedulers::Error>(())
//! ```
#![warn(missing_docs)]

mod config;
mod ddim;
mod error;
mod euler;
mod flow_match;
mod scheduler;

pub use config::{BetaSchedule, SchedulerConfig, TimestepSpacing};
pub use ddim::Ddim;
pub use error::{Error, Result};
pub use euler::EulerDiscrete;
pub use flow_match::{FlowMatchEuler, calculate_shift};
pub use scheduler::Scheduler;
pub use ultrares_core::PredictionType;
