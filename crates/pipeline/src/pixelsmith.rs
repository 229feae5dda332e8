//! Pixelsmith's patch sampler (`Thanos-DB/Pixelsmith:pixelsmith_pipeline.py`, the `image is not
//! None` branch of `Pixelsmith.__call__`; spec `lsrna.md` §5).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::image::{ValueRange, rgb8_to_tensor, tensor_to_rgb8};
use ultrares_core::resize::{PilFilter, resize_pil};
use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use crate::fourier::Fft2;
use crate::pipeline::{PhaseCtx, Run, codec_error};
use crate::{
    Draw, Error, HighResConfig, HighResPipeline, Intermediate, Observer, Randomness, Result,
    SizeCond, Stage, ViewConditioning,
};

/// Pixelsmith's feathered time mask: `m + (1 − m)·box(m)`, with `box` the mean over a
/// `(2g+1)²` window of `m` reflect-padded by `g` (`create_gradient_border`), clamped to [0, 1].
pub fn smoothed_time_mask(mask: &[f32], p: usize, g: usize) -> Vec<f32> {
    let reflect = |i: isize| -> usize {
        let n = p as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * (n - 1) - i } else { i }) as usize
    };
    let k = (2 * g + 1) as f32;
    // Separable box sums (rows, then columns) over the reflected plane.
    let mut rows = vec![0f32; p * p];
    for y in 0..p {
        for x in 0..p {
            rows[y * p + x] = (-(g as isize)..=g as isize)
                .map(|d| mask[y * p + reflect(x as isize + d)])
                .sum();
        }
    }
    (0..p * p)
        .map(|i| {
            let (y, x) = (i / p, i % p);
            let b: f32 = (-(g as isize)..=g as isize)
                .map(|d| rows[reflect(y as isize + d) * p + x])
                .sum::<f32>()
                / (k * k);
            let m = mask[i];
            (m + (1.0 - m) * b.clamp(0.0, 1.0)).clamp(0.0, 1.0)
        })
        .collect()
}

impl<B, D, C, U, S> HighResPipeline<'_, B, D, C, U, S>
where
    B: Backend,
    D: Denoiser<B>,
    D::Cond: ViewConditioning,
    C: LatentCodec<B>,
    U: LatentUpsampler<B>,
    S: Scheduler<B>,
{
    /// Pixelsmith's image-to-image mode: denoises a latent of `guide`'s size from step index
    /// `begin` with guidance from `guide` (a model-space latent `[1, C, H, W]`, e.g. an encoded
    /// image) for the first `slider` steps, as upstream's `__call__(image=…, slider=…)`.
    /// Returns the final latent (not decoded, not re-standardised).
    ///
    /// # Errors
    /// A guide smaller than one patch, a Slider beyond the schedule, cancellation, and the
    /// models' errors.
    #[allow(clippy::too_many_arguments)]
    pub fn refine_with_guide(
        &mut self,
        config: &HighResConfig,
        guide: Tensor<B, 4>,
        begin: usize,
        slider: usize,
        cond: &D::Cond,
        rng: &mut dyn Randomness,
        observer: &mut dyn Observer<B>,
    ) -> Result<Tensor<B, 4>> {
        let steps = self.scheduler.timesteps().len();
        if begin >= steps || slider == 0 || begin + slider > steps {
            return Err(Error::argument(
                "begin, slider",
                format!("a start index below {steps} and 1 ≤ slider ≤ {steps} − begin"),
                format!("{begin}, {slider}"),
            ));
        }
        let mut run = Run::new(rng, observer);
        let ctx = PhaseCtx {
            config,
            cond,
            micro: SizeCond::default(),
            anchor: (0.0, 1.0),
        };
        self.pixelsmith_phase(&ctx, guide, 1, begin, slider, &mut run)
    }

    /// Pixelsmith's progressive upscaling: for each phase scale, the previous image is
    /// Lanczos-resized (PIL, in RGB) to the phase size, encoded, and refined from step 0 with
    /// the encoded image as the guide for the phase's Slider steps.
    pub(crate) fn pixelsmith(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        reference: &Tensor<B, 4>,
        reference_image: &Tensor<B, 4>,
        s: usize,
        device: &B::Device,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let config = ctx.config;
        let f = self.codec.downscale_factor();
        let phases = config.phases(s);
        let mut image = Some(reference_image.clone());
        let mut z = reference.clone();
        for (n, &k) in phases.iter().enumerate() {
            let start = Instant::now();
            let [ph, pw] = config.phase_size(k, s, f);
            let previous = image
                .take()
                .ok_or_else(|| Error::argument("phases", "one decoded image per phase", "none"))?;
            let rgb = tensor_to_rgb8(previous, ValueRange::MinusOneOne)?;
            let resized = resize_pil(&rgb[0], pw as u32, ph as u32, PilFilter::Lanczos)?;
            let x = rgb8_to_tensor::<B>(&resized, ValueRange::MinusOneOne, device);
            let guide = run.reported(Stage::Encode, codec_error, |r| {
                self.codec.encode_tiled_with(x, &config.encode_tiling, r)
            })?;
            run.observer.on_latent(Intermediate::Guide, &guide);
            run.timed(Stage::Upsample, start, ());
            let slider = config.sliders[n.min(config.sliders.len() - 1)];
            z = ctx.restandardize(self.pixelsmith_phase(ctx, guide, k, 0, slider, run)?);
            if n + 1 < phases.len() {
                image = Some(self.decode(z.clone(), config.decode, run)?);
            }
        }
        Ok(z)
    }

    /// The patch loop: while some latent has steps left, pick one at random among those with
    /// the highest remaining timestep, denoise the `window²` patch around it (clamped inside),
    /// and write it back through the feathered time mask.
    pub(crate) fn pixelsmith_phase(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        guide: Tensor<B, 4>,
        phase: usize,
        begin: usize,
        slider: usize,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let (config, cond) = (ctx.config, ctx.cond);
        let stage = Stage::HighRes { phase };
        let start = Instant::now();
        let [n, c, h, w] = guide.dims();
        let (ps, p) = (config.window, config.window / 2);
        if n != 1 || h < ps || w < ps || ps % 2 != 0 {
            return Err(Error::argument(
                "guide",
                format!("[1, C, H, W] with H, W ≥ the patch size {ps} (even)"),
                format!("{:?}", guide.dims()),
            ));
        }
        let steps = self.scheduler.timesteps().len();
        let f = self.codec.downscale_factor();
        let device = guide.device();
        let eps = run.noise(Draw::Inversion, guide.dims(), &device)?;
        // guid[r] = the guide noised to step begin + r (upstream: add_noise(image, ε,
        // timesteps[:slider])), elementwise, so computed on the patch only.
        let guid = |sched: &S, r: usize, patch: [std::ops::Range<usize>; 4]| {
            sched.add_noise(
                guide.clone().slice(patch.clone()),
                eps.clone().slice(patch),
                begin + r,
            )
        };
        let mut z = self
            .scheduler
            .add_noise(guide.clone(), eps.clone(), begin)?;
        let mut prev = z.clone();
        // Per-latent step index; `steps` = done (upstream's time 0), and how many latents are
        // at each index.
        let mut level = vec![begin; h * w];
        let mut at_level = vec![0usize; steps + 1];
        at_level[begin] = h * w;
        let fft = Fft2::new(ps, ps);
        let size = SizeCond::uncropped([h * f, w * f]);
        while let Some(m) = (begin..steps).find(|&l| at_level[l] > 0) {
            // torch.nonzero order (row major) and randperm(n)[0].
            let count = at_level[m];
            let k = run.rng.index(count)?;
            let pos = level
                .iter()
                .enumerate()
                .filter(|&(_, &l)| l == m)
                .nth(k)
                .map(|(i, _)| i)
                .ok_or_else(|| Error::argument("index", format!("< {count}"), k))?;
            let (i, j) = ((pos / w).clamp(p, h - p), (pos % w).clamp(p, w - p));
            let rows = i - p..i + p;
            let cols = j - p..j + p;
            let patch = [0..1, 0..c, rows.clone(), cols.clone()];
            let r = m - begin;
            let mut sub = z.clone().slice(patch.clone());
            // Upstream's latent *is* `guid_latents[0]` (a view it writes every patch back into),
            // so at the first step the phase is mixed with the latent itself: a no-op.
            if r < slider && r > 0 {
                let g = guid(&self.scheduler, r, patch.clone())?;
                let mixed = fft.mix_phase(&host(sub)?, &host(g)?);
                sub = Tensor::from_data(TensorData::new(mixed, [1, c, ps, ps]), &device);
            }
            let shift_left = run.rng.uniform()? < 0.5;
            let shift_down = run.rng.uniform()? < 0.5;
            let time_mask: Vec<f32> = rows
                .clone()
                .flat_map(|y| cols.clone().map(move |x| (y, x)))
                .map(|(y, x)| if level[y * w + x] == m { 1.0 } else { 0.0 })
                .collect();
            let plane = |v: Vec<f32>| {
                Tensor::<B, 1>::from_floats(v.as_slice(), &device).reshape([1, 1, ps, ps])
            };
            let lagging = time_mask.contains(&0.0);
            if lagging {
                let tm = plane(time_mask.clone());
                sub = sub * tm.clone() + prev.clone().slice(patch.clone()) * (tm.neg() + 1.0);
            }
            let patch_index = run.patches;
            run.observer
                .on_latent(Intermediate::PixelsmithPatch(patch_index), &sub);
            run.patches += 1;
            // Upstream passes the column for both crop coordinates.
            let top = if config.pixelsmith_upstream_crop {
                j - p
            } else {
                i - p
            };
            let micro = size.cropped([top * f, (j - p) * f]);
            sub = self.step_batch(sub.clone(), sub, m, cond, &[micro], run)?;
            run.observer
                .on_latent(Intermediate::PixelsmithStep(patch_index), &sub);
            if r + 1 < slider {
                // Checkerboard replacement with the guide one step ahead, randomly rolled.
                let (sd, sl) = (shift_down as usize, shift_left as usize);
                let den: Vec<f32> = (0..ps * ps)
                    .map(|q| ((q / ps + q % ps + sd + sl) % 2 == 0) as u8 as f32)
                    .collect();
                let den = plane(den);
                let ahead = guid(&self.scheduler, r + 1, patch.clone())?;
                sub = sub * (den.clone().neg() + 1.0) + ahead * den;
            }
            // Replace where the smoothed mask is 1, keep where 0, average in between (a mask of
            // ones smooths to ones: the patch is replaced).
            if lagging {
                let smooth = smoothed_time_mask(&time_mask, ps, config.gradient_width);
                let weight: Vec<f32> = smooth
                    .iter()
                    .map(|&v| {
                        if v == 1.0 {
                            1.0
                        } else if v == 0.0 {
                            0.0
                        } else {
                            0.5
                        }
                    })
                    .collect();
                let wt = plane(weight);
                let old = z.clone().slice(patch.clone());
                sub = sub * wt.clone() + old * (wt.neg() + 1.0);
            }
            z = z.slice_assign(patch, sub);
            for y in rows.clone() {
                for l in &mut level[y * w + j - p..y * w + j + p] {
                    if *l == m {
                        *l += 1;
                        at_level[m] -= 1;
                        at_level[m + 1] += 1;
                    }
                }
            }
            if at_level[m + 1] == h * w {
                prev = z.clone();
            }
            run.progress(stage, m - begin, steps - begin)?;
        }
        run.timed(stage, start, ());
        Ok(z)
    }
}

fn host<B: Backend>(t: Tensor<B, 4>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| Error::argument("tensor", "f32 data", format!("{e:?}")))
}
