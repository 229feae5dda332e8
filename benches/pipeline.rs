//! Benchmarks of ultrares-pipeline on the CPU backend: one whole 2048² generation per strategy
//! with gen_pipeline.py's stand-in denoiser (a 3×3 convolution and tanh per latent, CFG 7.5) and a
//! codec that costs nothing, so the figures are the pipelines' own work (views, dilated sampling,
//! skip residuals, scheduler steps) plus the stand-in's. UNet-call counts and the larger sizes
//! (2048×4096, 4096²) come from `examples/pipeline_bench.rs`, the official pipelines' from
//! `tools/bench/pipeline_reference.py`. Run with `cargo bench --bench pipeline`; figures go in
//! `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares::pipeline::testing::{NullCodec, StandIn, StandInCond};
use ultrares::pipeline::{
    BicubicUpsampler, DecodeMode, Guided, GuidedCond, HighResConfig, HighResPipeline,
    SeededRandomness,
};
use ultrares::schedulers::{Ddim, SchedulerConfig};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    let denoiser = Guided { inner: StandIn };
    let cond = |p| StandInCond {
        pooled: p,
        sizes: Vec::new(),
    };
    let cond = GuidedCond::new(cond(0.7), cond(-0.3), 7.5);
    for (name, config) in [
        (
            "lsrna_demofusion_2048",
            HighResConfig::lsrna_demofusion(2048, 2048),
        ),
        ("demofusion_2048", HighResConfig::demofusion(2048, 2048)),
    ] {
        let config = HighResConfig {
            decode: DecodeMode::Full,
            ..config
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let ddim = Ddim::new(SchedulerConfig::sdxl(), 50).expect("ddim");
                let mut pipe = HighResPipeline::<B, _, _, _, _>::new(
                    &denoiser,
                    &NullCodec,
                    &BicubicUpsampler,
                    ddim,
                );
                let mut rng = SeededRandomness::new(0);
                black_box(
                    pipe.generate(&config, &cond, &Default::default(), &mut rng, &mut ())
                        .expect("generate"),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_pipeline);
criterion_main!(benches);
