//! DemoFusion (Du et al., CVPR 2024; `PRIS-CV/DemoFusion`, spec `lsrna.md` §4.1): progressive
//! phases with skip residuals `c₁ = ((1 + cos(π(T−t)/T))/2)^α₁`, MultiDiffusion over jittered
//! views, and dilated sampling of Gaussian-blurred sub-latents mixed by `c₂`. LSRNA-DemoFusion
//! runs one phase of it from the LSR + RNA guide ([`crate::lsrna`]).

use std::time::Instant;

use burn::prelude::*;
use ultrares_core::tiling::{Blend, TileMerger, TilePlan};
use ultrares_core::{Denoiser, LatentCodec, LatentUpsampler};
use ultrares_schedulers::Scheduler;

use crate::blur::{gaussian_filter, mean_std, restandardize};
use crate::pipeline::{PhaseCtx, Run};
use crate::{
    BicubicUpsampler, Draw, HighResPipeline, Intermediate, Randomness, Result, SizeCond, Stage,
    ViewConditioning,
};

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

impl<B, D, C, U, S> HighResPipeline<'_, B, D, C, U, S>
where
    B: Backend,
    D: Denoiser<B>,
    D::Cond: ViewConditioning,
    C: LatentCodec<B>,
    U: LatentUpsampler<B>,
    S: Scheduler<B>,
{
    /// DemoFusion's progressive upscaling: phases `2..=s` at `native · k` on the long side (the
    /// short side × the aspect ratio), each a bicubic upsampling of the previous latent and a
    /// [`Self::high_res_phase`] from step 0, re-standardised when configured.
    pub(crate) fn demofusion(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        reference: Tensor<B, 4>,
        s: usize,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let config = ctx.config;
        let f = self.codec.downscale_factor();
        let (h, w) = (config.height, config.width);
        let aspect = h.min(w) as f64 / h.max(w) as f64;
        let mut z = reference;
        for k in 2..=s {
            let start = Instant::now();
            let long = config.native_size * k;
            let short = (long as f64 * aspect) as usize;
            let (ph, pw) = if h > w { (long, short) } else { (short, long) };
            let up = BicubicUpsampler.resize(z, [ph / f, pw / f])?;
            run.observer.on_latent(Intermediate::Guide, &up);
            run.timed(Stage::Upsample, start, ());
            z = ctx.restandardize(self.high_res_phase(ctx, up, k, 0, run)?);
        }
        Ok(z)
    }

    /// DemoFusion's denoising at scale `s` from step index `begin` (lsrna.md §4.1 step 4–5): the
    /// guide is noised with one ε to every timestep (skip-residual targets), then each step mixes
    /// in the skip residual, denoises jittered views (MultiDiffusion) and dilated sub-latents,
    /// and blends them with the cosine weights.
    pub(crate) fn high_res_phase(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        guide: Tensor<B, 4>,
        s: usize,
        begin: usize,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let config = ctx.config;
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
            let local = self.local_views(ctx, &z, i, run)?;
            let c2 = pow(cos, config.cosine_scale_2);
            let c3 = 0.99 * pow(cos, config.cosine_scale_3) + 0.01;
            let global = self.dilated(ctx, &z, s, (config.sigma as f32) * c3, i, run)?;
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
        ctx: &PhaseCtx<'_, D::Cond>,
        z: &Tensor<B, 4>,
        i: usize,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let (config, cond, micro) = (ctx.config, ctx.cond, ctx.micro);
        let [n, c, h, w] = z.dims();
        let rng: Option<&mut dyn Randomness> = if config.jitter {
            Some(&mut *run.rng)
        } else {
            None
        };
        let plan = TilePlan::demofusion(h, w, config.window, config.stride, rng)?;
        let padded = plan.pad(z.clone())?;
        let mut merger = TileMerger::new(plan.clone(), n, c, Blend::Average, &z.device())?;
        let f = self.codec.downscale_factor();
        let indices: Vec<usize> = (0..plan.len()).collect();
        for batch in indices.chunks(config.view_batch_size) {
            let x = plan.extract(&padded, batch)?;
            let sizes: Vec<SizeCond> = batch
                .iter()
                .map(|&v| micro.cropped([plan.tiles[v].y * f, plan.tiles[v].x * f]))
                .collect();
            let den = self.step_batch(x.clone(), x, i, cond, &sizes, run)?;
            merger.add(batch, den)?;
        }
        Ok(merger.finish()?)
    }

    /// Dilated sampling: the `s²` interleaved sub-latents `z[p::s, q::s]` (after zero padding
    /// top/left to multiples of `s`) denoised with predictions made on the Gaussian-blurred,
    /// re-standardised latent.
    fn dilated(
        &mut self,
        ctx: &PhaseCtx<'_, D::Cond>,
        z: &Tensor<B, 4>,
        s: usize,
        sigma: f32,
        i: usize,
        run: &mut Run<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let (config, cond, micro) = (ctx.config, ctx.cond, ctx.micro);
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
