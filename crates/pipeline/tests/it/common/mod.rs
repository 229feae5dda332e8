//! Shared by the pipeline tests: gen_pipeline.py's stand-in denoiser, its recomputable noise,
//! the hashed tiny VAE, and a replay of the reference run's draws.
#![allow(dead_code)]

use std::collections::VecDeque;

use burn::prelude::*;
use ultrares_core::{CodecTiling, LatentCodec, Reporter};
pub use ultrares_pipeline::testing::{StandIn, StandInCond, det_gaussian};
use ultrares_pipeline::{Draw, Randomness};
use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig, DiffusersTiling};

/// Replays gen_pipeline.py's draws: noise by purpose (seeds 990, 1000, 1002), jitter as recorded.
#[derive(Default)]
pub struct Replay {
    pub jitter: VecDeque<i64>,
    /// Pixelsmith: `torch.randperm(n)[0]` draws.
    pub perm: VecDeque<i64>,
    /// Pixelsmith: `torch.rand(1)` draws.
    pub rand: VecDeque<f64>,
    /// Round the inversion noise to f16 (Pixelsmith draws it in float16).
    pub half_inversion: bool,
}

impl Randomness for Replay {
    fn gaussian(&mut self, draw: Draw, n: usize) -> ultrares_core::Result<Vec<f32>> {
        let seed = match draw {
            Draw::Initial => 990,
            Draw::RegionNoise => 1000,
            Draw::Inversion => 1002,
            other => panic!("unexpected draw {other:?}"),
        };
        let v = det_gaussian(seed, n);
        if self.half_inversion && draw == Draw::Inversion {
            return Ok(v
                .into_iter()
                .map(|x| burn::tensor::f16::from_f32(x).to_f32())
                .collect());
        }
        Ok(v)
    }

    fn uniform(&mut self) -> ultrares_core::Result<f64> {
        Ok(self
            .rand
            .pop_front()
            .expect("more torch.rand draws than the reference run"))
    }

    fn index(&mut self, n: usize) -> ultrares_core::Result<usize> {
        let v = self
            .perm
            .pop_front()
            .expect("more randperm draws than the reference run");
        assert!(
            (v as usize) < n,
            "randperm index {v} ≥ {n}: the candidate sets differ"
        );
        Ok(v as usize)
    }

    fn randint(&mut self, low: i64, high: i64) -> ultrares_core::Result<i64> {
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
pub fn hashed<B: ultrares_nn::NnBackend>(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    ultrares_vae::testing::hashed(cfg, &Default::default()).expect("hashed VAE")
}

/// The VAE with diffusers' `enable_tiling()` as its plain decode (what LSRNA's main.py sets up).
pub struct DiffusersTiled<B: Backend>(pub AutoencoderKl<B>);

impl<B: ultrares_nn::NnBackend> LatentCodec<B> for DiffusersTiled<B> {
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

    fn decode_tiled_with(
        &self,
        latent: Tensor<B, 4>,
        tiling: &CodecTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>, Self::Error> {
        self.0.decode_tiled_with(latent, tiling, progress)
    }
}
