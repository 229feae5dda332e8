//! The stand-in denoiser of `tools/golden/gen_pipeline.py` and its recomputable noise: cheap,
//! deterministic and implemented identically in Python, for the golden tests, the benchmarks and
//! the examples (hidden from the docs: not a model).

use std::convert::Infallible;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use ultrares_core::testing::splitmix_uniform;
use ultrares_core::{Denoiser, PredictionType};

use crate::{SizeCond, ViewConditioning};

/// gen_pipeline.py's `det_gaussian`: Box–Muller on two splitmix streams, in f64, rounded to f32.
pub fn det_gaussian(seed: u64, n: usize) -> Vec<f32> {
    splitmix_uniform(seed, n)
        .zip(splitmix_uniform(seed + 1, n))
        .map(|(a, b)| {
            ((-2.0 * ((1.0 - a) / 2.0).ln()).sqrt() * (std::f64::consts::PI * (b + 1.0)).cos())
                as f32
        })
        .collect()
}

/// The conditioning of [`StandIn`]: the mean of the pooled text embedding and SDXL time_ids.
#[derive(Debug, Clone)]
pub struct StandInCond {
    /// Mean of the pooled text embedding.
    pub pooled: f32,
    /// One row per batch element.
    pub sizes: Vec<SizeCond>,
}

impl ViewConditioning for StandInCond {
    fn for_views(&self, views: &[SizeCond]) -> Self {
        Self {
            pooled: self.pooled,
            sizes: views.to_vec(),
        }
    }
}

/// gen_pipeline.py's `standin_eps`: `tanh(k ⊛ x)·(0.2 + 0.6·t/1000) + ch·shift(p, time_ids)`.
#[derive(Debug, Clone, Default)]
pub struct StandIn;

const KERNEL: [f32; 9] = [0.05, 0.1, 0.05, 0.1, 0.4, 0.1, 0.05, 0.1, 0.05];
const CH: [f32; 4] = [1.0, -1.0, 0.5, -0.5];

impl<B: Backend> Denoiser<B> for StandIn {
    type Cond = StandInCond;
    type Error = Infallible;

    fn prediction_type(&self) -> PredictionType {
        PredictionType::Epsilon
    }

    fn latent_channels(&self) -> usize {
        4
    }

    fn predict(
        &self,
        x: Tensor<B, 4>,
        t: f64,
        cond: &StandInCond,
    ) -> Result<Tensor<B, 4>, Infallible> {
        let [n, c, _, _] = x.dims();
        assert_eq!(cond.sizes.len(), n, "one SizeCond per batch element");
        let device = x.device();
        let k: Vec<f32> = (0..c).flat_map(|_| KERNEL).collect();
        let weight = Tensor::from_data(TensorData::new(k, [c, 1, 3, 3]), &device);
        let y = conv2d(x, weight, None, ConvOptions::new([1, 1], [1, 1], [1, 1], c));
        let scale = (0.2 + 0.6 * t / 1000.0) as f32;
        let shift: Vec<f32> = cond
            .sizes
            .iter()
            .flat_map(|s| {
                let id = s.time_ids().map(|v| v as f64);
                let sh = (0.05 * cond.pooled as f64
                    + 1e-4 * (id[2] - 0.5 * id[3])
                    + 1e-5 * (id[0] + id[1] + id[4] + id[5])
                    - 0.02) as f32;
                CH[..c].iter().map(move |&ch| ch * sh).collect::<Vec<_>>()
            })
            .collect();
        let shift = Tensor::<B, 4>::from_data(TensorData::new(shift, [n, c, 1, 1]), &device);
        Ok(y.tanh().mul_scalar(scale) + shift)
    }
}

/// A codec that costs nothing: decodes to a mid-grey image and encodes to a zero latent (factor
/// 8, 4 channels), to time the pipelines' own work.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullCodec;

impl<B: Backend> ultrares_core::LatentCodec<B> for NullCodec {
    type Error = ultrares_core::Error;

    fn latent_channels(&self) -> usize {
        4
    }

    fn downscale_factor(&self) -> usize {
        8
    }

    fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        let [n, _, h, w] = image.dims();
        Ok(Tensor::zeros([n, 4, h / 8, w / 8], &image.device()))
    }

    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        let [n, _, h, w] = latent.dims();
        Ok(Tensor::zeros([n, 3, h * 8, w * 8], &latent.device()))
    }
}
