//! [`HighResPipeline`]: reference-based high-resolution generation over any [`Denoiser`],
//! [`LatentCodec`], [`LatentUpsampler`] and [`Scheduler`].

use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::image::{ValueRange, rgb8_to_tensor, tensor_to_rgb8};
use ultrares_core::resize::{PilFilter, resize_pil};
use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use crate::blur::{gaussian_filter, mean_std, restandardize};
use crate::views::{View, get_views};
use crate::{
    BicubicUpsampler, DecodeMode, Draw, Error, HighResConfig, Randomness, Result, SizeCond,
    Strategy, ViewConditioning,
};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Generating the reference at the native size (or the whole image for [`Strategy::Direct`]).
    Reference,
    /// Decoding the reference latent.
    DecodeReference,
    /// Upsampling the reference latent (LSR, or DemoFusion's bicubic) and adding RNA.
    Upsample,
    /// Denoising at scale `phase` (LSRNA: one phase at `s`; DemoFusion: `2..=s`).
    HighRes {
        /// The scale of this phase.
        phase: usize,
    },
    /// Decoding the final latent.
    Decode,
}

/// A progress report: `step` of `total` done in `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Steps done in this stage.
    pub step: usize,
    /// Steps in this stage.
    pub total: usize,
}

/// A latent a run produces on its way (for inspection, previews and the golden tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intermediate {
    /// After denoising step index `i` of the reference.
    ReferenceStep(usize),
    /// The upsampled reference (before RNA).
    Upsampled,
    /// The upsampled reference after RNA: the target every skip residual pulls towards.
    Guide,
    /// After step index `i` of the phase at scale `phase`, before re-standardisation.
    HighResStep {
        /// The scale of the phase.
        phase: usize,
        /// The step index in the schedule.
        i: usize,
    },
    /// The final latent, re-standardised, as decoded.
    Final,
    /// Pixelsmith: the `k`-th patch (counted over the run) as it enters the denoiser, after
    /// phase mixing and the replacement of lagging latents.
    PixelsmithPatch(usize),
    /// Pixelsmith: the `k`-th patch right after its scheduler step (before the checkerboard
    /// replacement and the write-back).
    PixelsmithStep(usize),
}

/// Receives progress and intermediates; returning [`ControlFlow::Break`] from
/// [`Observer::on_progress`] cancels the run ([`Error::Cancelled`]). `()` ignores everything.
pub trait Observer<B: Backend> {
    /// Called after every step of every stage.
    fn on_progress(&mut self, _progress: Progress) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Called with every intermediate latent.
    fn on_latent(&mut self, _what: Intermediate, _latent: &Tensor<B, 4>) {}
}

impl<B: Backend> Observer<B> for () {}

/// A progress callback as an [`Observer`].
pub struct ProgressFn<F>(pub F);

impl<B: Backend, F: FnMut(Progress) -> ControlFlow<()>> Observer<B> for ProgressFn<F> {
    fn on_progress(&mut self, progress: Progress) -> ControlFlow<()> {
        (self.0)(progress)
    }
}

/// Wall time of one stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTiming {
    /// The stage.
    pub stage: Stage,
    /// Its wall time (device work included: the stage ends with a host read-back).
    pub elapsed: Duration,
}

/// What a run returns.
#[derive(Debug, Clone)]
pub struct HighResOutput<B: Backend> {
    /// The reference latent (`None` for [`Strategy::Direct`]).
    pub reference_latent: Option<Tensor<B, 4>>,
    /// The decoded reference in `[−1, 1]` (`None` for [`Strategy::Direct`]).
    pub reference_image: Option<Tensor<B, 4>>,
    /// The final model-space latent `[1, C, H/f, W/f]`.
    pub latent: Tensor<B, 4>,
    /// The decoded target `[1, 3, H, W]` in roughly `[−1, 1]`.
    pub image: Tensor<B, 4>,
    /// Per-stage wall times, in order.
    pub timings: Vec<StageTiming>,
    /// Denoiser calls (one per view batch and step; classifier-free guidance inside the
    /// denoiser doubles the network evaluations, not this count).
    pub denoiser_calls: usize,
    /// Latents evaluated (views and sub-latents summed over calls).
    pub denoiser_evaluations: usize,
}

/// Reference-based high-resolution generation (DemoFusion, LSRNA-DemoFusion, direct).
///
/// Holds borrowed models and an owned scheduler (e.g. [`ultrares_schedulers::Ddim`] with the
/// SDXL config and 50 steps, as both upstream pipelines). View-based strategies step many views at
/// the same index, so they need a single-step scheduler ([`ultrares_schedulers::Schedule::is_multistep`]
/// false).
///
/// Memory: at most `view_batch_size` views (window² latents each) go through the denoiser at
/// once; the pipeline itself keeps a handful of full-size latents (current, guide, its noise,
/// accumulators — about 8 × C × H/f × W/f floats) and decodes through the codec's
/// [`DecodeMode`].
pub struct HighResPipeline<'a, B: Backend, D, C, U, S> {
    /// The noise-prediction network (with [`crate::Guided`] for classifier-free guidance).
    pub denoiser: &'a D,
    /// The VAE.
    pub codec: &'a C,
    /// LSRNA's latent upsampler (LSR); DemoFusion always uses [`BicubicUpsampler`].
    pub upsampler: &'a U,
    /// The scheduler.
    pub scheduler: S,
    _backend: PhantomData<B>,
}

pub(crate) struct Run<'r, B: Backend> {
    pub(crate) rng: &'r mut dyn Randomness,
    pub(crate) observer: &'r mut dyn Observer<B>,
    pub(crate) calls: usize,
    pub(crate) evaluations: usize,
    pub(crate) timings: Vec<StageTiming>,
    pub(crate) patches: usize,
}

impl<B: Backend> Run<'_, B> {
    pub(crate) fn progress(&mut self, stage: Stage, step: usize, total: usize) -> Result<()> {
        match self.observer.on_progress(Progress { stage, step, total }) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => {
                Err(Error::Cancelled(format!("{stage:?}, step {step}/{total}")))
            }
        }
    }

    pub(crate) fn noise(
        &mut self,
        draw: Draw,
        shape: [usize; 4],
        device: &B::Device,
    ) -> Result<Tensor<B, 4>> {
        let v = self.rng.gaussian(draw, shape.iter().product())?;
        Ok(Tensor::from_data(TensorData::new(v, shape), device))
    }

    pub(crate) fn timed<T>(&mut self, stage: Stage, start: Instant, value: T) -> T {
        self.timings.push(StageTiming {
            stage,
            elapsed: start.elapsed(),
        });
        value
    }
}

/// The training timesteps `T` of the cosine factor (`num_train_timesteps` of every Stable
/// Diffusion scheduler config).
pub const TRAIN_STEPS: f64 = 1000.0;

/// DemoFusion's cosine factor `½(1 + cos(π(T − t)/T))`, in f32 as PyTorch computes it.
pub fn cosine_factor(t: f64, train_steps: f64) -> f32 {
    let x = std::f32::consts::PI * (train_steps - t) as f32 / train_steps as f32;
    0.5 * (1.0 + x.cos())
}

fn pow(x: f32, e: f64) -> f32 {
    if e.fract() == 0.0 && e.abs() < 64.0 {
        x.powi(e as i32)
    } else {
        x.powf(e as f32)
    }
}

/// Zero padding: `top/left` before and `bottom/right` after.
fn pad<B: Backend>(
    x: Tensor<B, 4>,
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
) -> Tensor<B, 4> {
    if top + bottom + left + right == 0 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    Tensor::zeros([n, c, h + top + bottom, w + left + right], &x.device())
        .slice_assign([0..n, 0..c, top..top + h, left..left + w], x)
}

impl<'a, B, D, C, U, S> HighResPipeline<'a, B, D, C, U, S>
where
    B: Backend,
    D: Denoiser<B>,
    D::Cond: ViewConditioning,
    C: LatentCodec<B>,
    U: LatentUpsampler<B>,
    S: Scheduler<B>,
{
    /// A pipeline over these models.
    pub fn new(denoiser: &'a D, codec: &'a C, upsampler: &'a U, scheduler: S) -> Self {
        Self {
            denoiser,
            codec,
            upsampler,
            scheduler,
            _backend: PhantomData,
        }
    }

    /// Generates one image of `config`'s size with conditioning `cond` (the prompt's; the
    /// pipeline adds SDXL micro-conditioning per view through [`ViewConditioning`]), drawing
    /// every random number from `rng` and reporting to `observer`.
    ///
    /// # Errors
    /// Invalid configuration (target size not a multiple of the latent factor, smaller than
    /// twice the native size for the reference-based strategies, zero steps, an inversion depth
    /// beyond the schedule, a multistep scheduler with views), cancellation, and any error of
    /// the models.
    pub fn generate(
        &mut self,
        config: &HighResConfig,
        cond: &D::Cond,
        device: &B::Device,
        rng: &mut dyn Randomness,
        observer: &mut dyn Observer<B>,
    ) -> Result<HighResOutput<B>> {
        let f = self.codec.downscale_factor();
        let steps = self.scheduler.timesteps().len();
        let s = config.validate(f, steps)?;
        let views = matches!(
            config.strategy,
            Strategy::DemoFusion | Strategy::LsrnaDemoFusion
        );
        if views && self.scheduler.is_multistep() {
            return Err(Error::argument(
                "scheduler",
                "a single-step scheduler (DDIM, Euler, DDPM): views are stepped many times per step index",
                "a multistep scheduler",
            ));
        }
        let channels = self.denoiser.latent_channels();
        if channels != self.codec.latent_channels() {
            return Err(Error::argument(
                "denoiser, codec",
                format!("the same latent channels (denoiser {channels})"),
                self.codec.latent_channels(),
            ));
        }
        let mut run = Run {
            rng,
            observer,
            calls: 0,
            evaluations: 0,
            timings: Vec::new(),
            patches: 0,
        };
        let (h, w) = (config.height, config.width);
        // Reference size and micro-conditioning (lsrna.md §4.1 step 0–1, §4.2).
        let (ref_px, ref_cond) = match config.strategy {
            Strategy::Direct => ([h, w], SizeCond::uncropped([h, w])),
            Strategy::DemoFusion => ([h / s, w / s], SizeCond::uncropped([h, w])),
            // LSRNA and Pixelsmith condition the reference on its own size.
            _ => ([h / s, w / s], SizeCond::uncropped([h / s, w / s])),
        };
        let start = Instant::now();
        let shape = [1, channels, ref_px[0] / f, ref_px[1] / f];
        let init = run
            .noise(Draw::Initial, shape, device)?
            .mul_scalar(self.scheduler.init_noise_sigma());
        let reference = self.denoise_full(init, cond, ref_cond, &mut run)?;
        let (anchor_mean, anchor_std) = mean_std(&reference);
        run.timed(Stage::Reference, start, ());
        if config.strategy == Strategy::Direct {
            let latent = reference;
            run.observer.on_latent(Intermediate::Final, &latent);
            let image = self.decode(latent.clone(), config.decode, &mut run)?;
            return Ok(HighResOutput {
                reference_latent: None,
                reference_image: None,
                latent,
                image,
                timings: run.timings,
                denoiser_calls: run.calls,
                denoiser_evaluations: run.evaluations,
            });
        }
        let start = Instant::now();
        let reference_image = self
            .codec
            .decode(reference.clone())
            .map_err(|e| Error::Codec(Box::new(e)))?;
        run.timed(Stage::DecodeReference, start, ());
        run.progress(Stage::DecodeReference, 1, 1)?;

        let restd = |z: Tensor<B, 4>| {
            if config.restandardize {
                restandardize(z, anchor_mean, anchor_std)
            } else {
                z
            }
        };
        let latent = match config.strategy {
            Strategy::LsrnaDemoFusion | Strategy::LsrnaPixelsmith => {
                let start = Instant::now();
                let size = [h / s / f * s, w / s / f * s];
                let up = self
                    .upsampler
                    .upsample(reference.clone(), size)
                    .map_err(|e| Error::Upsampler(Box::new(e)))?;
                run.observer.on_latent(Intermediate::Upsampled, &up);
                let guide = match &config.rna {
                    Some(rna) => {
                        let rgb = tensor_to_rgb8(reference_image.clone(), ValueRange::MinusOneOne)?;
                        let eps = run.noise(Draw::RegionNoise, up.dims(), device)?;
                        rna.apply_with_noise(up, &rgb[0], eps)?
                    }
                    None => up,
                };
                run.observer.on_latent(Intermediate::Guide, &guide);
                run.timed(Stage::Upsample, start, ());
                run.progress(Stage::Upsample, 1, 1)?;
                let begin = steps - config.inversion_depth;
                let z = if config.strategy == Strategy::LsrnaPixelsmith {
                    self.pixelsmith_phase(
                        config,
                        guide,
                        s,
                        begin,
                        config.sliders[0],
                        cond,
                        &mut run,
                    )?
                } else {
                    let micro = SizeCond::uncropped([h / s * s, w / s * s]);
                    self.high_res_phase(config, guide, s, begin, cond, micro, &mut run)?
                };
                restd(z)
            }
            Strategy::Pixelsmith => {
                let phases = config.phases(s);
                let mut image = reference_image.clone();
                let mut z = reference.clone();
                for (n, &k) in phases.iter().enumerate() {
                    let start = Instant::now();
                    let [ph, pw] = config.phase_size(k, s, f);
                    // The previous image, PIL Lanczos in RGB to the phase size, encoded.
                    let rgb = tensor_to_rgb8(image, ValueRange::MinusOneOne)?;
                    let resized = resize_pil(&rgb[0], pw as u32, ph as u32, PilFilter::Lanczos)?;
                    let x = rgb8_to_tensor::<B>(&resized, ValueRange::MinusOneOne, device);
                    let guide = self
                        .codec
                        .encode_tiled(x, &config.encode_tiling)
                        .map_err(|e| Error::Codec(Box::new(e)))?;
                    run.observer.on_latent(Intermediate::Guide, &guide);
                    run.timed(Stage::Upsample, start, ());
                    let slider = config.sliders[n.min(config.sliders.len() - 1)];
                    z = restd(self.pixelsmith_phase(config, guide, k, 0, slider, cond, &mut run)?);
                    image = if n + 1 < phases.len() {
                        self.decode(z.clone(), config.decode, &mut run)?
                    } else {
                        Tensor::zeros([1, 3, 1, 1], device)
                    };
                }
                z
            }
            _ => {
                // DemoFusion: phases 2..=s at 1024·k on the long side, the short side × aspect.
                let aspect = h.min(w) as f64 / h.max(w) as f64;
                let mut z = reference.clone();
                for k in 2..=s {
                    let start = Instant::now();
                    let long = config.native_size * k;
                    let short = (long as f64 * aspect) as usize;
                    let (ph, pw) = if h > w { (long, short) } else { (short, long) };
                    let up = BicubicUpsampler.resize(z, [ph / f, pw / f])?;
                    run.observer.on_latent(Intermediate::Guide, &up);
                    run.timed(Stage::Upsample, start, ());
                    let micro = SizeCond::uncropped([h, w]);
                    z = restd(self.high_res_phase(config, up, k, 0, cond, micro, &mut run)?);
                }
                z
            }
        };
        run.observer.on_latent(Intermediate::Final, &latent);
        let image = self.decode(latent.clone(), config.decode, &mut run)?;
        Ok(HighResOutput {
            reference_latent: Some(reference),
            reference_image: Some(reference_image),
            latent,
            image,
            timings: run.timings,
            denoiser_calls: run.calls,
            denoiser_evaluations: run.evaluations,
        })
    }

    fn decode(
        &self,
        latent: Tensor<B, 4>,
        mode: DecodeMode,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let start = Instant::now();
        let image = match mode {
            DecodeMode::Full => self.codec.decode(latent),
            DecodeMode::Tiled(t) => self.codec.decode_tiled(latent, &t),
        }
        .map_err(|e| Error::Codec(Box::new(e)))?;
        run.timed(Stage::Decode, start, ());
        run.progress(Stage::Decode, 1, 1)?;
        Ok(image)
    }

    /// One denoiser call and scheduler step on a batch of latents with micro-conditioning
    /// `sizes` (one per latent); the prediction is made on `input` (the blurred sub-latents of
    /// dilated sampling) and applied to `sample`.
    pub(crate) fn step_batch(
        &mut self,
        input: Tensor<B, 4>,
        sample: Tensor<B, 4>,
        i: usize,
        cond: &D::Cond,
        sizes: &[SizeCond],
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let t = self.scheduler.timesteps()[i];
        let x = self.scheduler.scale_model_input(input, i)?;
        run.calls += 1;
        run.evaluations += sizes.len();
        let pred = self
            .denoiser
            .predict(x, t, &cond.for_views(sizes))
            .map_err(|e| Error::Denoiser(Box::new(e)))?;
        let noise = if self.scheduler.is_stochastic() {
            Some(run.noise(Draw::Step, sample.dims(), &sample.device())?)
        } else {
            None
        };
        Ok(self.scheduler.step(pred, i, sample, noise)?)
    }

    /// Every step of the schedule on one latent (the reference, or the whole image).
    fn denoise_full(
        &mut self,
        mut z: Tensor<B, 4>,
        cond: &D::Cond,
        micro: SizeCond,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let steps = self.scheduler.timesteps().len();
        for i in 0..steps {
            z = self.step_batch(z.clone(), z, i, cond, &[micro], run)?;
            run.observer.on_latent(Intermediate::ReferenceStep(i), &z);
            run.progress(Stage::Reference, i + 1, steps)?;
        }
        Ok(z)
    }

    /// DemoFusion's denoising at scale `s` from step index `begin` (lsrna.md §4.1 step 4–5): the
    /// guide is noised with one ε to every timestep (skip-residual targets), then each step mixes
    /// in the skip residual, denoises jittered views (MultiDiffusion) and dilated sub-latents,
    /// and blends them with the cosine weights.
    #[allow(clippy::too_many_arguments)]
    fn high_res_phase(
        &mut self,
        config: &HighResConfig,
        guide: Tensor<B, 4>,
        s: usize,
        begin: usize,
        cond: &D::Cond,
        micro: SizeCond,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let stage = Stage::HighRes { phase: s };
        let start = Instant::now();
        let device = guide.device();
        let eps = run.noise(Draw::Inversion, guide.dims(), &device)?;
        let target = |sched: &S, i: usize| sched.add_noise(guide.clone(), eps.clone(), i);
        let mut z = target(&self.scheduler, begin)?;
        let steps = self.scheduler.timesteps().len();
        for i in begin..steps {
            let t = self.scheduler.timesteps()[i];
            let cos = cosine_factor(t, TRAIN_STEPS);
            let c1 = pow(cos, config.cosine_scale_1);
            z = z.mul_scalar(1.0 - c1) + target(&self.scheduler, i)?.mul_scalar(c1);
            let local = self.local_views(config, &z, i, cond, micro, run)?;
            let c2 = pow(cos, config.cosine_scale_2);
            let c3 = 0.99 * pow(cos, config.cosine_scale_3) + 0.01;
            let global = self.dilated(
                config,
                &z,
                s,
                (config.sigma as f32) * c3,
                i,
                cond,
                micro,
                run,
            )?;
            z = (local.mul_scalar(1.0 - c2) + global.mul_scalar(c2)).div_scalar((1.0 - c2) + c2);
            run.observer
                .on_latent(Intermediate::HighResStep { phase: s, i }, &z);
            run.progress(stage, i + 1 - begin, steps - begin)?;
        }
        run.timed(stage, start, ());
        Ok(z)
    }

    /// MultiDiffusion over jittered views: the average of the denoised views.
    fn local_views(
        &mut self,
        config: &HighResConfig,
        z: &Tensor<B, 4>,
        i: usize,
        cond: &D::Cond,
        micro: SizeCond,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = z.dims();
        let j = (config.window - config.stride) / 4;
        let rng: Option<&mut dyn Randomness> = if config.jitter {
            Some(&mut *run.rng)
        } else {
            None
        };
        // Without jitter there is no padding frame: views are in latent coordinates.
        let views = get_views(h, w, config.window, config.stride, rng)?;
        let j = if config.jitter { j } else { 0 };
        let padded = pad(z.clone(), j, j, j, j);
        let (ph, pw) = (h + 2 * j, w + 2 * j);
        let mut value = Tensor::<B, 4>::zeros([n, c, ph, pw], &z.device());
        let mut count = vec![0f32; ph * pw];
        let f = self.codec.downscale_factor();
        for batch in views.chunks(config.view_batch_size) {
            let crop = |v: &View| {
                padded
                    .clone()
                    .slice([0..n, 0..c, v.h0..v.h1.min(ph), v.w0..v.w1.min(pw)])
            };
            let x = Tensor::cat(batch.iter().map(crop).collect(), 0);
            let sizes: Vec<SizeCond> = batch
                .iter()
                .map(|v| micro.cropped([v.h0 * f, v.w0 * f]))
                .collect();
            let den = self.step_batch(x.clone(), x, i, cond, &sizes, run)?;
            for (k, v) in batch.iter().enumerate() {
                let (h1, w1) = (v.h1.min(ph), v.w1.min(pw));
                let r = [0..n, 0..c, v.h0..h1, v.w0..w1];
                let d = den
                    .clone()
                    .slice([k * n..(k + 1) * n, 0..c, 0..h1 - v.h0, 0..w1 - v.w0]);
                value = value.clone().slice_assign(r.clone(), value.slice(r) + d);
                for y in v.h0..h1 {
                    count[y * pw + v.w0..y * pw + w1]
                        .iter_mut()
                        .for_each(|q| *q += 1.0);
                }
            }
        }
        let count = Tensor::<B, 2>::from_data(TensorData::new(count, [ph, pw]), &z.device());
        let count = count.slice([j..j + h, j..j + w]).reshape([1, 1, h, w]);
        Ok(value.slice([0..n, 0..c, j..j + h, j..j + w]) / count)
    }

    /// Dilated sampling: the `s²` interleaved sub-latents `z[p::s, q::s]` (after zero padding
    /// top/left to multiples of `s`) denoised with predictions made on the Gaussian-blurred,
    /// re-standardised latent.
    #[allow(clippy::too_many_arguments)]
    fn dilated(
        &mut self,
        config: &HighResConfig,
        z: &Tensor<B, 4>,
        s: usize,
        sigma: f32,
        i: usize,
        cond: &D::Cond,
        micro: SizeCond,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = z.dims();
        let (hp, wp) = ((s - h % s) % s, (s - w % s) % s);
        let padded = pad(z.clone(), hp, 0, wp, 0);
        let (mean, std) = mean_std(&padded);
        let blurred = restandardize(gaussian_filter(padded.clone(), 2 * s - 1, sigma), mean, std);
        let (hs, ws) = ((h + hp) / s, (w + wp) / s);
        // [N, C, hs·s, ws·s] → [s·s·N, C, hs, ws], sub-latent (p, q) of image b at (p·s + q)·N + b.
        let split = |x: Tensor<B, 4>| {
            x.reshape([n, c, hs, s, ws, s])
                .permute([3, 5, 0, 1, 2, 4])
                .reshape([s * s * n, c, hs, ws])
        };
        let (subs, blurred) = (split(padded), split(blurred));
        let mut out = Vec::new();
        for first in (0..s * s).step_by(config.view_batch_size) {
            let last = (first + config.view_batch_size).min(s * s);
            let r = first * n..last * n;
            let sizes = vec![micro; (last - first) * n];
            let x = subs.clone().slice([r.clone(), 0..c, 0..hs, 0..ws]);
            let xg = blurred.clone().slice([r, 0..c, 0..hs, 0..ws]);
            out.push(self.step_batch(xg, x, i, cond, &sizes, run)?);
        }
        let merged = Tensor::cat(out, 0)
            .reshape([s, s, n, c, hs, ws])
            .permute([2, 3, 4, 0, 5, 1])
            .reshape([n, c, hs * s, ws * s]);
        Ok(merged.slice([0..n, 0..c, hp..hp + h, wp..wp + w]))
    }
}
