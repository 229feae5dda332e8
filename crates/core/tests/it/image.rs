//! Image I/O and conversions against Pillow / OpenCV / diffusers fixtures
//! (`tools/golden/gen_core.py`).

use std::path::PathBuf;

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::{Array1, Array3};
use ndarray_npy::read_npy;
use ultrares_core::Error;
use ultrares_core::image::*;

type B = NdArray<f32>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn npy_u8_3(name: &str) -> Array3<u8> {
    read_npy(fixture(name)).expect(name)
}

#[test]
fn u8_to_float_matches_diffusers_for_all_256_values() {
    let z: Array1<f32> = read_npy(fixture("u8_to_zero_one.npy")).unwrap();
    let m: Array1<f32> = read_npy(fixture("u8_to_minus_one_one.npy")).unwrap();
    for u in 0..=255u8 {
        assert_eq!(
            ValueRange::ZeroOne.from_u8(u).to_bits(),
            z[u as usize].to_bits(),
            "{u}"
        );
        assert_eq!(
            ValueRange::MinusOneOne.from_u8(u).to_bits(),
            m[u as usize].to_bits(),
            "{u}"
        );
    }
}

#[test]
fn float_to_u8_matches_diffusers_including_half_way_values() {
    for (range, x, y) in [
        (
            ValueRange::ZeroOne,
            "float_zero_one.npy",
            "float_zero_one_to_u8.npy",
        ),
        (
            ValueRange::MinusOneOne,
            "float_minus_one_one.npy",
            "float_minus_one_one_to_u8.npy",
        ),
    ] {
        let x: Array1<f32> = read_npy(fixture(x)).unwrap();
        let y: Array1<u8> = read_npy(fixture(y)).unwrap();
        let mut mismatches = 0;
        for (a, b) in x.iter().zip(y.iter()) {
            if range.to_u8(*a) != Some(*b) {
                mismatches += 1;
            }
        }
        assert_eq!(
            mismatches,
            0,
            "{range:?}: {mismatches} of {} differ",
            x.len()
        );
    }
}

#[test]
fn exact_round_trip_for_every_8bit_value_through_tensors() {
    let dev = Default::default();
    let raw: Vec<u8> = (0..=255u8)
        .flat_map(|v| [v, 255 - v, v.wrapping_mul(7)])
        .collect();
    let img = RgbImage::from_raw(16, 16, raw).unwrap();
    let gray = GrayImage::from_raw(16, 16, (0..=255u8).collect()).unwrap();
    for range in [ValueRange::ZeroOne, ValueRange::MinusOneOne] {
        let t = rgb8_to_tensor::<B>(&img, range, &dev);
        assert_eq!(t.dims(), [1, 3, 16, 16]);
        assert_eq!(tensor_to_rgb8(t, range).unwrap()[0], img);
        let g = gray8_to_tensor::<B>(&gray, range, &dev);
        assert_eq!(g.dims(), [1, 1, 16, 16]);
        assert_eq!(tensor_to_gray8(g, range).unwrap()[0], gray);
    }
}

#[test]
fn tensor_layout_is_nchw_planar() {
    let img = RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
    let t = rgb8_to_tensor::<B>(&img, ValueRange::ZeroOne, &Default::default());
    let v = t.into_data().to_vec::<f32>().unwrap();
    // R plane, G plane, B plane; each row-major.
    assert_eq!(v, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn decoding_matches_pillow() {
    for name in ["rgb.png", "gray.png", "rgba.png"] {
        let want = npy_u8_3(&format!("{}.pillow_rgb.npy", name.replace('.', "_")));
        let got = read_rgb8(fixture(name)).unwrap();
        assert_eq!(got.as_raw().as_slice(), want.as_slice().unwrap(), "{name}");
    }
}

#[test]
fn jpeg_decoding_is_close_to_pillow() {
    // image's JPEG decoder (zune-jpeg) and libjpeg-turbo (Pillow) are not bit-identical: the
    // integer IDCTs round differently (±1 level, rarely: gray), and zune's 4:2:0 chroma
    // upsampling rounds its separable triangle filter per pass where libjpeg-turbo's "fancy"
    // h2v2 upsampler keeps the vertical sum in higher precision (a few levels on colour edges).
    // Measured here: gray max 1 / mean 0.006, colour max 4 / mean 0.39.
    for (name, max_ok, mean_ok) in [("gray_q95.jpg", 1, 0.01), ("rgb_q95.jpg", 4, 0.4)] {
        let want = npy_u8_3(&format!("{}.pillow_rgb.npy", name.replace('.', "_")));
        let got = read_rgb8(fixture(name)).unwrap();
        let (mut max, mut sum) = (0i32, 0f64);
        for (a, b) in got.as_raw().iter().zip(want.iter()) {
            let d = (*a as i32 - *b as i32).abs();
            max = max.max(d);
            sum += d as f64;
        }
        let mean = sum / want.len() as f64;
        assert!(
            max <= max_ok && mean < mean_ok,
            "{name}: max {max}, mean {mean}"
        );
    }
}

#[test]
fn gray_reading_matches_opencv() {
    for name in ["rgb.png", "gray.png", "rgba.png"] {
        let want: ndarray::Array2<u8> =
            read_npy(fixture(&format!("{}.gray.npy", name.replace('.', "_")))).unwrap();
        let got = read_gray8(fixture(name)).unwrap();
        assert_eq!(got.as_raw().as_slice(), want.as_slice().unwrap(), "{name}");
    }
}

#[test]
fn gray_formula_matches_opencv_on_dense_colour_sample() {
    let want: Array1<u8> = read_npy(fixture("cvt_gray_dense.npy")).unwrap();
    let v: Vec<u8> = (0..=255).step_by(5).collect();
    let mut i = 0;
    for &r in &v {
        for &g in &v {
            for &b in &v {
                assert_eq!(rgb_to_gray_opencv(r, g, b), want[i], "rgb {r} {g} {b}");
                i += 1;
            }
        }
    }
    assert_eq!(i, want.len());
    // The same sample as one image through the (vectorised where supported) image conversion.
    let mut rgb = Vec::with_capacity(3 * want.len());
    for &r in &v {
        for &g in &v {
            for &b in &v {
                rgb.extend([r, g, b]);
            }
        }
    }
    let img = RgbImage::from_raw(52 * 52, 52, rgb).unwrap();
    assert_eq!(
        rgb8_to_gray8(&img).as_raw().as_slice(),
        want.as_slice().unwrap()
    );
}

#[test]
fn image_gray_conversion_equals_the_pixel_formula_at_every_length() {
    let mut state = 0x2545_f491_u32;
    for (w, h) in (1..=70)
        .map(|w| (w, 1))
        .chain([(17, 3), (333, 5), (1000, 70)])
    {
        let rgb: Vec<u8> = (0..3 * w * h)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        let want: Vec<u8> = rgb
            .chunks(3)
            .map(|p| rgb_to_gray_opencv(p[0], p[1], p[2]))
            .collect();
        let img = RgbImage::from_raw(w, h, rgb).unwrap();
        assert_eq!(rgb8_to_gray8(&img).into_raw(), want, "{w}×{h}");
    }
}

#[test]
fn png_and_jpeg_write_round_trip() {
    let dir = std::env::temp_dir().join(format!("ultrares-core-img-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dev = Default::default();
    let img = read_rgb8(fixture("rgb.png")).unwrap();
    let t = rgb8_to_tensor::<B>(&img, ValueRange::MinusOneOne, &dev);
    write_tensor(t.clone(), ValueRange::MinusOneOne, dir.join("a.png")).unwrap();
    assert_eq!(read_rgb8(dir.join("a.png")).unwrap(), img);
    let back = read_rgb_tensor::<B>(dir.join("a.png"), ValueRange::MinusOneOne, &dev).unwrap();
    back.into_data().assert_eq(&t.into_data(), true);
    // JPEG is lossy: only check it decodes to the same size and close values.
    let g = read_gray_tensor::<B>(fixture("gray.png"), ValueRange::ZeroOne, &dev).unwrap();
    write_tensor(g.clone(), ValueRange::ZeroOne, dir.join("g.JPG")).unwrap();
    let gj = read_gray_tensor::<B>(dir.join("g.JPG"), ValueRange::ZeroOne, &dev).unwrap();
    assert_eq!(gj.dims(), g.dims());
    let err = (gj - g).abs().mean().into_scalar();
    assert!(err < 0.02, "mean abs error {err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn batch_conversion() {
    let dev = Default::default();
    let a = read_rgb8(fixture("rgb.png")).unwrap();
    let b = read_rgb8(fixture("rgba.png")).unwrap();
    let t = rgb8_batch_to_tensor::<B>(&[a.clone(), b.clone()], ValueRange::ZeroOne, &dev).unwrap();
    assert_eq!(t.dims(), [2, 3, 53, 67]);
    assert_eq!(tensor_to_rgb8(t, ValueRange::ZeroOne).unwrap(), vec![a, b]);
}

#[test]
fn errors_are_reported_not_panicked() {
    let dev = Default::default();
    // Missing file and undecodable file.
    assert!(matches!(
        read_rgb8("/nonexistent/x.png"),
        Err(Error::Image { .. })
    ));
    assert!(matches!(
        read_rgb8(fixture("GENERATOR.json")),
        Err(Error::Image { .. })
    ));
    // Wrong channel count.
    let t = Tensor::<B, 4>::zeros([1, 2, 4, 4], &dev);
    assert!(matches!(
        tensor_to_rgb8(t.clone(), ValueRange::ZeroOne),
        Err(Error::Shape { arg: "tensor", .. })
    ));
    assert!(matches!(
        tensor_to_gray8(t.clone(), ValueRange::ZeroOne),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        write_tensor(t, ValueRange::ZeroOne, "x.png"),
        Err(Error::Shape { .. })
    ));
    // NaN.
    let nan = Tensor::<B, 4>::from_data(
        TensorData::new(vec![0.0, f32::NAN, 0.5, 1.0], [1, 1, 2, 2]),
        &dev,
    );
    assert!(matches!(
        tensor_to_gray8(nan, ValueRange::ZeroOne),
        Err(Error::NonFinite { count: 1, .. })
    ));
    // Infinities clamp like diffusers' clamp(0, 1).
    let inf = Tensor::<B, 4>::from_data(
        TensorData::new(vec![f32::INFINITY, f32::NEG_INFINITY], [1, 1, 1, 2]),
        &dev,
    );
    assert_eq!(
        tensor_to_gray8(inf, ValueRange::MinusOneOne).unwrap()[0].as_raw(),
        &vec![255, 0]
    );
    // Unknown extension.
    let img = GrayImage::new(2, 2);
    assert!(matches!(
        save_image(&img, "x.bmp"),
        Err(Error::Argument { arg: "path", .. })
    ));
    // Empty and mismatched batches.
    assert!(matches!(
        rgb8_batch_to_tensor::<B>(&[], ValueRange::ZeroOne, &dev),
        Err(Error::Argument { .. })
    ));
    let r = rgb8_batch_to_tensor::<B>(
        &[RgbImage::new(2, 2), RgbImage::new(3, 2)],
        ValueRange::ZeroOne,
        &dev,
    );
    assert!(matches!(r, Err(Error::Shape { arg: "imgs", .. })));
    // Messages name the argument and the expectation.
    let msg = tensor_to_rgb8(
        Tensor::<B, 4>::zeros([1, 1, 2, 2], &dev),
        ValueRange::ZeroOne,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("`tensor`") && msg.contains("[N, 3, H, W]"),
        "{msg}"
    );
}
