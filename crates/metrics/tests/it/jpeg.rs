//! The JPEG encoder against Pillow 13 / libjpeg-turbo 3.2 (`tools/golden/gen_metrics.py`,
//! fixture `jpeg.npz`): whole files byte for byte, and Compression Ratio file sizes.

use crate::common;

use std::collections::HashMap;

use common::{astronaut, crop, fixtures, procedural};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use ultrares_core::image::{GrayImage, Luma, Rgb, RgbImage, read_rgb8};
use ultrares_metrics::jpeg::{encode_jpeg_raw, encode_jpeg_raw_baseline};
use ultrares_metrics::{
    CompressionRatio, Error, JpegConfig, Subsampling, compression_ratio, encode_jpeg,
    encode_jpeg_gray,
};

fn load() -> (HashMap<String, ArrayD<u8>>, HashMap<String, i64>) {
    let mut npz =
        NpzReader::new(std::fs::File::open(fixtures().join("jpeg.npz")).unwrap()).unwrap();
    let (mut bytes, mut sizes) = (HashMap::new(), HashMap::new());
    for name in npz.names().unwrap() {
        let key = name.trim_end_matches(".npy").to_string();
        if key.ends_with("_size") {
            let a = npz
                .by_name::<ndarray::OwnedRepr<i64>, IxDyn>(&name)
                .unwrap();
            sizes.insert(key, a[[0]]);
        } else {
            bytes.insert(
                key,
                npz.by_name::<ndarray::OwnedRepr<u8>, IxDyn>(&name).unwrap(),
            );
        }
    }
    (bytes, sizes)
}

fn to_rgb(a: &ArrayD<u8>) -> RgbImage {
    let (h, w) = (a.shape()[0], a.shape()[1]);
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        Rgb([a[[y, x, 0]], a[[y, x, 1]], a[[y, x, 2]]])
    })
}

/// Asserts equal files, reporting the first differing byte.
fn assert_same(case: &str, ours: &[u8], theirs: &ArrayD<u8>) {
    let theirs: Vec<u8> = theirs.iter().copied().collect();
    if ours != theirs.as_slice() {
        let i = ours
            .iter()
            .zip(&theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(theirs.len()));
        panic!(
            "{case}: {} vs Pillow {} bytes, first difference at byte {i}",
            ours.len(),
            theirs.len()
        );
    }
}

/// Checks the dispatched encoder (AVX2 where the CPU has it) and the baseline build.
fn assert_rgb(case: &str, img: &RgbImage, cfg: &JpegConfig, theirs: &ArrayD<u8>) {
    assert_same(case, &encode_jpeg(img, cfg).unwrap(), theirs);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let base = encode_jpeg_raw_baseline(img.as_raw(), w, h, 3, cfg).unwrap();
    assert_same(&format!("{case} (baseline build)"), &base, theirs);
}

#[test]
fn files_equal_pillow_byte_for_byte() {
    let (bytes, _) = load();
    let astro = astronaut();
    let mut checked = 0;
    for (name, (y0, x0, h, w)) in [
        ("crop_37x53", (100, 90, 37, 53)),
        ("crop_16x16", (120, 120, 16, 16)),
        ("crop_1x1", (50, 50, 1, 1)),
        ("crop_9x70", (10, 0, 9, 70)),
    ] {
        let img = crop(&astro, y0, x0, h, w);
        for q in [95u8, 75, 30, 100] {
            for (sub, tag) in [
                (Subsampling::S420, "420"),
                (Subsampling::S422, "422"),
                (Subsampling::S444, "444"),
            ] {
                let case = format!("{name}_q{q}_{tag}_jpg");
                let cfg = JpegConfig {
                    quality: q,
                    subsampling: sub,
                };
                assert_rgb(&case, &img, &cfg, &bytes[&case]);
                checked += 1;
            }
        }
        // Pillow's L image from numpy's mean: ⌊(r+g+b)/3⌋.
        let gray = GrayImage::from_fn(w, h, |x, y| {
            let p = img.get_pixel(x, y).0;
            Luma([((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as u8])
        });
        let case = format!("{name}_gray_q95_jpg");
        assert_same(
            &case,
            &encode_jpeg_gray(&gray, &JpegConfig::default()).unwrap(),
            &bytes[&case],
        );
        checked += 1;
    }
    let noise = to_rgb(&bytes["noise_in"]);
    for q in [95u8, 100, 1] {
        let case = format!("noise_q{q}_420_jpg");
        let cfg = JpegConfig {
            quality: q,
            ..JpegConfig::default()
        };
        assert_rgb(&case, &noise, &cfg, &bytes[&case]);
        checked += 1;
    }
    let flat = to_rgb(&bytes["flat_in"]);
    assert_same(
        "flat",
        &encode_jpeg(&flat, &JpegConfig::default()).unwrap(),
        &bytes["flat_q95_420_jpg"],
    );
    assert_rgb(
        "astronaut",
        &astro,
        &JpegConfig::default(),
        &bytes["astronaut_q95_420_jpg"],
    );
    assert_eq!(checked, 55);
}

#[test]
fn compression_ratio_equals_pillow_file_sizes() {
    let (bytes, sizes) = load();
    let astro = astronaut();
    let big = procedural(1024, 1024);
    let cfg = JpegConfig::default();
    let n_big = sizes["procedural_1024_q95_420_size"] as u64;
    let n_astro = bytes["astronaut_q95_420_jpg"].len() as u64;
    let expected = (1024.0 * 1024.0 * 3.0 + 256.0 * 256.0 * 3.0) / (n_big + n_astro) as f64;
    let cr = compression_ratio([&big, &astro], &cfg).unwrap();
    assert_eq!(cr, expected);

    // eval.py's way: the file sizes of JPEGs on disk.
    let dir = std::env::temp_dir().join(format!("ultrares-cr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("astronaut.jpg");
    std::fs::write(&path, encode_jpeg(&astro, &cfg).unwrap()).unwrap();
    let mut acc = CompressionRatio::new();
    assert_eq!(acc.add_file(&path).unwrap(), n_astro);
    assert_eq!(acc.ratio().unwrap(), 256.0 * 256.0 * 3.0 / n_astro as f64);
    // The written file decodes (the `image` crate's decoder) to within JPEG error.
    let back = read_rgb8(&path).unwrap();
    let err: f64 = back
        .as_raw()
        .iter()
        .zip(astro.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .sum::<f64>()
        / astro.as_raw().len() as f64;
    assert!(err < 3.0, "mean abs error {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_an_error() {
    let cfg = JpegConfig::default();
    assert!(matches!(
        encode_jpeg(&RgbImage::new(0, 5), &cfg),
        Err(Error::Image(_))
    ));
    assert!(matches!(
        encode_jpeg(&RgbImage::new(70000, 1), &cfg),
        Err(Error::Image(_))
    ));
    assert!(matches!(
        encode_jpeg(&RgbImage::new(4, 4), &JpegConfig { quality: 0, ..cfg }),
        Err(Error::Argument(_))
    ));
    assert!(matches!(
        encode_jpeg(
            &RgbImage::new(4, 4),
            &JpegConfig {
                quality: 101,
                ..cfg
            }
        ),
        Err(Error::Argument(_))
    ));
    assert!(matches!(
        encode_jpeg_raw(&[0; 10], 2, 2, 3, &cfg),
        Err(Error::Image(_))
    ));
    assert!(matches!(
        encode_jpeg_raw(&[0; 8], 2, 2, 2, &cfg),
        Err(Error::Image(_))
    ));
    assert!(matches!(
        CompressionRatio::new().ratio(),
        Err(Error::Argument(_))
    ));
    let missing = std::env::temp_dir().join("ultrares-no-such-file.jpg");
    assert!(matches!(
        CompressionRatio::new().add_file(&missing),
        Err(Error::Image(_))
    ));
}
