//! One WaveDiff training iteration (`Trainer::step`: discriminator step, generator step, EMA) on
//! the CPU backend, for the cifar10 family at reduced width — `tools/bench/wavediff_train_model.json`
//! (NCSNpp nf 32, ch_mult 1 2 2, 2 blocks per level, attention at 16², `Discriminator_small`
//! ngf 32), batch 16 — with and without the R1 step (which runs every `lazy_reg` iterations).
//!
//! `tools/bench/wavediff_train_reference.py tools/bench/wavediff_train_model.json 16 4` times the
//! official loop on the same model. Run with `cargo bench -p ultrares-wavediff --bench train`;
//! figures go in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_core::SeededRandomness;
use ultrares_wavediff::{IterationNoise, OfficialArgs, Preset, StepNoise, TrainOptions, Trainer};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_train(c: &mut Criterion) {
    let device = Default::default();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/bench/wavediff_train_model.json"
    );
    let args =
        OfficialArgs::from_json(&ultrares_nn::ConfigJson::read(path).expect("json")).expect("args");
    let mut g = c.benchmark_group("wavediff");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    for (name, lazy_reg) in [
        ("train_iteration_b16", usize::MAX),
        ("train_iteration_r1_b16", 1),
    ] {
        let mut options = TrainOptions::preset(Preset::Cifar10);
        options.training.lazy_reg = lazy_reg;
        let mut trainer = Trainer::<B>::init(
            args.generator.clone(),
            args.discriminator.clone(),
            options,
            &device,
        )
        .expect("trainer");
        let images = Tensor::<B, 4>::random(
            [16, 3, 32, 32],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let real = trainer.real_data(images).expect("real data");
        let mut rng = SeededRandomness::new(0);
        let mut noise = || IterationNoise {
            d: StepNoise::draw(&mut rng, real.dims(), args.generator.nz, 4, &device)
                .expect("noise"),
            g: StepNoise::draw(&mut rng, real.dims(), args.generator.nz, 4, &device)
                .expect("noise"),
        };
        // The first iteration always runs R1 (global_step 0): take it out of the measurement.
        trainer.step(real.clone(), noise()).expect("step");
        g.bench_function(name, |b| {
            b.iter(|| black_box(trainer.step(real.clone(), noise()).expect("step")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_train);
criterion_main!(benches);
