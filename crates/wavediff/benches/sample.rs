//! WaveDiff sampling on the CPU backend with the real generator topologies (official
//! initialisation: the cost does not depend on the values): the whole `sample_from_model` loop
//! (T generator calls and posterior steps), `×2`, IDWT and clamp, per preset and batch —
//! cifar10 (`NCSNpp`, 16² wavelet tensor, T = 4, batch 8), stl10 (32², T = 4, batch 4) and
//! celeba_256 (128², T = 2, batch 1).
//!
//! `tools/bench/wavediff_reference.py` times the official code (`WaveDiff@f1ad48b`,
//! `sample_from_model` + IDWT) on the same cases. Run with `cargo bench -p ultrares-wavediff`;
//! figures go in `docs/benchmarks.md` (divide by the batch for the time per image).

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_wavediff::{Ncsnpp, Preset, SampleNoise, Sampler};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_sample(c: &mut Criterion) {
    let device = Default::default();
    let mut g = c.benchmark_group("wavediff");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (preset, batch) in [
        (Preset::Cifar10, 8),
        (Preset::Stl10, 4),
        (Preset::Celeba256, 1),
    ] {
        let config = preset.generator();
        let model = Ncsnpp::<B>::new(config.clone(), &device).expect("config");
        let sampler = Sampler::preset(preset).expect("sampler");
        let noise = SampleNoise::<B>::seeded(0, 0..batch, &config, sampler.steps(), &device)
            .expect("noise");
        g.bench_function(format!("sample_{preset}_b{batch}"), |b| {
            b.iter(|| black_box(sampler.sample(&model, noise.clone()).expect("sample")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_sample);
criterion_main!(benches);
