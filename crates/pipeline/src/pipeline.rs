//! [`HighResPipeline`]: reference-based high-resolution generation over any [`Denoiser`],
//! [`LatentCodec`], [`LatentUpsampler`] and [`Scheduler`]. This file holds the pipeline, the
//! per-run state and the strategy dispatch; each strategy has its file: [`crate::direct`],
//! [`crate::demofusion`], [`crate::lsrna`] (LSRNA-DemoFusion and LSRNA-Pixelsmith) and
//! [`crate::pixelsmith`].

use std::marker::PhantomData;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use crate::blur::{mean_std, restandardize};
use crate::{
    DecodeMode, Draw, Error, HighResConfig, Intermediate, Observer, Progress, Randomness, Reporter,
    Result, SizeCond, Stage, StageTiming, Strategy, ViewConditioning,
};

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
    /// LSRNA's latent upsampler (LSR); DemoFusion always uses [`crate::BicubicUpsampler`].
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

impl<'r, B: Backend> Run<'r, B> {
    /// A run drawing from `rng` and reporting to `observer`, with nothing counted yet.
    pub(crate) fn new(rng: &'r mut dyn Randomness, observer: &'r mut dyn Observer<B>) -> Self {
        Self {
            rng,
            observer,
            calls: 0,
            evaluations: 0,
            timings: Vec::new(),
            patches: 0,
        }
    }

    pub(crate) fn progress(&mut self, stage: Stage, step: usize, total: usize) -> Result<()> {
        self.reported(stage, Error::Core, |r| r.report(step, total))
    }

    /// Runs a component's `work` with a [`Reporter`] for `stage`: a cancellation by the
    /// observer becomes [`Error::Cancelled`], any other failure `wrap(e)`.
    pub(crate) fn reported<T, E>(
        &mut self,
        stage: Stage,
        wrap: impl FnOnce(E) -> Error,
        work: impl FnOnce(&mut Reporter<'_, B>) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let mut reporter = Reporter::new(stage, &mut *self.observer);
        let out = work(&mut reporter);
        if let Some(Progress { stage, step, total }) = reporter.cancelled() {
            return Err(Error::Cancelled(format!("{stage:?}, step {step}/{total}")));
        }
        out.map_err(wrap)
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
/// What every phase of a run shares: the configuration, the prompt's conditioning, the
/// micro-conditioning of the phase's views, and the reference statistics that
/// [`HighResConfig::restandardize`] restores after each phase.
pub(crate) struct PhaseCtx<'c, Cond> {
    pub(crate) config: &'c HighResConfig,
    pub(crate) cond: &'c Cond,
    pub(crate) micro: SizeCond,
    pub(crate) anchor: (f64, f64),
}

impl<Cond> PhaseCtx<'_, Cond> {
    /// The same context with another micro-conditioning.
    pub(crate) fn with_micro(&self, micro: SizeCond) -> Self {
        PhaseCtx {
            config: self.config,
            cond: self.cond,
            micro,
            anchor: self.anchor,
        }
    }

    /// `z` re-standardised to the reference's mean and standard deviation when configured.
    pub(crate) fn restandardize<B: Backend>(&self, z: Tensor<B, 4>) -> Tensor<B, 4> {
        if self.config.restandardize {
            restandardize(z, self.anchor.0, self.anchor.1)
        } else {
            z
        }
    }
}

impl<B: Backend> Run<'_, B> {
    /// The run's result.
    pub(crate) fn output(
        self,
        reference: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
        latent: Tensor<B, 4>,
        image: Tensor<B, 4>,
    ) -> HighResOutput<B> {
        let (reference_latent, reference_image) = reference.unzip();
        HighResOutput {
            reference_latent,
            reference_image,
            latent,
            image,
            timings: self.timings,
            denoiser_calls: self.calls,
            denoiser_evaluations: self.evaluations,
        }
    }
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
        let (s, channels) = self.check(config)?;
        let f = self.codec.downscale_factor();
        let mut run = Run::new(rng, observer);
        let (h, w) = (config.height, config.width);
        // Reference size and micro-conditioning (lsrna.md §4.1 step 0–1, §4.2).
        let (ref_px, ref_cond) = match config.strategy {
            Strategy::Direct => ([h, w], SizeCond::uncropped([h, w])),
            Strategy::DemoFusion => ([h / s, w / s], SizeCond::uncropped([h, w])),
            // LSRNA and Pixelsmith condition the reference on its own size.
            Strategy::LsrnaDemoFusion | Strategy::Pixelsmith | Strategy::LsrnaPixelsmith => {
                ([h / s, w / s], SizeCond::uncropped([h / s, w / s]))
            }
        };
        let start = Instant::now();
        let shape = [1, channels, ref_px[0] / f, ref_px[1] / f];
        let init = run
            .noise(Draw::Initial, shape, device)?
            .mul_scalar(self.scheduler.init_noise_sigma());
        let reference = self.denoise_full(init, cond, ref_cond, &mut run)?;
        run.timed(Stage::Reference, start, ());
        if config.strategy == Strategy::Direct {
            return self.direct(config, reference, run);
        }
        let image = self.decode_reference(&reference, &mut run)?;
        self.after_reference(config, cond, (reference, image), s, device, run)
    }

    /// Upscales a given image to `config`'s size: the image (`[1, 3, H/s, W/s]` in `[−1, 1]`,
    /// `s` the strategy's scale) is encoded and stands for the reference that
    /// [`generate`](Self::generate) would denoise first; the strategy's high-resolution phases
    /// then run as in `generate` (LSRNA: LSR, region-wise noise, the last `inversion_depth`
    /// steps at the target size). The img2img upscaling of a picture or of a previous result.
    ///
    /// # Errors
    /// As [`generate`](Self::generate); [`Strategy::Direct`] (nothing to upscale) and an image
    /// of another size than the reference are argument errors.
    pub fn upscale(
        &mut self,
        config: &HighResConfig,
        cond: &D::Cond,
        image: Tensor<B, 4>,
        device: &B::Device,
        rng: &mut dyn Randomness,
        observer: &mut dyn Observer<B>,
    ) -> Result<HighResOutput<B>> {
        if config.strategy == Strategy::Direct {
            return Err(Error::argument(
                "strategy",
                "a reference-based strategy (DemoFusion, LSRNA, Pixelsmith) to upscale an image",
                "direct",
            ));
        }
        let (s, _) = self.check(config)?;
        let want = [1, 3, config.height / s, config.width / s];
        if image.dims() != want {
            return Err(Error::argument(
                "image",
                format!("{want:?} (the target size / {s}, in [−1, 1])"),
                format!("{:?}", image.dims()),
            ));
        }
        let mut run = Run::new(rng, observer);
        let start = Instant::now();
        let reference = self
            .codec
            .encode(image.clone())
            .map_err(|e| Error::Codec(Box::new(e)))?;
        run.timed(Stage::Reference, start, ());
        run.progress(Stage::Reference, 1, 1)?;
        self.after_reference(config, cond, (reference, image), s, device, run)
    }

    /// The checks shared by [`generate`](Self::generate) and [`upscale`](Self::upscale): the
    /// configuration, single-step schedulers with views, matching latent channels. Returns the
    /// scale `s` and the latent channels.
    fn check(&self, config: &HighResConfig) -> Result<(usize, usize)> {
        let f = self.codec.downscale_factor();
        let steps = self.scheduler.timesteps().len();
        let s = config.validate(f, steps)?;
        let views = match config.strategy {
            Strategy::DemoFusion | Strategy::LsrnaDemoFusion => true,
            Strategy::Direct | Strategy::Pixelsmith | Strategy::LsrnaPixelsmith => false,
        };
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
        Ok((s, channels))
    }

    /// The strategy's phases after the reference latent and its decoded image.
    fn after_reference(
        &mut self,
        config: &HighResConfig,
        cond: &D::Cond,
        (reference, image): (Tensor<B, 4>, Tensor<B, 4>),
        s: usize,
        device: &B::Device,
        mut run: Run<'_, B>,
    ) -> Result<HighResOutput<B>> {
        let (h, w) = (config.height, config.width);
        let ctx = PhaseCtx {
            config,
            cond,
            micro: SizeCond::uncropped([h, w]),
            anchor: mean_std(&reference),
        };
        match config.strategy {
            Strategy::Direct => {
                let z = reference.clone();
                self.finish(config, (reference, image), z, run)
            }
            Strategy::DemoFusion => {
                let z = self.demofusion(&ctx, reference.clone(), s, &mut run)?;
                self.finish(config, (reference, image), z, run)
            }
            Strategy::LsrnaDemoFusion => {
                let (guide, begin) = self.lsrna_guide(&ctx, &reference, &image, s, &mut run)?;
                let micro = SizeCond::uncropped([h / s * s, w / s * s]);
                let z = self.high_res_phase(&ctx.with_micro(micro), guide, s, begin, &mut run)?;
                self.finish(config, (reference, image), ctx.restandardize(z), run)
            }
            Strategy::LsrnaPixelsmith => {
                let (guide, begin) = self.lsrna_guide(&ctx, &reference, &image, s, &mut run)?;
                let slider = config.sliders[0];
                let z = self.pixelsmith_phase(&ctx, guide, s, begin, slider, &mut run)?;
                self.finish(config, (reference, image), ctx.restandardize(z), run)
            }
            Strategy::Pixelsmith => {
                let z = self.pixelsmith(&ctx, &reference, &image, s, device, &mut run)?;
                self.finish(config, (reference, image), z, run)
            }
        }
    }

    /// The decoded reference (reported as [`Stage::DecodeReference`]).
    fn decode_reference(
        &self,
        reference: &Tensor<B, 4>,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let start = Instant::now();
        let image = self
            .codec
            .decode(reference.clone())
            .map_err(|e| Error::Codec(Box::new(e)))?;
        run.timed(Stage::DecodeReference, start, ());
        run.progress(Stage::DecodeReference, 1, 1)?;
        Ok(image)
    }

    /// Reports the final latent, decodes it and assembles the output.
    fn finish(
        &self,
        config: &HighResConfig,
        reference: (Tensor<B, 4>, Tensor<B, 4>),
        latent: Tensor<B, 4>,
        mut run: Run<'_, B>,
    ) -> Result<HighResOutput<B>> {
        run.observer.on_latent(Intermediate::Final, &latent);
        let image = self.decode(latent.clone(), config.decode, &mut run)?;
        Ok(run.output(Some(reference), latent, image))
    }

    pub(crate) fn decode(
        &self,
        latent: Tensor<B, 4>,
        mode: DecodeMode,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let start = Instant::now();
        let image = run.reported(Stage::Decode, codec_error, |r| match mode {
            DecodeMode::Full => {
                let image = self.codec.decode(latent)?;
                r.report(1, 1)?;
                Ok(image)
            }
            DecodeMode::Tiled(t) => self.codec.decode_tiled_with(latent, &t, r),
        })?;
        run.timed(Stage::Decode, start, ());
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
}

/// A codec failure as the pipeline's error.
pub(crate) fn codec_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Codec(Box::new(e))
}
