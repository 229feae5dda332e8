//! LSRNA's pFID/pKID crops: the reference preparation against Pillow (`patches.npz`, crop +
//! `Image.LANCZOS`), and the sampler's contract (seeded, identical across sets, in bounds,
//! uniform).

use crate::common;

use common::{astronaut, fixtures};
use ndarray::IxDyn;
use ndarray_npy::NpzReader;
use ultrares_core::image::RgbImage;
use ultrares_metrics::{Error, PatchSampler, reference_to_size};

#[test]
fn reference_equals_pillow_crop_and_lanczos() {
    let mut npz =
        NpzReader::new(std::fs::File::open(fixtures().join("patches.npz")).unwrap()).unwrap();
    let astro = astronaut();
    for (w, h) in [(120u32, 60u32), (50, 90), (100, 300), (77, 77)] {
        let key = format!("astronaut_to_{w}x{h}.npy");
        let theirs = npz.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&key).unwrap();
        let ours = reference_to_size(&astro, w, h).unwrap();
        assert_eq!(ours.dimensions(), (w, h));
        assert!(ours.as_raw().iter().eq(theirs.iter()), "{key}");
    }
    assert!(matches!(
        reference_to_size(&astro, 0, 10),
        Err(Error::Image(_))
    ));
    assert!(matches!(
        reference_to_size(&RgbImage::new(0, 3), 10, 10),
        Err(Error::Image(_))
    ));
}

#[test]
fn sampler_is_seeded_shared_and_in_bounds() {
    let s = PatchSampler {
        patch: 16,
        per_image: 2000,
        seed: 7,
    };
    let a = s.locations(3, 40, 25).unwrap();
    assert_eq!(
        a,
        s.locations(3, 40, 25).unwrap(),
        "same seed and index, same crops"
    );
    assert_ne!(
        a,
        s.locations(4, 40, 25).unwrap(),
        "another image index, other crops"
    );
    assert_ne!(
        a,
        PatchSampler { seed: 8, ..s }.locations(3, 40, 25).unwrap()
    );
    assert!(a.iter().all(|&(x, y)| x + 16 <= 40 && y + 16 <= 25));
    // Every one of the 25 × 10 positions is reachable and roughly equally likely.
    let mut hist = vec![0usize; 25 * 10];
    let many = PatchSampler {
        per_image: 100_000,
        ..s
    };
    for (x, y) in many.locations(0, 40, 25).unwrap() {
        hist[y as usize * 25 + x as usize] += 1;
    }
    let expected = 100_000.0 / 250.0;
    assert!(
        hist.iter()
            .all(|&c| (c as f64 - expected).abs() < 0.25 * expected),
        "{hist:?}"
    );
    // Generated and ground-truth images of one size get the same crops at the same places.
    let img = common::procedural(25, 40);
    let patches = s.patches(3, &img).unwrap();
    let (x0, y0) = a[5];
    assert_eq!(
        patches[5],
        RgbImage::from_fn(16, 16, |x, y| *img.get_pixel(x0 + x, y0 + y))
    );
    // Exactly patch-sized images have one position.
    assert!(s.locations(0, 16, 16).unwrap().iter().all(|&p| p == (0, 0)));
    assert!(matches!(s.locations(0, 15, 40), Err(Error::Image(_))));
    assert!(matches!(
        PatchSampler { patch: 0, ..s }.locations(0, 4, 4),
        Err(Error::Argument(_))
    ));
}
