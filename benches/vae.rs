//! Benchmarks of ultrares-vae on the CPU backend: the SDXL VAE topology (default-initialised
//! weights: the cost does not depend on their values) decoding a `(1, 4, 16, 16)` latent to a
//! 128² image — untiled with the GEMM convolutions (the CPU default), with burn-ndarray's native
//! convolution, and seamless-tiled (8-latent cores, halo 4, 3 statistics passes).
//!
//! `tools/bench/vae_reference.py` times diffusers on the same case; larger cases and peak memory
//! come from `examples/vae_bench.rs`. Run with `cargo bench --bench vae`; figures go in
//! `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::vae::{AutoencoderKlConfig, SeamlessTiling};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_vae(c: &mut Criterion) {
    let device = Default::default();
    let mut g = c.benchmark_group("vae");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let mut vae = AutoencoderKlConfig::sdxl()
        .init::<B>(&device)
        .expect("init");
    let latent = Tensor::<B, 4>::random([1, 4, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    g.throughput(Throughput::Elements(128 * 128));
    g.bench_function("sdxl_decode_16_gemm", |b| {
        b.iter(|| black_box(vae.decode(latent.clone()).expect("decode")))
    });
    let tiling = SeamlessTiling {
        tile: 8,
        halo: 4,
        ..SeamlessTiling::default()
    };
    g.bench_function("sdxl_decode_16_seamless_8", |b| {
        b.iter(|| {
            black_box(
                vae.decode_seamless(latent.clone(), &tiling)
                    .expect("decode"),
            )
        })
    });
    vae.gemm_band = 0;
    g.bench_function("sdxl_decode_16_native_conv", |b| {
        b.iter(|| black_box(vae.decode(latent.clone()).expect("decode")))
    });
    g.finish();
}

criterion_group!(benches, bench_vae);
criterion_main!(benches);
