//! Filter banks equal PyWavelets' bit for bit.
use crate::common;

use common::Npz;
use ultrares_wavelet::{Error, Wavelet};

#[test]
fn builtin_filters_equal_pywavelets_exactly() {
    let npz = Npz::open("filters.npz");
    let mut checked = 0;
    for name in Wavelet::builtin_names() {
        let w = Wavelet::new(name).unwrap();
        for (f, got) in [
            ("dec_lo", w.dec_lo()),
            ("dec_hi", w.dec_hi()),
            ("rec_lo", w.rec_lo()),
            ("rec_hi", w.rec_hi()),
        ] {
            let want = npz.get(&format!("{name}/{f}"));
            assert_eq!(got, want.as_slice().unwrap(), "{name} {f}");
        }
        assert!(w.is_orthogonal());
        checked += 1;
    }
    // haar + db1..db38 + sym2..sym20 + coif1..coif17
    assert_eq!(checked, 1 + 38 + 19 + 17);
    assert!(Wavelet::new("haar").unwrap().is_haar());
    assert!(Wavelet::new("db1").unwrap().is_haar());
    assert_eq!(
        Wavelet::haar().rec_lo(),
        Wavelet::new("db1").unwrap().rec_lo()
    );
    assert!(!Wavelet::new("db2").unwrap().is_haar());
}

#[test]
fn custom_banks() {
    let npz = Npz::open("filters.npz");
    let f = |n: &str| {
        npz.get(&format!("bior2.2/{n}"))
            .as_slice()
            .unwrap()
            .to_vec()
    };
    let b = Wavelet::biorthogonal(
        "bior2.2",
        f("dec_lo"),
        f("dec_hi"),
        f("rec_lo"),
        f("rec_hi"),
    )
    .unwrap();
    assert!(!b.is_orthogonal());
    assert_eq!(b.filter_len(), 6);
    // A custom orthogonal bank reproduces the built-in one.
    let db3 = Wavelet::new("db3").unwrap();
    let custom = Wavelet::orthogonal("mine", db3.rec_lo().to_vec()).unwrap();
    assert_eq!(custom.dec_hi(), db3.dec_hi());
    assert_eq!(custom.rec_hi(), db3.rec_hi());
}

#[test]
fn bad_banks_and_names_are_errors() {
    assert!(matches!(
        Wavelet::new("db99"),
        Err(Error::UnknownWavelet(_))
    ));
    assert!(matches!(
        "morlet".parse::<Wavelet>(),
        Err(Error::UnknownWavelet(_))
    ));
    assert!(Wavelet::new(" DB4 ").is_ok());
    assert!(matches!(
        Wavelet::orthogonal("x", vec![]),
        Err(Error::FilterBank(_))
    ));
    assert!(matches!(
        Wavelet::orthogonal("x", vec![1.0, 1.0]),
        Err(Error::FilterBank(_))
    ));
    assert!(matches!(
        Wavelet::orthogonal("x", vec![0.5, 0.5, 0.5]),
        Err(Error::FilterBank(_))
    ));
    assert!(matches!(
        Wavelet::orthogonal("x", vec![f64::NAN, 0.5]),
        Err(Error::FilterBank(_))
    ));
    let h = vec![0.5; 4];
    assert!(matches!(
        Wavelet::biorthogonal("x", h.clone(), h.clone(), h.clone(), vec![0.5; 2]),
        Err(Error::FilterBank(_))
    ));
}

#[test]
fn max_level_matches_pywavelets() {
    // pywt.dwt_max_level(n, filter_len)
    let db4 = Wavelet::new("db4").unwrap(); // 8 taps
    for (n, want) in [
        (0, 0),
        (6, 0),
        (7, 0),
        (13, 0),
        (14, 1),
        (27, 1),
        (28, 2),
        (1000, 7),
    ] {
        assert_eq!(db4.max_level(n), want, "db4 n={n}");
    }
    let haar = Wavelet::haar();
    for (n, want) in [(1, 0), (2, 1), (3, 1), (4, 2), (1024, 10)] {
        assert_eq!(haar.max_level(n), want, "haar n={n}");
    }
}
