//! Diffusion-4K's GLCM Score of one 2048² image (1024 patches × 16 GLCMs of 64 levels), FID
//! statistics and Fréchet distance of 10,000 × 2048 features, KID with 100 subsets of 1000, and
//! the Compression Ratio (q95 JPEG) of a 4096² image, and pytorch-fid's InceptionV3 features of
//! one 299² image on burn-ndarray (default-initialised weights: the cost does not depend on
//! them). Run with `cargo bench --bench metrics`;
//! the reference is `tools/bench/metrics_reference.py` (eval.py, pytorch-fid, clean-fid, Pillow).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ultrares::core::image::{Rgb, RgbImage};
use ultrares::metrics::{
    FeatureStats, GlcmScoreConfig, JpegConfig, encode_jpeg, fid, glcm_score, kid, kid_f32,
};

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

/// Deterministic pseudo-random features in [-0.5, 0.5) (an LCG; no RNG dependency here).
fn features(n: usize, d: usize, seed: u64, scale: f32, shift: f32) -> Vec<f32> {
    let mut state = seed;
    (0..n * d)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5) * scale + shift
        })
        .collect()
}

/// FID of two sets of 10,000 × 2048 features: streaming statistics, then the Fréchet distance
/// (two 2048² symmetric eigendecompositions); KID with clean-fid's 100 subsets of 1000.
fn frechet(c: &mut Criterion) {
    let (n, d) = (10_000usize, 2048usize);
    let a = features(n, d, 0x2545F4914F6CDD1D, 1.0, 0.0);
    let b = features(n, d, 0x9E3779B97F4A7C15, 1.1, 0.01);
    let stats = |f: &[f32]| {
        let mut s = FeatureStats::new(d).unwrap();
        for chunk in f.chunks(500 * d) {
            s.add(chunk).unwrap();
        }
        s
    };
    let mut g = c.benchmark_group("fid");
    g.sample_size(10);
    g.bench_function("stats_10000x2048_two_sets", |bch| {
        bch.iter(|| black_box((stats(&a), stats(&b))))
    });
    let (sa, sb) = (stats(&a), stats(&b));
    g.bench_function("frechet_distance_2048", |bch| {
        bch.iter(|| black_box(fid(&sa, &sb).unwrap()))
    });
    g.bench_function("kid_100_subsets_of_1000", |bch| {
        bch.iter(|| black_box(kid(&a, &b, d, 100, 1000, 0).unwrap()))
    });
    g.bench_function("kid_f32_100_subsets_of_1000", |bch| {
        bch.iter(|| black_box(kid_f32(&a, &b, d, 100, 1000, 0).unwrap()))
    });
    g.finish();
}

/// Compression Ratio of one 4096² image: Pillow-exact q95 4:2:0 JPEG encoding.
fn jpeg(c: &mut Criterion) {
    let img = procedural(4096);
    let cfg = JpegConfig::default();
    let mut g = c.benchmark_group("compression_ratio");
    g.sample_size(10);
    g.bench_function("jpeg_q95_4096x4096", |b| {
        b.iter(|| black_box(encode_jpeg(&img, &cfg).unwrap().len()))
    });
    g.finish();
}

fn inception(c: &mut Criterion) {
    use burn::tensor::{Distribution, Tensor};
    type B = burn::backend::NdArray<f32>;
    let device = Default::default();
    let model = ultrares::metrics::InceptionV3Config::new().init::<B>(&device);
    let x = Tensor::<B, 4>::random([1, 3, 299, 299], Distribution::Uniform(0.0, 1.0), &device);
    let mut g = c.benchmark_group("inception");
    g.sample_size(10);
    g.bench_function("features_1x299x299", |b| {
        b.iter(|| black_box(model.features(x.clone()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, glcm, frechet, jpeg, inception);
criterion_main!(benches);
