//! FID / KID / IS statistics against pytorch-fid 0.3.0, clean-fid 0.1.35 and torch-fidelity
//! 0.4.0 (`tools/golden/gen_metrics.py`).

use crate::common;

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use ultrares_metrics::{Error, FeatureStats, fid, frechet_distance, inception_score, kid, kid_f32};

fn load() -> (HashMap<String, ArrayD<f32>>, HashMap<String, ArrayD<f64>>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats.npz");
    let mut npz = NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let (mut f32s, mut f64s) = (HashMap::new(), HashMap::new());
    for name in npz.names().unwrap() {
        let key = name.trim_end_matches(".npy").to_string();
        match npz.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&name) {
            Ok(a) => {
                f32s.insert(key, a);
            }
            Err(_) => {
                f64s.insert(
                    key,
                    npz.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&name)
                        .unwrap(),
                );
            }
        }
    }
    (f32s, f64s)
}

fn stats_of(x: &ArrayD<f32>, batch: usize) -> FeatureStats {
    let d = x.shape()[1];
    let mut s = FeatureStats::new(d).unwrap();
    for chunk in x.as_slice().unwrap().chunks(batch * d) {
        s.add(chunk).unwrap();
    }
    s
}

#[test]
fn streaming_statistics_equal_numpy() {
    let (f, g) = load();
    // Batches of 7 rows (and one of everything) give numpy's mean and np.cov.
    for batch in [7, 200] {
        let s = stats_of(&f["a"], batch);
        assert_eq!(s.count(), 200);
        for (x, y) in s.mean().iter().zip(g["mu_a"].iter()) {
            assert!((x - y).abs() < 1e-12, "mean");
        }
        for (x, y) in s.covariance().unwrap().iter().zip(g["sigma_a"].iter()) {
            assert!((x - y).abs() < 1e-12, "cov");
        }
    }
}

#[test]
fn fid_kid_is_equal_the_references() {
    let (f, g) = load();
    let got = fid(&stats_of(&f["a"], 64), &stats_of(&f["b"], 64)).unwrap();
    let want = g["fid"][[0]];
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "FID {got} vs pytorch-fid {want}"
    );
    // Identical statistics: 0 (up to round-off of the eigen square roots).
    let s = stats_of(&f["a"], 64);
    assert!(fid(&s, &s).unwrap().abs() < 1e-9);
    let got = kid(
        f["c"].as_slice().unwrap(),
        f["d"].as_slice().unwrap(),
        32,
        1,
        1000,
        0,
    )
    .unwrap();
    let want = g["kid"][[0]];
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
        "KID {got} vs clean-fid {want}"
    );
    // f32 Gram products: at least as close to the float64 value as clean-fid's own float32 run
    // (1.7e-5 relative here).
    let fast = kid_f32(
        f["c"].as_slice().unwrap(),
        f["d"].as_slice().unwrap(),
        32,
        1,
        1000,
        0,
    )
    .unwrap();
    let clean_fid_f32_error = (g["kid_f32"][[0]] - want).abs();
    assert!(
        (fast - want).abs() <= clean_fid_f32_error,
        "kid_f32 {fast} vs {want}: clean-fid float32 is {clean_fid_f32_error} off"
    );
    let (m, sd) = inception_score(f["logits"].as_slice().unwrap(), 10, 5).unwrap();
    assert!(
        (m - g["is"][[0]]).abs() < 1e-9 && (sd - g["is"][[1]]).abs() < 1e-9,
        "IS {m} ± {sd}"
    );
}

#[test]
fn kid_subsets_are_seeded() {
    let (f, _) = load();
    let (c, d) = (f["c"].as_slice().unwrap(), f["d"].as_slice().unwrap());
    let a = kid(c, d, 32, 10, 50, 7).unwrap();
    assert_eq!(a, kid(c, d, 32, 10, 50, 7).unwrap());
    assert_ne!(a, kid(c, d, 32, 10, 50, 8).unwrap());
    let f = kid_f32(c, d, 32, 10, 50, 7).unwrap();
    assert_eq!(f, kid_f32(c, d, 32, 10, 50, 7).unwrap());
    assert_ne!(f, kid_f32(c, d, 32, 10, 50, 8).unwrap());
}

#[test]
fn bad_statistics_are_errors() {
    assert!(matches!(FeatureStats::new(0), Err(Error::Argument(_))));
    let mut s = FeatureStats::new(3).unwrap();
    assert!(matches!(s.add(&[1.0f32, 2.0]), Err(Error::Argument(_))));
    assert!(matches!(
        s.add(&[1.0f32, f32::NAN, 2.0]),
        Err(Error::Argument(_))
    ));
    s.add(&[1.0f32, 2.0, 3.0]).unwrap();
    assert!(
        matches!(s.covariance(), Err(Error::Argument(_))),
        "one sample"
    );
    assert!(matches!(
        frechet_distance(&[0.0; 2], &[0.0; 4], &[0.0; 3], &[0.0; 9]),
        Err(Error::Argument(_))
    ));
    assert!(matches!(
        frechet_distance(&[f64::NAN], &[1.0], &[0.0], &[1.0]),
        Err(Error::Argument(_))
    ));
    assert!(
        matches!(
            kid(&[0.0; 3], &[0.0; 6], 3, 1, 1000, 0),
            Err(Error::Argument(_))
        ),
        "one row"
    );
    assert!(
        matches!(
            kid(&[0.0; 6], &[0.0; 6], 3, 0, 1000, 0),
            Err(Error::Argument(_))
        ),
        "no subsets"
    );
    for (x, y) in [
        ([f32::NAN, 0.0], [0.0; 2]),
        ([0.0; 2], [0.0, f32::INFINITY]),
    ] {
        assert!(
            matches!(kid_f32(&x, &y, 1, 1, 1000, 0), Err(Error::Argument(_))),
            "non-finite features"
        );
    }
    assert!(matches!(
        inception_score(&[0.0; 10], 10, 2),
        Err(Error::Argument(_))
    ));
    assert!(matches!(
        inception_score(&[0.0; 9], 10, 1),
        Err(Error::Argument(_))
    ));
}

/// A covariance from fewer samples than dimensions is singular: no Cholesky factor, so the
/// Σ₁^½ path runs. FID is symmetric, and swapping the sets takes the Cholesky path instead.
#[test]
fn singular_covariance_takes_the_eigen_path_and_agrees() {
    let (f, _) = load();
    let a = &f["a"]; // 200 × 32: positive definite
    let few: Vec<f32> = f["b"].as_slice().unwrap()[..10 * 32].to_vec(); // 10 × 32: rank 9
    let sa = stats_of(a, 64);
    let mut sf = FeatureStats::new(32).unwrap();
    sf.add(&few).unwrap();
    let d1 = fid(&sf, &sa).unwrap();
    let d2 = fid(&sa, &sf).unwrap();
    assert!(d1.is_finite() && d1 > 0.0);
    // The 23 zero eigenvalues come out as ±ε‖M‖ round-off whose square roots add O(√ε)
    // (≈ 1.5e-8) relative error on either path — the conditioning of tr √ at rank deficiency.
    assert!((d1 - d2).abs() <= 1e-7 * d1, "{d1} vs {d2}");
}

/// The protocol's dimension: 2048-d statistics of 3000 hashed features per set, against
/// pytorch-fid's own `np.mean` / `np.cov` / `calculate_frechet_distance` (scipy `sqrtm`).
#[test]
fn fid_2048_equals_pytorch_fid() {
    let (_, g) = load();
    let d = 2048;
    let a: Vec<f32> = common::splitmix_uniform(11, 3000 * d)
        .map(|u| u as f32)
        .collect();
    let b: Vec<f32> = common::splitmix_uniform(12, 3000 * d)
        .map(|u| (u * 0.9 + 0.05) as f32)
        .collect();
    let (mut sa, mut sb) = (FeatureStats::new(d).unwrap(), FeatureStats::new(d).unwrap());
    for (ca, cb) in a.chunks(700 * d).zip(b.chunks(700 * d)) {
        sa.add(ca).unwrap();
        sb.add(cb).unwrap();
    }
    let got = fid(&sa, &sb).unwrap();
    let want = g["fid_2048"][[0]];
    assert!(
        (got - want).abs() <= 1e-6 * want,
        "FID {got} vs pytorch-fid {want}"
    );
    // KID of the same sets, one subset of all 3000 (no draw): the f64 path equals clean-fid's
    // float64 run; `kid_f32` (AMX tiles where the CPU has them) is at least as close to it as
    // clean-fid's own float32 run (1.3e-5 relative).
    let got = kid(&a, &b, d, 1, 3000, 0).unwrap();
    let want = g["kid_2048"][[0]];
    assert!(
        (got - want).abs() <= 1e-9 * want.abs(),
        "KID {got} vs clean-fid {want}"
    );
    let fast = kid_f32(&a, &b, d, 1, 3000, 0).unwrap();
    let clean_fid_f32_error = (g["kid_2048_f32"][[0]] - want).abs();
    assert!(
        (fast - want).abs() <= clean_fid_f32_error,
        "kid_f32 {fast} vs {want}: clean-fid float32 is {clean_fid_f32_error} off"
    );
}
