//! One SDXL base UNet evaluation on the CPU backend (real topology, 2,567,463,684 parameters,
//! Burn's default initialisation: the cost does not depend on the values): N = 2 (one CFG pair),
//! a 32² latent (256² pixels), 77 text tokens, f32 — ≈ 0.86 TFLOP. The 128² case of the issue is
//! 16× the work (≈ 13.5 TFLOP); it is timed once by `tools/bench/unet_reference.py --size 128`
//! and `examples/unet_bench.rs`.
//!
//! `tools/bench/unet_reference.py` times diffusers on the same case. Run with
//! `cargo bench -p ultrares-unet`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_unet::{AddedCond, UNet2DConditionConfig};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_unet(c: &mut Criterion) {
    let device = Default::default();
    let mut g = c.benchmark_group("unet");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    let unet = UNet2DConditionConfig::sdxl_base()
        .init::<B>(&device)
        .expect("init");
    let n = 2;
    let normal = Distribution::Normal(0.0, 1.0);
    let sample = Tensor::<B, 4>::random([n, 4, 32, 32], normal, &device);
    let t = Tensor::<B, 1>::from_floats([500.0], &device);
    let ehs = Tensor::<B, 3>::random([n, 77, 2048], normal, &device);
    let added = AddedCond {
        text_embeds: Tensor::random([n, 1280], normal, &device),
        time_ids: Tensor::from_floats([[256.0, 256.0, 0.0, 0.0, 256.0, 256.0]; 2], &device),
    };
    g.bench_function("sdxl_base_2x32x32_f32", |b| {
        b.iter(|| {
            black_box(
                unet.forward(sample.clone(), t.clone(), ehs.clone(), Some(added.clone()))
                    .expect("forward"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_unet);
criterion_main!(benches);
