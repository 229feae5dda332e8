//! The interfaces the pipelines drive.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::{Error, Result};

/// The host-side schedule of a sampler after diffusers' `set_timesteps`: timesteps, σ, initial
/// noise scale and where sampling starts. Steps are addressed by index `i` into
/// [`Schedule::timesteps`]; partial denoising (LSRNA's last 30 of 50 steps) starts at a begin
/// index.
pub trait Schedule {
    /// Timesteps passed to the model, one per step (descending; training-step units, or σ·T for
    /// flow matching).
    fn timesteps(&self) -> &[f64];

    /// σ per step plus a final 0, for σ-parameterised schedulers (Euler, DPM-Solver, flow).
    fn sigmas(&self) -> Option<&[f64]> {
        None
    }

    /// Standard deviation of the initial noise (`latent = noise · init_noise_sigma`).
    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    /// The first step index the sampling loop runs (0 unless set).
    fn begin_index(&self) -> usize;

    /// Starts sampling at step `index` (e.g. 20 of 50 for LSRNA-DemoFusion).
    ///
    /// # Errors
    /// [`Error::Index`] if `index` is not a step of the schedule.
    fn set_begin_index(&mut self, index: usize) -> Result<()>;

    /// Whether [`Scheduler::step`] draws noise (then it must be given `noise`).
    fn is_stochastic(&self) -> bool {
        false
    }

    /// Whether [`Scheduler::step`] keeps a history of earlier model outputs (multistep solvers
    /// such as DPM-Solver++). Such a scheduler cannot step many views of one latent at the same
    /// step index, as DemoFusion's MultiDiffusion does; single-step schedulers (DDIM, Euler, DDPM)
    /// are functions of `(model_output, i, sample)` only.
    fn is_multistep(&self) -> bool {
        false
    }
}

/// The tensor side of a sampler (diffusers' `scale_model_input`, `step`, `add_noise`).
/// Multistep solvers keep their history, so `step` takes `&mut self`; call the steps in order.
pub trait Scheduler<B: Backend>: Schedule {
    /// Scales the model input at step `i` (`sample / √(σ² + 1)` for σ-parameterised
    /// schedulers; identity otherwise).
    ///
    /// # Errors
    /// [`Error::Index`] if `i` is out of range.
    fn scale_model_input(&self, sample: Tensor<B, 4>, i: usize) -> Result<Tensor<B, 4>> {
        check_index(i, self.timesteps().len())?;
        Ok(sample)
    }

    /// One step from step `i` to `i + 1`: the previous (less noisy) sample. Stochastic steps
    /// use `noise` (standard normal, the sample's shape), so runs are reproducible.
    ///
    /// # Errors
    /// [`Error::Index`] if `i` is out of range, [`Error::Input`] on shape mismatches or a
    /// missing `noise` for a stochastic step.
    fn step(
        &mut self,
        model_output: Tensor<B, 4>,
        i: usize,
        sample: Tensor<B, 4>,
        noise: Option<Tensor<B, 4>>,
    ) -> Result<Tensor<B, 4>>;

    /// Noises a clean sample to the noise level of step `i` (how partial denoising starts).
    ///
    /// # Errors
    /// [`Error::Index`] if `i` is out of range, [`Error::Input`] on shape mismatches.
    fn add_noise(
        &self,
        original: Tensor<B, 4>,
        noise: Tensor<B, 4>,
        i: usize,
    ) -> Result<Tensor<B, 4>>;
}

pub(crate) fn check_index(i: usize, n: usize) -> Result<()> {
    if i >= n {
        return Err(Error::Index(format!("step {i} of a {n}-step schedule")));
    }
    Ok(())
}

pub(crate) fn check_same<B: Backend>(a: &Tensor<B, 4>, b: &Tensor<B, 4>, what: &str) -> Result<()> {
    if a.dims() != b.dims() {
        return Err(Error::Input(format!(
            "{what}: shapes {:?} and {:?} differ",
            a.dims(),
            b.dims()
        )));
    }
    Ok(())
}

/// The checks every `step` starts with: the index and matching shapes.
pub(crate) fn check_step<B: Backend>(
    i: usize,
    n: usize,
    model_output: &Tensor<B, 4>,
    sample: &Tensor<B, 4>,
    what: &str,
) -> Result<()> {
    check_index(i, n)?;
    check_same(model_output, sample, what)
}

/// The noise of a stochastic step, checked.
pub(crate) fn need_noise<B: Backend>(
    noise: Option<Tensor<B, 4>>,
    like: &Tensor<B, 4>,
    what: &str,
) -> Result<Tensor<B, 4>> {
    let z = noise.ok_or_else(|| Error::Input(format!("{what} needs noise")))?;
    check_same(&z, like, what)?;
    Ok(z)
}

/// The VP forward process at ᾱ: `√ᾱ·x₀ + √(1−ᾱ)·ε` (diffusers' `add_noise`), checked shapes.
pub(crate) fn vp_noise<B: Backend>(
    original: Tensor<B, 4>,
    noise: Tensor<B, 4>,
    abar: f64,
) -> Result<Tensor<B, 4>> {
    check_same(&original, &noise, "add_noise")?;
    Ok(linear(original, abar.sqrt(), noise, (1.0 - abar).sqrt()))
}

/// `a·x + c·m`: every deterministic step is this linear combination of the sample and the model
/// output, with coefficients computed on the host in f64.
pub(crate) fn linear<B: Backend>(x: Tensor<B, 4>, a: f64, m: Tensor<B, 4>, c: f64) -> Tensor<B, 4> {
    if a == 1.0 {
        x + m.mul_scalar(c)
    } else {
        x.mul_scalar(a) + m.mul_scalar(c)
    }
}

/// Implements [`Schedule`] for a type with `timesteps`, `begin` fields (and optionally
/// `sigmas`, `init_sigma`).
macro_rules! impl_schedule {
    ($ty:ty $(, sigmas = $sig:ident)? $(, init = $init:ident)? $(, stochastic = $sto:expr)?) => {
        impl $crate::Schedule for $ty {
            fn timesteps(&self) -> &[f64] {
                &self.timesteps
            }
            $(fn sigmas(&self) -> Option<&[f64]> {
                Some(&self.$sig)
            })?
            $(fn init_noise_sigma(&self) -> f64 {
                self.$init
            })?
            fn begin_index(&self) -> usize {
                self.begin
            }
            fn set_begin_index(&mut self, index: usize) -> $crate::Result<()> {
                $crate::scheduler::check_index(index, self.timesteps.len())?;
                self.begin = index;
                Ok(())
            }
            $(fn is_stochastic(&self) -> bool {
                $sto(self)
            })?
        }
    };
}
pub(crate) use impl_schedule;
