//! Diffusion-4K's GLCM Score of one 2048² image (1024 patches × 16 GLCMs of 64 levels), the
//! metric's default setting. Run with `cargo bench --bench metrics`; the reference is
//! `tools/bench/metrics_reference.py` (the official eval.py functions).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ultrares::core::image::{Rgb, RgbImage};
use ultrares::metrics::{FeatureStats, GlcmScoreConfig, fid, glcm_score};

/// The procedural test image of `tools/golden/gen_metrics.py`.
fn procedural(n: u32) -> RgbImage {
    RgbImage::from_fn(n, n, |x, y| {
        let (x, y) = (i64::from(x), i64::from(y));
        let base = (x * 7919 + y * 104729 + (x * y) % 251) ^ (x >> 3);
        let smooth = ((x / 16) * 37 + (y / 16) * 53) % 256;
        let r = ((base % 64) + smooth) % 256;
        let g = ((base / 7) % 32 + smooth / 2 + 60) % 256;
        let b = (smooth + (y % 29) * 3) % 256;
        Rgb([r as u8, g as u8, b as u8])
    })
}

fn glcm(c: &mut Criterion) {
    let img = procedural(2048);
    let cfg = GlcmScoreConfig::default();
    let mut g = c.benchmark_group("glcm_score");
    g.sample_size(10);
    g.bench_function("2048x2048_default", |b| {
        b.iter(|| black_box(glcm_score(&img, &cfg).unwrap()))
    });
    g.finish();
}

/// FID from 2048-d statistics of 4096 features per set (the Fréchet distance dominates: two
/// 2048² symmetric eigendecompositions).
fn frechet(c: &mut Criterion) {
    let (n, d) = (4096usize, 2048usize);
    // Deterministic pseudo-random features (an LCG; no RNG dependency in the bench).
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let a: Vec<f32> = (0..n * d).map(|_| next()).collect();
    let b: Vec<f32> = (0..n * d).map(|_| next() * 1.1 + 0.01).collect();
    let mut sa = FeatureStats::new(d).unwrap();
    let mut sb = FeatureStats::new(d).unwrap();
    let mut g = c.benchmark_group("fid");
    g.sample_size(10);
    g.bench_function("stats_4096x2048_two_sets", |bch| {
        bch.iter(|| {
            sa = FeatureStats::new(d).unwrap();
            sb = FeatureStats::new(d).unwrap();
            for (ca, cb) in a.chunks(256 * d).zip(b.chunks(256 * d)) {
                sa.add(ca).unwrap();
                sb.add(cb).unwrap();
            }
        })
    });
    g.bench_function("frechet_distance_2048", |bch| {
        bch.iter(|| black_box(fid(&sa, &sb).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, glcm, frechet);
criterion_main!(benches);
