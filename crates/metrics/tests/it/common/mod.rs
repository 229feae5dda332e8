//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use ultrares_core::image::{Rgb, RgbImage, read_rgb8};

/// `crates/metrics/tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The formula of `procedural()` in gen_metrics.py.
pub fn procedural(h: usize, w: usize) -> RgbImage {
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (i64::from(x), i64::from(y));
        let base = (x * 7919 + y * 104729 + (x * y) % 251) ^ (x >> 3);
        let smooth = ((x / 16) * 37 + (y / 16) * 53) % 256;
        let r = ((base % 64) + smooth) % 256;
        let g = ((base / 7) % 32 + smooth / 2 + 60) % 256;
        let b = (smooth + (y % 29) * 3) % 256;
        Rgb([r as u8, g as u8, b as u8])
    })
}

/// scikit-image's astronaut (256², ultrares-rna's fixture).
pub fn astronaut() -> RgbImage {
    read_rgb8(fixtures().join("../../../rna/tests/fixtures/astronaut_rgb.png")).unwrap()
}

/// `img[y0..y0 + h, x0..x0 + w]`.
pub fn crop(img: &RgbImage, y0: u32, x0: u32, h: u32, w: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| *img.get_pixel(x0 + x, y0 + y))
}

#[allow(unused_imports)]
pub use ultrares_core::testing::splitmix_uniform;
