//! Diffusion-4K's GLCM Score of one 2048² image (1024 patches × 16 GLCMs of 64 levels), the
//! metric's default setting. Run with `cargo bench --bench metrics`; the reference is
//! `tools/bench/metrics_reference.py` (the official eval.py functions).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ultrares::core::image::{Rgb, RgbImage};
use ultrares::metrics::{GlcmScoreConfig, glcm_score};

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

criterion_group!(benches, glcm);
criterion_main!(benches);
