//! Shared by the pipeline tests: gen_pipeline.py's stand-in denoiser, its recomputable noise,
//! the hashed tiny VAE, a replay of the reference run's draws, fixtures and their comparison.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::image::RgbImage;
use ultrares_core::{CodecTiling, LatentCodec, LatentUpsampler, Reporter};
pub use ultrares_pipeline::testing::{StandIn, StandInCond, det_gaussian};
use ultrares_pipeline::{Draw, Randomness};
use ultrares_pipeline::{Intermediate, Observer};
use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig, DiffusersTiling};

/// The test backend.
pub type B = burn_ndarray::NdArray<f32>;

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

/// An npz fixture of `tests/fixtures`.
pub struct Fixture(pub NpzReader<File>);

impl Fixture {
    pub fn open() -> Self {
        Self::named("lsrna_demofusion.npz")
    }

    pub fn named(name: &str) -> Self {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        Self(NpzReader::new(File::open(p).expect("fixture")).expect("npz"))
    }

    pub fn tensor<const D: usize>(&mut self, key: &str) -> Tensor<B, D> {
        let a: ArrayD<f32> = self.0.by_name(key).expect(key);
        let shape: Vec<usize> = a.shape().to_vec();
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect(), shape),
            &Default::default(),
        )
    }

    pub fn ints(&mut self, key: &str) -> Vec<i64> {
        let a: ArrayD<i64> = self.0.by_name(key).expect(key);
        a.iter().copied().collect()
    }

    pub fn image(&mut self, key: &str) -> RgbImage {
        let a: ArrayD<u8> = self.0.by_name(key).expect(key);
        let (h, w) = (a.shape()[0] as u32, a.shape()[1] as u32);
        RgbImage::from_raw(w, h, a.iter().copied().collect()).expect("image")
    }
}

/// Max abs error (the stand-in denoiser is no real ε-predictor: its latents reach |z| ≈ 58,
/// the random-weight decoder's images |x| ≈ 7; the relative error is printed too).
pub fn check<const D: usize>(name: &str, got: &Tensor<B, D>, want: &Tensor<B, D>, tol: f32) {
    assert_eq!(got.dims(), want.dims(), "{name}: shapes differ");
    let err: f32 = (got.clone() - want.clone()).abs().max().into_scalar();
    let scale: f32 = want.clone().abs().max().into_scalar();
    println!(
        "{name}: max abs error {err:.2e} (max |x| = {scale:.1}, relative {:.1e})",
        err / scale
    );
    assert!(err <= tol, "{name}: max abs error {err} > {tol}");
}

/// Max abs error relative to the reference's max |x| (a random-weight UNet's latents reach
/// |x| ≈ 80, so an absolute bound would be looser at small and stricter at large magnitudes).
pub fn check_rel<const D: usize>(name: &str, got: &Tensor<B, D>, want: &Tensor<B, D>, tol: f32) {
    assert_eq!(got.dims(), want.dims(), "{name}: shapes differ");
    let err: f32 = (got.clone() - want.clone()).abs().max().into_scalar();
    let scale: f32 = want.clone().abs().max().into_scalar();
    let rel = err / scale.max(f32::MIN_POSITIVE);
    println!("{name}: relative error {rel:.1e} (max abs {err:.2e}, max |x| = {scale:.1})");
    assert!(rel <= tol, "{name}: relative error {rel:e} > {tol}");
}

/// Keeps every intermediate latent.
#[derive(Default)]
pub struct Keep(pub HashMap<String, Tensor<B, 4>>);

impl Observer<B> for Keep {
    fn on_latent(&mut self, what: Intermediate, latent: &Tensor<B, 4>) {
        self.0.insert(format!("{what:?}"), latent.clone());
    }
}

/// Every `S`-th pixel of the first image: `[C, ⌈H/S⌉, ⌈W/S⌉]`.
pub fn sub<const S: usize>(x: &Tensor<B, 4>) -> Tensor<B, 3> {
    let [_, c, h, w] = x.dims();
    let v: Vec<f32> = x.to_data().to_vec().expect("f32");
    let (hs, ws) = (h.div_ceil(S), w.div_ceil(S));
    let mut out = Vec::with_capacity(c * hs * ws);
    for ch in 0..c {
        for y in (0..h).step_by(S) {
            for xx in (0..w).step_by(S) {
                out.push(v[(ch * h + y) * w + xx]);
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [c, hs, ws]), &Default::default())
}

/// An upsampler that returns a fixed latent: injects the reference run's guide.
pub struct Fixed(pub Tensor<B, 4>);

impl LatentUpsampler<B> for Fixed {
    type Error = std::convert::Infallible;
    fn upsample(&self, _: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>, Self::Error> {
        assert_eq!(self.0.dims()[2..], size);
        Ok(self.0.clone())
    }
}
