//! Benchmarks of ultrares-core's hot helpers on the CPU backend: seeded noise for a 4K latent
//! and a 4K image, and DemoFusion-style split + merge over a 4K latent.
//!
//! Run with `cargo bench --bench core`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;

use burn::backend::NdArray;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::core::noise::{gaussian, gaussian_vec};
use ultrares::core::tiling::{Blend, TileConfig, TilePlan};

type B = NdArray<f32>;

fn noise(c: &mut Criterion) {
    let mut g = c.benchmark_group("noise");
    // SDXL latent of a 4096² image, and the 4096² RGB image itself.
    for (name, n) in [
        ("gaussian_latent_4x512x512", 4 * 512 * 512),
        ("gaussian_image_3x4096x4096", 3 * 4096 * 4096),
    ] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| b.iter(|| black_box(gaussian_vec(n, 42).unwrap())));
    }
    g.finish();
}

fn tiling(c: &mut Criterion) {
    let dev = Default::default();
    let x = gaussian::<B, 4>([1, 4, 512, 512], 1, &dev).unwrap();
    let plan = TilePlan::new(512, 512, TileConfig::demofusion(7)).unwrap();
    let mut g = c.benchmark_group("tiling");
    g.sample_size(20);
    g.throughput(Throughput::Elements((4 * 512 * 512) as u64));
    g.bench_function("split_merge_4x512x512_demofusion_49_views", |b| {
        b.iter(|| {
            let tiles = plan.split(x.clone()).unwrap();
            black_box(plan.merge(tiles, Blend::Average).unwrap().into_data())
        })
    });
    g.finish();
}

criterion_group!(benches, noise, tiling);
criterion_main!(benches);
