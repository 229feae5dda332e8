//! Benchmarks of ultrares-rna: OpenCV-exact Canny on 1024² and 4096² gray images at LSRNA's
//! (0, 255) and at (100, 200), and the full noise-scale map of a 4096² reference for a 512²
//! latent (gray → Canny → adaptive pooling → min-max).
//!
//! The inputs are deterministic photo-like images (smooth structure plus texture) generated
//! identically by `tools/bench/rna_reference.py`, which times `cv2.Canny` in the same session.
//! Run with `cargo bench --bench rna`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::core::image::{GrayImage, RgbImage, rgb8_to_gray8};
use ultrares::rna::RegionNoiseConfig;
use ultrares::rna::canny::{CannyConfig, canny};

/// The synthetic test image of `tools/bench/rna_reference.py` (same formula, same bytes).
fn synthetic_rgb(n: u32) -> RgbImage {
    RgbImage::from_fn(n, n, |x, y| {
        let (xf, yf) = (x as f64 / n as f64, y as f64 / n as f64);
        let base = 127.5 + 60.0 * (12.0 * xf).sin() * (9.0 * yf).cos();
        let disc = if (xf - 0.6).powi(2) + (yf - 0.4).powi(2) < 0.04 {
            50.0
        } else {
            0.0
        };
        // Integer hash texture (same in Python): ((x * 73856093) ^ (y * 19349663)) % 41 - 20.
        let tex = (((x as u64 * 73_856_093) ^ (y as u64 * 19_349_663)) % 41) as f64 - 20.0;
        let v = |k: f64| (base + disc + tex * k).round().clamp(0.0, 255.0) as u8;
        image::Rgb([v(1.0), v(0.7), v(0.4)])
    })
}

fn bench_canny(c: &mut Criterion) {
    let mut g = c.benchmark_group("canny");
    g.sample_size(10);
    for n in [1024u32, 4096] {
        let gray: GrayImage = rgb8_to_gray8(&synthetic_rgb(n));
        g.throughput(Throughput::Elements((n * n) as u64));
        for (name, cfg) in [
            ("0_255", CannyConfig::lsrna()),
            ("100_200", CannyConfig::new(100.0, 200.0)),
        ] {
            g.bench_function(format!("{n}x{n}_{name}"), |b| {
                b.iter(|| black_box(canny(&gray, &cfg).unwrap()))
            });
        }
    }
    g.finish();
}

fn bench_rna_map(c: &mut Criterion) {
    let img = synthetic_rgb(4096);
    let cfg = RegionNoiseConfig::demofusion();
    let mut g = c.benchmark_group("rna");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4096 * 4096));
    g.bench_function("std_map_4096_to_512", |b| {
        b.iter(|| black_box(cfg.std_map(&img, [512, 512]).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_canny, bench_rna_map);
criterion_main!(benches);
