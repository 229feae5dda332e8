//! Seeded noise: determinism, backend independence, and statistics.

use burn::backend::NdArray;
use ultrares_core::Error;
use ultrares_core::noise::*;

type B = NdArray<f32>;

#[test]
fn same_seed_same_values_other_seed_other_values() {
    let dev = Default::default();
    let a = gaussian::<B, 4>([2, 4, 33, 17], 7, &dev)
        .unwrap()
        .into_data();
    let b = gaussian::<B, 4>([2, 4, 33, 17], 7, &dev)
        .unwrap()
        .into_data();
    let c = gaussian::<B, 4>([2, 4, 33, 17], 8, &dev)
        .unwrap()
        .into_data();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let u1 = uniform::<B, 2>([300, 300], -1.0, 3.0, 1, &dev)
        .unwrap()
        .into_data();
    let u2 = uniform::<B, 2>([300, 300], -1.0, 3.0, 1, &dev)
        .unwrap()
        .into_data();
    assert_eq!(u1, u2);
}

#[test]
fn tensor_values_are_the_host_stream_and_shorter_draws_are_prefixes() {
    // The tensor holds exactly the documented host stream, so any backend receives these values.
    let dev = Default::default();
    let n = 3 * NOISE_BLOCK + 5;
    let host = gaussian_vec(n, 99).unwrap();
    let t = gaussian::<B, 1>([n], 99, &dev)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(host, t);
    assert_eq!(&gaussian_vec(1001, 99).unwrap()[..], &host[..1001]);
    assert_eq!(
        &uniform_vec(NOISE_BLOCK + 3, 5).unwrap()[..],
        &uniform_vec(2 * NOISE_BLOCK, 5).unwrap()[..NOISE_BLOCK + 3]
    );
}

#[test]
fn stream_follows_the_documented_contract() {
    // An independent transcription of the module docs: block b = ChaCha8 keyed by
    // seed_from_u64(seed), stream b, from word 0; Box–Muller on 53-bit uniforms; uniform = top
    // 24 bits of next_u32 × 2⁻²⁴.
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let seed = 1234;
    let n = NOISE_BLOCK + 6;
    let g = gaussian_vec(n, seed).unwrap();
    let u = uniform_vec(n, seed).unwrap();
    for (block, offset) in [(0usize, 0usize), (1, NOISE_BLOCK)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(block as u64);
        for k in 0..3 {
            let a = rng.next_u64();
            let b = rng.next_u64();
            let u1 = ((a >> 11) + 1) as f64 / 2f64.powi(53);
            let u2 = (b >> 11) as f64 / 2f64.powi(53);
            let r = (-2.0 * u1.ln()).sqrt();
            let angle = 2.0 * std::f64::consts::PI * u2;
            assert_eq!(g[offset + 2 * k], (r * angle.cos()) as f32);
            assert_eq!(g[offset + 2 * k + 1], (r * angle.sin()) as f32);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(block as u64);
        for k in 0..6 {
            assert_eq!(u[offset + k], (rng.next_u32() >> 8) as f32 / 16_777_216.0);
        }
    }
}

fn moments(v: &[f32]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let m = |p: i32| v.iter().map(|&x| (x as f64 - mean).powi(p)).sum::<f64>() / n;
    (mean, m(2), m(3), m(4))
}

#[test]
fn gaussian_statistics_over_a_million_draws() {
    let n = 1_000_000;
    let v = gaussian_vec(n, 2024).unwrap();
    let (mean, var, m3, m4) = moments(&v);
    let nf = n as f64;
    // Standard errors for N(0,1): mean 1/√n, variance √(2/n), third moment √(15/n),
    // fourth moment √(96/n). Allow 5 standard errors.
    assert!(mean.abs() < 5.0 / nf.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "var {var}");
    assert!(m3.abs() < 5.0 * (15.0 / nf).sqrt(), "skew {m3}");
    assert!((m4 - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(), "kurtosis {m4}");
    // Tails: P(|z| > 3) = 0.0026998; binomial standard error.
    let p = v.iter().filter(|x| x.abs() > 3.0).count() as f64 / nf;
    let se = (0.0027 * (1.0 - 0.0027) / nf).sqrt();
    assert!((p - 0.0026998).abs() < 5.0 * se, "tail {p}");
}

#[test]
fn uniform_statistics_over_a_million_draws() {
    let n = 1_000_000;
    let v = uniform_vec(n, 11).unwrap();
    let (mean, var, _, _) = moments(&v);
    let nf = n as f64;
    // U[0,1): mean 1/2 (se √(1/12n)), variance 1/12 (se √(1/180n)).
    assert!(
        (mean - 0.5).abs() < 5.0 * (1.0 / (12.0 * nf)).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var - 1.0 / 12.0).abs() < 5.0 * (1.0 / (180.0 * nf)).sqrt(),
        "var {var}"
    );
    assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
    // Decile counts: χ² with 9 degrees of freedom, 99.9% quantile 27.9.
    let mut bins = [0f64; 10];
    for x in &v {
        bins[(x * 10.0) as usize] += 1.0;
    }
    let chi2: f64 = bins
        .iter()
        .map(|b| (b - nf / 10.0).powi(2) / (nf / 10.0))
        .sum();
    assert!(chi2 < 27.9, "chi2 {chi2}");
    // Scaled range.
    let t = uniform::<B, 1>([100_000], -2.0, 6.0, 3, &Default::default()).unwrap();
    let w = t.into_data().to_vec::<f32>().unwrap();
    assert!(w.iter().all(|x| (-2.0..6.0).contains(x)));
}

#[test]
fn neighbouring_blocks_are_uncorrelated() {
    let v = gaussian_vec(2 * NOISE_BLOCK, 5).unwrap();
    let (a, b) = v.split_at(NOISE_BLOCK);
    let c: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum::<f64>()
        / NOISE_BLOCK as f64;
    assert!(c.abs() < 5.0 / (NOISE_BLOCK as f64).sqrt(), "corr {c}");
}

#[test]
fn bad_arguments_are_errors() {
    let dev = Default::default();
    assert!(matches!(
        gaussian::<B, 4>([1, 0, 4, 4], 0, &dev),
        Err(Error::Shape { arg: "shape", .. })
    ));
    assert!(matches!(
        gaussian::<B, 4>([1 << 20, 1 << 20, 1 << 20, 1], 0, &dev),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        gaussian::<B, 4>([usize::MAX, 2, 1, 1], 0, &dev),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        uniform::<B, 1>([4], 1.0, 1.0, 0, &dev),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        uniform::<B, 1>([4], f32::NAN, 1.0, 0, &dev),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        gaussian_vec(MAX_NOISE_ELEMENTS + 1, 0),
        Err(Error::TooLarge { .. })
    ));
}
