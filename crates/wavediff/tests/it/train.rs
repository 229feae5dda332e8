//! `Trainer`: WaveDiff's training iteration (`train_wddgan.py`).

use burn::backend::Autodiff;
use burn::prelude::*;
use ultrares_core::SeededRandomness;
use ultrares_wavediff::{
    Discriminator, DiscriminatorConfig, DiscriminatorKind, IterationNoise, Ncsnpp, StepNoise,
    TrainOptions, Trainer,
};

use crate::common::{self, B};

fn tiny_trainer(rec_loss: bool) -> Trainer<B> {
    let device = Default::default();
    let args = common::official("netG_small");
    let g = Ncsnpp::<Autodiff<B>>::new(args.generator.clone(), &device).expect("generator");
    let d = Discriminator::<Autodiff<B>>::new(
        DiscriminatorConfig {
            kind: DiscriminatorKind::Large,
            num_channels: 12,
            ngf: 8,
            t_emb_dim: 16,
            num_layers: 3,
        },
        &device,
    )
    .expect("discriminator");
    let mut options = TrainOptions::preset(ultrares_wavediff::Preset::Celeba256);
    options.rec_loss = rec_loss;
    options.training.lazy_reg = 2;
    options.num_timesteps = args.num_timesteps;
    options.band_order = args.band_order;
    Trainer::new(g, d, options).expect("trainer")
}

#[test]
fn seeded_iterations_run_and_the_ema_starts_at_the_weights() {
    let mut trainer = tiny_trainer(true);
    let device = Default::default();
    let s = trainer.generator.config.image_size;
    let images = Tensor::<B, 4>::random(
        [2, 3, 2 * s, 2 * s],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let real = trainer.real_data(images).expect("real data");
    let mut rng = SeededRandomness::new(3);
    let shape = real.dims();
    let nz = trainer.generator.config.nz;
    let steps = trainer.options().num_timesteps;
    for k in 0..2 {
        let noise = IterationNoise {
            d: StepNoise::draw(&mut rng, shape, nz, steps, &device).expect("noise"),
            g: StepNoise::draw(&mut rng, shape, nz, steps, &device).expect("noise"),
        };
        let t0 = std::time::Instant::now();
        let losses = trainer.step(real.clone(), noise).expect("step");
        eprintln!(
            "iteration {k}: {losses:?} in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(
            losses.r1.is_some(),
            k == 0,
            "R1 every lazy_reg = 2 iterations"
        );
        assert!(losses.err_g().is_finite() && losses.err_d().is_finite());
    }
}
