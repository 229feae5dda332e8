//! `resize_pil` against Pillow 13's `Image.resize` (`tools/golden/gen_core.py`, `resize.npz`):
//! every filter, downscale, upscale, one axis, tiny outputs — byte for byte.

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use ultrares_core::Error;
use ultrares_core::image::{read_gray8, read_rgb8};
use ultrares_core::resize::{PilFilter, resize_pil};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn differing(ours: &[u8], theirs: &ArrayD<u8>) -> usize {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs.iter())
        .filter(|(a, b)| a != b)
        .count()
}

#[test]
fn equals_pillow_byte_for_byte() {
    let mut npz =
        NpzReader::new(std::fs::File::open(fixtures().join("resize.npz")).unwrap()).unwrap();
    let rgb = read_rgb8(fixtures().join("rgb.png")).unwrap();
    let gray = read_gray8(fixtures().join("gray.png")).unwrap();
    let filters = [
        ("box", PilFilter::Box),
        ("bilinear", PilFilter::Bilinear),
        ("hamming", PilFilter::Hamming),
        ("bicubic", PilFilter::Bicubic),
        ("lanczos", PilFilter::Lanczos),
    ];
    let mut checked = 0;
    for (name, f) in filters {
        for (w, h) in [(20u32, 31u32), (90, 71), (40, 53), (67, 20), (7, 3)] {
            let key = format!("rgb_{name}_{w}x{h}.npy");
            let theirs = npz.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&key).unwrap();
            let ours = resize_pil(&rgb, w, h, f).unwrap();
            assert_eq!(differing(ours.as_raw(), &theirs), 0, "{key}");
            checked += 1;
        }
        let key = format!("gray_{name}_30x45.npy");
        let theirs = npz.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&key).unwrap();
        assert_eq!(
            differing(resize_pil(&gray, 30, 45, f).unwrap().as_raw(), &theirs),
            0,
            "{key}"
        );
        checked += 1;
    }
    assert_eq!(checked, 30);
    // Same size: a copy, as Pillow returns.
    assert_eq!(
        resize_pil(&rgb, rgb.width(), rgb.height(), PilFilter::Lanczos).unwrap(),
        rgb
    );
}

#[test]
fn bad_sizes_are_errors() {
    let rgb = read_rgb8(fixtures().join("rgb.png")).unwrap();
    for (w, h) in [(0, 5), (5, 0), (70_000, 5)] {
        assert!(matches!(
            resize_pil(&rgb, w, h, PilFilter::Lanczos),
            Err(Error::Argument { .. })
        ));
    }
    let empty = ultrares_core::image::RgbImage::new(0, 0);
    assert!(matches!(
        resize_pil(&empty, 4, 4, PilFilter::Bicubic),
        Err(Error::Argument { .. })
    ));
}
