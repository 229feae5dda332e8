//! WaveDiff's sampling: `sample_from_model` (`WaveDiff:diffusion.py:160`) in the scaled
//! wavelet space, then `×2`, the image IDWT and the clamp of `test_wddgan.py` (spec
//! `wavelet.md` §2.4).

use burn::prelude::*;
use ultrares_core::{Draw, Randomness, SeededRandomness, check_finite};
use ultrares_schedulers::{DdganPosterior, Schedule, Scheduler};
use ultrares_wavelet::fast::idwt2;
use ultrares_wavelet::{BandOrder, Mode, Stacking, Wavelet};

use crate::{Ncsnpp, Preset, Result, WaveDiffBackend, WaveDiffError};

/// Every random draw of one sampling run, in the order the official loop makes them: the
/// initial `x_T`, then per step `k = 0 … T−1` (label `i = T−1−k`) the generator's latent
/// `z[k]` and the posterior noise `eps[k]` (drawn but unused at `i = 0`).
#[derive(Debug, Clone)]
pub struct SampleNoise<B: Backend> {
    /// `[N, C, S, S]`.
    pub x_t: Tensor<B, 4>,
    /// `[N, nz]` per step.
    pub z: Vec<Tensor<B, 2>>,
    /// `[N, C, S, S]` per step.
    pub eps: Vec<Tensor<B, 4>>,
}

impl<B: Backend> SampleNoise<B> {
    /// Standard-normal draws from `rng` for `n` samples of `generator`'s shape over `steps`
    /// steps (`x_T` first, then `z` and `eps` of each step).
    ///
    /// # Errors
    /// What `rng` returns.
    pub fn draw(
        rng: &mut dyn Randomness,
        n: usize,
        generator: &crate::GeneratorConfig,
        steps: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let (c, s, nz) = (generator.num_channels, generator.image_size, generator.nz);
        let mut gaussian = |draw, shape: Vec<usize>| -> Result<TensorData> {
            let len = shape.iter().product();
            Ok(TensorData::new(rng.gaussian(draw, len)?, shape))
        };
        let x_t = Tensor::from_data(gaussian(Draw::Initial, vec![n, c, s, s])?, device);
        let (mut z, mut eps) = (vec![], vec![]);
        for _ in 0..steps {
            z.push(Tensor::from_data(
                gaussian(Draw::Latent, vec![n, nz])?,
                device,
            ));
            eps.push(Tensor::from_data(
                gaussian(Draw::Step, vec![n, c, s, s])?,
                device,
            ));
        }
        Ok(Self { x_t, z, eps })
    }

    /// The noise of samples `range` of a seeded run: sample `j` takes its draws from
    /// [`SeededRandomness`] with seed `seed + j` ([`SampleNoise::draw`] with `n = 1`), so each
    /// image depends on the seed and its index only, not on the batch size.
    ///
    /// # Errors
    /// An empty range.
    pub fn seeded(
        seed: u64,
        range: std::ops::Range<usize>,
        generator: &crate::GeneratorConfig,
        steps: usize,
        device: &B::Device,
    ) -> Result<Self> {
        if range.is_empty() {
            return Err(WaveDiffError::input("range", "at least one sample", range));
        }
        let parts = range
            .map(|j| {
                let mut rng = SeededRandomness::new(seed.wrapping_add(j as u64));
                Self::draw(&mut rng, 1, generator, steps, device)
            })
            .collect::<Result<Vec<_>>>()?;
        let x_t = Tensor::cat(parts.iter().map(|p| p.x_t.clone()).collect(), 0);
        let z = (0..steps)
            .map(|k| Tensor::cat(parts.iter().map(|p| p.z[k].clone()).collect(), 0))
            .collect();
        let eps = (0..steps)
            .map(|k| Tensor::cat(parts.iter().map(|p| p.eps[k].clone()).collect(), 0))
            .collect();
        Ok(Self { x_t, z, eps })
    }

    /// Every draw cast to `dtype` (a half-precision generator takes half-precision noise).
    pub fn cast(self, dtype: burn::tensor::DType) -> Self {
        Self {
            x_t: self.x_t.cast(dtype),
            z: self.z.into_iter().map(|t| t.cast(dtype)).collect(),
            eps: self.eps.into_iter().map(|t| t.cast(dtype)).collect(),
        }
    }
}

/// The DDGAN posterior sampler and the image transform of one preset.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// The `T`-step posterior.
    pub posterior: DdganPosterior,
    /// The scaled band stacking (`÷2`) with the band order of the image DWT.
    pub stacking: Stacking,
}

impl Sampler {
    /// `T` steps with the default β range, images through the `order` IDWT.
    ///
    /// # Errors
    /// A `T` the posterior rejects (0 or above 1000).
    pub fn new(num_timesteps: usize, order: BandOrder) -> Result<Self> {
        Ok(Self {
            posterior: DdganPosterior::new(num_timesteps)?,
            stacking: Stacking::wavediff(order),
        })
    }

    /// The sampler of a model described by its official arguments.
    ///
    /// # Errors
    /// A `T` the posterior rejects.
    pub fn official(args: &crate::OfficialArgs) -> Result<Self> {
        Self::new(args.num_timesteps, args.band_order)
    }

    /// The sampler of a released model.
    ///
    /// # Errors
    /// None for the built-in presets.
    pub fn preset(preset: Preset) -> Result<Self> {
        Self::new(preset.num_timesteps(), preset.band_order())
    }

    /// Number of steps `T`.
    pub fn steps(&self) -> usize {
        self.posterior.timesteps().len()
    }

    /// The final `x₀` in the scaled wavelet space (`sample_from_model`).
    ///
    /// # Shapes
    /// `noise.x_t`: `[N, C, S, S]` → `[N, C, S, S]`.
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] for noise of the wrong count, shape or with NaN/∞; generator
    /// errors.
    pub fn sample_wavelet<B: WaveDiffBackend>(
        &self,
        generator: &Ncsnpp<B>,
        noise: SampleNoise<B>,
    ) -> Result<Tensor<B, 4>> {
        let steps = self.steps();
        if noise.z.len() != steps || noise.eps.len() != steps {
            return Err(WaveDiffError::input(
                "noise",
                format!("{steps} latents and {steps} posterior noises"),
                (noise.z.len(), noise.eps.len()),
            ));
        }
        check_finite(&noise.x_t, "x_T")?;
        let mut posterior = self.posterior.clone();
        let mut x = noise.x_t;
        let device = x.device();
        let n = x.dims()[0];
        let labels: Vec<f64> = posterior.timesteps().to_vec();
        for (k, (z, eps)) in noise.z.into_iter().zip(noise.eps).enumerate() {
            check_finite(&z, "z")?;
            if eps.dims() != x.dims() {
                return Err(WaveDiffError::input(
                    "eps",
                    format!("{:?}", x.dims()),
                    eps.dims(),
                ));
            }
            let t = Tensor::<B, 1, Int>::full([n], labels[k] as i64, &device);
            let x0 = generator.forward(x.clone(), t, z)?;
            x = posterior.step(x0, k, x, Some(eps))?;
        }
        Ok(x)
    }

    /// `clamp(IDWT(2·x₀), −1, 1)`: images in [−1, 1] (before the official `(x + 1) / 2`).
    ///
    /// # Shapes
    /// `[N, 12, S, S] → [N, 3, 2S, 2S]`.
    ///
    /// # Errors
    /// A channel count that is not 4·C.
    pub fn to_images<B: WaveDiffBackend>(&self, x0: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let bands = self.stacking.unstack(x0)?;
        Ok(idwt2(bands, &Wavelet::haar(), Mode::Zero)?.clamp(-1.0, 1.0))
    }

    /// [`Sampler::sample_wavelet`] then [`Sampler::to_images`].
    ///
    /// # Errors
    /// As those.
    pub fn sample<B: WaveDiffBackend>(
        &self,
        generator: &Ncsnpp<B>,
        noise: SampleNoise<B>,
    ) -> Result<Tensor<B, 4>> {
        let x0 = self.sample_wavelet(generator, noise)?;
        self.to_images(x0)
    }
}
