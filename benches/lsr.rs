//! Benchmarks of ultrares-lsr on the CPU backend: LSRNA's LSR ×4 of a `(1, 4, 128, 128)` latent
//! (SDXL 1K → 4K latent, `LiifConfig::lsrna_sdxl`, default-initialised weights: the cost does
//! not depend on their values) and LIIF-EDSR ×4 of a 128² RGB image (→ 512²) with the bundled
//! real weights.
//!
//! `tools/bench/lsr_reference.py` times the official PyTorch code on the same inputs; peak memory
//! and the 512² → 2048² LIIF case (one run) come from `examples/lsr_bench.rs`. Run with
//! `cargo bench --bench lsr [--features openblas]`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::lsr::{Liif, LiifConfig};

type B = NdArray<f32>;

fn bench_lsr(c: &mut Criterion) {
    let device = Default::default();
    let mut g = c.benchmark_group("lsr");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    // 4096-query chunks: cache-sized on the CPU (the presets keep upstream's 512² and 30,000).
    let lsr = LiifConfig::lsrna_sdxl()
        .with_chunk(4096)
        .init::<B>(&device)
        .expect("init");
    let latent = Tensor::<B, 4>::random([1, 4, 128, 128], Distribution::Normal(0.0, 1.0), &device);
    g.throughput(Throughput::Elements(512 * 512));
    g.bench_function("lsrna_x4_128_to_512", |b| {
        b.iter(|| black_box(lsr.forward(latent.clone(), [512, 512]).expect("lsr")))
    });
    let weights = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/lsr/assets/liif/edsr-baseline-liif.safetensors"
    );
    let mut liif = Liif::<B>::from_checkpoint(weights, &device).expect("weights");
    liif.chunk = 4096;
    let image = Tensor::<B, 4>::random([1, 3, 128, 128], Distribution::Uniform(0.0, 1.0), &device);
    g.bench_function("liif_edsr_x4_128_to_512", |b| {
        b.iter(|| black_box(liif.upscale(image.clone(), [512, 512]).expect("liif")))
    });
    g.finish();
}

criterion_group!(benches, bench_lsr);
criterion_main!(benches);
