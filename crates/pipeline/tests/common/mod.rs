//! Shared by the pipeline tests: gen_pipeline.py's stand-in denoiser, its recomputable noise,
//! the hashed tiny VAE, and a replay of the reference run's draws.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use ultrares_core::testing::{det_weight, splitmix_uniform};
use ultrares_core::{CodecTiling, Denoiser, LatentCodec, PredictionType, StateDict};
use ultrares_pipeline::{Draw, Randomness, SizeCond, ViewConditioning};
use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig, DiffusersTiling};

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

/// Replays gen_pipeline.py's draws: noise by purpose (seeds 990, 1000, 1002), jitter as recorded.
pub struct Replay {
    pub jitter: VecDeque<i64>,
}

impl Randomness for Replay {
    fn gaussian(&mut self, draw: Draw, n: usize) -> ultrares_pipeline::Result<Vec<f32>> {
        let seed = match draw {
            Draw::Initial => 990,
            Draw::RegionNoise => 1000,
            Draw::Inversion => 1002,
            other => panic!("unexpected draw {other:?}"),
        };
        Ok(det_gaussian(seed, n))
    }

    fn randint(&mut self, low: i64, high: i64) -> ultrares_pipeline::Result<i64> {
        let v = self
            .jitter
            .pop_front()
            .expect("more jitter draws than the reference run");
        assert!(
            (low..=high).contains(&v),
            "{v} outside [{low}, {high}]: draw order differs"
        );
        Ok(v)
    }
}

/// gen_pipeline.py's VAE: 4 blocks of 8 channels, 4 groups, no mid attention, SDXL scaling.
pub fn tiny_vae_config() -> AutoencoderKlConfig {
    AutoencoderKlConfig {
        layers_per_block: 1,
        norm_num_groups: 4,
        sample_size: 1024,
        scaling_factor: 0.13025,
        mid_block_add_attention: false,
        force_upcast: false,
        ..AutoencoderKlConfig::new(vec![8, 8, 8, 8])
    }
}

/// The model of `cfg` with gen_vae.py's hashed weights.
pub fn hashed<B: Backend>(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    let device = Default::default();
    let shapes = cfg.init::<B>(&device).expect("init").state_dict();
    let sd = StateDict::from_tensors(
        "hashed",
        shapes
            .keys()
            .map(|k| {
                let shape = shapes.get(k).expect("key").shape.clone();
                (k.to_string(), TensorData::new(det_weight(k, &shape), shape))
            })
            .collect::<Vec<_>>(),
    );
    cfg.load(&sd, &device).expect("load")
}

/// The VAE with diffusers' `enable_tiling()` as its plain decode (what LSRNA's main.py sets up).
pub struct DiffusersTiled<B: Backend>(pub AutoencoderKl<B>);

impl<B: Backend> LatentCodec<B> for DiffusersTiled<B> {
    type Error = ultrares_vae::Error;

    fn latent_channels(&self) -> usize {
        4
    }

    fn downscale_factor(&self) -> usize {
        8
    }

    fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        self.0.encode(image)
    }

    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        self.0
            .decode_tiled_diffusers(latent, &DiffusersTiling::new(1024, 128))
    }

    fn decode_tiled(
        &self,
        latent: Tensor<B, 4>,
        tiling: &CodecTiling,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        self.0.decode_tiled(latent, tiling)
    }
}
