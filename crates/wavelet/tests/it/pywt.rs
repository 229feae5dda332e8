//! `dwt2`/`idwt2`/`wavedec2`/`waverec2` against PyWavelets (`tools/golden/gen_wavelet.py`).
use crate::common;

use burn::tensor::Tensor;
use common::{B, B64, Npz, max_diff, max_err};
use ultrares_wavelet::{Coeffs2, Mode, Wavelet, dwt2, idwt2, wavedec2, waverec2};

const TOL: f64 = 1e-5;

/// The implementations under test: the generic tensor-op path, and (feature `ndarray`) the
/// backend kernels behind `fast::` — both must equal PyWavelets.
#[derive(Debug, Clone, Copy)]
enum Imp {
    Generic,
    #[cfg(feature = "ndarray")]
    Kernel,
}

const IMPS: &[Imp] = &[
    Imp::Generic,
    #[cfg(feature = "ndarray")]
    Imp::Kernel,
];

fn dwt(imp: Imp, x: Tensor<B, 4>, w: &Wavelet, mode: Mode) -> Coeffs2<B> {
    match imp {
        Imp::Generic => dwt2(x, w, mode).unwrap(),
        #[cfg(feature = "ndarray")]
        Imp::Kernel => ultrares_wavelet::fast::dwt2(x, w, mode).unwrap(),
    }
}

fn idwt(imp: Imp, c: Coeffs2<B>, w: &Wavelet, mode: Mode) -> Tensor<B, 4> {
    match imp {
        Imp::Generic => idwt2(c, w, mode).unwrap(),
        #[cfg(feature = "ndarray")]
        Imp::Kernel => ultrares_wavelet::fast::idwt2(c, w, mode).unwrap(),
    }
}

fn wavelet(name: &str, filters: &Npz) -> Wavelet {
    Wavelet::new(name).unwrap_or_else(|_| {
        let f = |n: &str| {
            filters
                .get(&format!("{name}/{n}"))
                .as_slice()
                .unwrap()
                .to_vec()
        };
        Wavelet::biorthogonal(name, f("dec_lo"), f("dec_hi"), f("rec_lo"), f("rec_hi")).unwrap()
    })
}

/// Every wavelet with ≤ 20 taps plus the longest of each family, modes cycled, odd and even
/// sizes, filters longer than the signal: one level forward and inverse.
#[test]
fn single_level_equals_pywt_dwt2_idwt2() {
    let npz = Npz::open("single.npz");
    let filters = Npz::open("filters.npz");
    let cases = npz.keys_with_suffix("/x");
    assert_eq!(cases.len(), 30);
    let mut seen_modes = std::collections::HashSet::new();
    for key in cases {
        let (name, mode) = key.split_once('/').unwrap();
        let w = wavelet(name, &filters);
        let mode: Mode = mode.parse().unwrap();
        seen_modes.insert(mode);
        for &imp in IMPS {
            let x: Tensor<B, 4> = npz.tensor(&format!("{key}/x"));
            let c = dwt(imp, x, &w, mode);
            for (band, t) in [("a", &c.a), ("h1", &c.h), ("v1", &c.v), ("d1", &c.d)] {
                let e = max_err(t, npz.get(&format!("{key}/{band}")), &key);
                assert!(e <= TOL, "{imp:?} {key} {band}: {e}");
            }
            // Inverse from PyWavelets' own coefficients, so both directions are checked alone.
            let bands = ["a", "h1", "v1", "d1"].map(|b| npz.tensor::<4>(&format!("{key}/{b}")));
            let rec = idwt(imp, Coeffs2::from_array(bands), &w, mode);
            let e = max_err(&rec, npz.get(&format!("{key}/rec")), &key);
            assert!(e <= TOL, "{imp:?} {key} idwt2: {e}");
        }
    }
    assert_eq!(seen_modes.len(), 7);
}

/// Level 3 (containing levels 1 and 2) for each family × every mode × even and odd sizes.
#[test]
fn multilevel_equals_pywt_wavedec2_waverec2() {
    let npz = Npz::open("multilevel.npz");
    let filters = Npz::open("filters.npz");
    let cases = npz.keys_with_suffix("/a");
    assert_eq!(cases.len(), 4 * 7 * 2 + 2 * 2);
    for key in cases {
        let mut parts = key.split('/');
        let (name, mode, size) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let w = wavelet(name, &filters);
        let mode: Mode = mode.parse().unwrap();
        let x: Tensor<B, 4> = npz.tensor(&format!("{size}/x"));
        let dec = wavedec2(x.clone(), &w, mode, 3).unwrap();
        assert_eq!(dec.levels(), 3);
        let e = max_err(&dec.a, npz.get(&format!("{key}/a")), &key);
        assert!(e <= TOL, "{key} a: {e}");
        for (i, d) in dec.details.iter().enumerate() {
            for (band, t) in [("h", &d.h), ("v", &d.v), ("d", &d.d)] {
                let k = format!("{key}/{band}{}", i + 1);
                let e = max_err(t, npz.get(&k), &k);
                assert!(e <= TOL, "{k}: {e}");
            }
        }
        // The kernels, level by level.
        #[cfg(feature = "ndarray")]
        {
            let mut a = x.clone();
            for level in 1..=3 {
                let c = dwt(Imp::Kernel, a, &w, mode);
                for (band, t) in [("h", &c.h), ("v", &c.v), ("d", &c.d)] {
                    let k = format!("{key}/{band}{level}");
                    let e = max_err(t, npz.get(&k), &k);
                    assert!(e <= TOL, "kernel {k}: {e}");
                }
                a = c.a;
            }
            let e = max_err(&a, npz.get(&format!("{key}/a")), &key);
            assert!(e <= TOL, "kernel {key} a: {e}");
        }
        let rec = waverec2(dec, &w, mode).unwrap();
        if size == "even" {
            // Perfect reconstruction.
            let e = max_diff(&rec, &x);
            assert!(e <= TOL, "{key} reconstruction: {e}");
        } else {
            // PyWavelets returns one extra row/column for odd sizes; equal to it, and the
            // original samples are reconstructed.
            let e = max_err(&rec, npz.get(&format!("{key}/rec")), &key);
            assert!(e <= TOL, "{key} waverec2: {e}");
            let [n, c, h, wd] = x.dims();
            let e = max_diff(&rec.slice([0..n, 0..c, 0..h, 0..wd]), &x);
            assert!(e <= TOL, "{key} reconstruction: {e}");
        }
    }
}

/// Perfect reconstruction for every built-in wavelet, both parities, in every mode, and
/// Parseval (energy preservation) for orthogonal wavelets in periodization mode.
#[test]
fn perfect_reconstruction_and_parseval_for_all_builtins() {
    let device = Default::default();
    for (i, name) in Wavelet::builtin_names().enumerate() {
        let w = Wavelet::new(name).unwrap();
        let mode = Mode::ALL[i % 7];
        for (h, wd) in [(12, 10), (9, 7)] {
            let x = Tensor::<B64, 4>::random(
                [2, 1, h, wd],
                burn::tensor::Distribution::Uniform(-1.0, 1.0),
                (&device, burn::tensor::DType::F64),
            );
            assert_eq!(x.dtype(), burn::tensor::DType::F64);
            let c = dwt2(x.clone(), &w, mode).unwrap();
            let rec = idwt2(c, &w, mode).unwrap();
            let rec = rec.slice([0..2, 0..1, 0..h, 0..wd]);
            let e = max_diff(&rec, &x);
            assert!(e <= 1e-9, "{name} {mode} {h}x{wd}: {e}");
            #[cfg(feature = "ndarray")]
            {
                use ultrares_wavelet::fast;
                let c = fast::dwt2(x.clone(), &w, mode).unwrap();
                let rec = fast::idwt2(c, &w, mode)
                    .unwrap()
                    .slice([0..2, 0..1, 0..h, 0..wd]);
                let e = max_diff(&rec, &x);
                assert!(e <= 1e-9, "kernel {name} {mode} {h}x{wd}: {e}");
            }
        }
        // Parseval on an even size over two levels (periodization is orthonormal for every
        // even length, also below `max_level`, so dwt2 is applied twice by hand).
        let x =
            Tensor::<B, 4>::random([1, 2, 16, 12], burn::tensor::Distribution::Default, &device);
        let energy = |t: &Tensor<B, 4>| t.clone().powi_scalar(2).sum().into_scalar() as f64;
        let l1 = dwt2(x.clone(), &w, Mode::Periodization).unwrap();
        let mut coeff_energy = energy(&l1.h) + energy(&l1.v) + energy(&l1.d);
        let l2 = dwt2(l1.a, &w, Mode::Periodization).unwrap();
        coeff_energy += energy(&l2.a) + energy(&l2.h) + energy(&l2.v) + energy(&l2.d);
        let e0 = energy(&x);
        assert!(
            (coeff_energy - e0).abs() <= 1e-5 * e0,
            "{name}: {coeff_energy} vs {e0}"
        );
    }
}
