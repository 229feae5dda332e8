//! `HighResPipeline::upscale` runs exactly the high-resolution phases of `generate`: with a codec
//! whose `encode` returns `generate`'s reference latent for its decoded reference image, and the
//! same random draws after the initial noise, every strategy's final latent equals `generate`'s.

use crate::common;

use burn::prelude::*;
use burn_ndarray::NdArray;
use common::{StandIn, StandInCond, hashed, tiny_vae_config};
use ultrares_core::{Draw, Guided, GuidedCond, LatentCodec, Randomness};
use ultrares_pipeline::{
    BicubicUpsampler, Error, HighResConfig, HighResPipeline, SeededRandomness,
};
use ultrares_schedulers::{Ddim, SchedulerConfig};
use ultrares_vae::AutoencoderKl;

type B = NdArray<f32>;

/// The VAE, except that `encode` returns a fixed latent.
struct Oracle<'a> {
    vae: &'a AutoencoderKl<B>,
    latent: Tensor<B, 4>,
}

impl LatentCodec<B> for Oracle<'_> {
    type Error = ultrares_vae::Error;
    fn latent_channels(&self) -> usize {
        self.vae.latent_channels()
    }
    fn downscale_factor(&self) -> usize {
        LatentCodec::<B>::downscale_factor(self.vae)
    }
    fn encode(&self, _: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        Ok(self.latent.clone())
    }
    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>, Self::Error> {
        self.vae.decode(latent)
    }
}

fn cond() -> GuidedCond<StandInCond> {
    let c = |pooled| StandInCond {
        pooled,
        sizes: Vec::new(),
    };
    GuidedCond::new(c(0.7), c(-0.3), 7.5)
}

fn small(mut c: HighResConfig) -> HighResConfig {
    // A 64 px "native" size keeps the tiny VAE and the stand-in fast.
    c.native_size = 64;
    c.window = 8;
    c.stride = 4;
    c.gradient_width = 2;
    c.sliders = vec![2];
    c
}

#[test]
fn upscale_equals_generate_after_the_reference() {
    let vae = hashed::<B>(&tiny_vae_config());
    let denoiser = Guided { inner: StandIn };
    for config in [
        small(HighResConfig::lsrna_demofusion(128, 128)),
        small(HighResConfig::demofusion(128, 128)),
        small(HighResConfig::lsrna_pixelsmith(128, 128)),
    ] {
        let ddim = || Ddim::new(SchedulerConfig::sdxl(), 6).expect("ddim");
        let mut config = config;
        config.inversion_depth = 3;
        let mut pipe = HighResPipeline::new(&denoiser, &vae, &BicubicUpsampler, ddim());
        let mut rng = SeededRandomness::new(7);
        let want = pipe
            .generate(&config, &cond(), &Default::default(), &mut rng, &mut ())
            .expect("generate");
        let reference = want.reference_latent.clone().expect("reference");
        let image = want.reference_image.clone().expect("image");
        let oracle = Oracle {
            vae: &vae,
            latent: reference,
        };
        let mut pipe = HighResPipeline::new(&denoiser, &oracle, &BicubicUpsampler, ddim());
        let mut rng = SeededRandomness::new(7);
        rng.gaussian(Draw::Initial, 1)
            .expect("skip the initial noise");
        let got = pipe
            .upscale(
                &config,
                &cond(),
                image,
                &Default::default(),
                &mut rng,
                &mut (),
            )
            .expect("upscale");
        let diff: f32 = (got.latent - want.latent).abs().max().into_scalar();
        assert_eq!(diff, 0.0, "{:?}", config.strategy);
    }
}

#[test]
fn upscale_refuses_direct_and_wrong_image_sizes() {
    let vae = hashed::<B>(&tiny_vae_config());
    let denoiser = Guided { inner: StandIn };
    let ddim = || Ddim::new(SchedulerConfig::sdxl(), 6).expect("ddim");
    let mut pipe = HighResPipeline::new(&denoiser, &vae, &BicubicUpsampler, ddim());
    let d = Default::default();
    let image = Tensor::<B, 4>::zeros([1, 3, 64, 64], &d);
    let mut rng = SeededRandomness::new(0);
    let direct = small(HighResConfig::direct(128, 128));
    match pipe.upscale(&direct, &cond(), image, &d, &mut rng, &mut ()) {
        Err(Error::Argument {
            arg: "strategy", ..
        }) => {}
        other => panic!("direct: {:?}", other.map(|_| ())),
    }
    let config = small(HighResConfig::demofusion(128, 128));
    let wrong = Tensor::<B, 4>::zeros([1, 3, 64, 48], &d);
    match pipe.upscale(&config, &cond(), wrong, &d, &mut rng, &mut ()) {
        Err(Error::Argument { arg: "image", .. }) => {}
        other => panic!("size: {:?}", other.map(|_| ())),
    }
}
