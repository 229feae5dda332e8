//! Canny against OpenCV (fixtures from `tools/golden/gen_rna.py`): bit-identical edge maps on
//! photographs and synthetic images for every threshold/aperture/L2 combination, on the host and
//! through the tensor implementation.

use crate::common;

use burn::backend::NdArray;
use common::{Case, cases, diff};
use ultrares_core::image::GrayImage;
use ultrares_rna::Error;
use ultrares_rna::canny::{CannyConfig, canny, canny_raw, canny_raw_baseline};
use ultrares_rna::canny_device::canny_on_device;

type B = NdArray<f32>;

#[test]
fn host_canny_is_bit_identical_to_opencv() {
    let cases = cases();
    assert!(cases.len() > 100);
    let mut failures = Vec::new();
    for c in &cases {
        let got = canny(&c.image, &c.cfg).unwrap();
        let d = diff(&got, &c.want);
        if d > 0 {
            failures.push(format!("{}: {d} pixels differ", c.label));
        }
        // The baseline build of the kernels (the dispatched one above uses AVX2 where the CPU
        // has it).
        let (w, h) = c.image.dimensions();
        let base = canny_raw_baseline(c.image.as_raw(), [h as usize, w as usize], &c.cfg).unwrap();
        if base != got.as_raw().as_slice() {
            failures.push(format!("{}: the baseline build differs", c.label));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The fixtures are not trivial: the photographs have many edges.
    let edge_pixels: usize = cases
        .iter()
        .filter(|c| c.group == "photo")
        .map(|c| c.want.as_raw().iter().filter(|&&v| v == 255).count())
        .sum();
    assert!(edge_pixels > 100_000, "{edge_pixels}");
}

#[test]
fn tensor_canny_equals_host_canny() {
    let dev = Default::default();
    // Every synthetic case (all apertures, L1/L2, swapped thresholds) and one photograph. The
    // tensor path's hysteresis needs many passes on photographs at LSRNA's (0, 255), where weak
    // chains are long: about a minute per 512² photo on the CPU backend, too slow for CI.
    let picked = |c: &&Case| c.group == "synthetic" || c.label == "chelsea_257x383__100_200.png";
    for c in cases().iter().filter(picked) {
        let got = canny_on_device::<B>(&c.image, &c.cfg, &dev).unwrap();
        assert_eq!(diff(&got, &c.want), 0, "{}", c.label);
    }
}

#[test]
fn bad_parameters_are_errors() {
    let img = GrayImage::new(4, 4);
    for ap in [0u8, 1, 2, 4, 9] {
        let e = canny(&img, &CannyConfig::lsrna().with_aperture(ap)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Argument {
                    arg: "aperture",
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = canny(&img, &CannyConfig::new(f64::NAN, 3.0)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Argument {
                arg: "low, high",
                ..
            }
        ),
        "{e}"
    );
    let e = canny(&GrayImage::new(0, 5), &CannyConfig::lsrna()).unwrap_err();
    assert!(matches!(e, Error::Argument { arg: "gray", .. }), "{e}");
    let e = canny_raw(&[0; 5], [2, 3], &CannyConfig::lsrna()).unwrap_err();
    assert!(matches!(e, Error::Argument { arg: "src", .. }), "{e}");
    let e = canny_on_device::<B>(
        &GrayImage::new(3, 0),
        &CannyConfig::lsrna(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Argument { .. }), "{e}");
}

#[test]
fn thresholds_follow_opencv_conversions() {
    assert_eq!(CannyConfig::new(0.0, 255.0).thresholds().unwrap(), (0, 255));
    assert_eq!(
        CannyConfig::new(200.7, 100.2).thresholds().unwrap(),
        (100, 200)
    );
    assert_eq!(
        CannyConfig::new(10.5, 40000.0)
            .with_l2_gradient(true)
            .thresholds()
            .unwrap(),
        (110, 32767 * 32767)
    );
    assert_eq!(
        CannyConfig::new(-3.0, 0.0)
            .with_l2_gradient(true)
            .thresholds()
            .unwrap(),
        (-3, 0)
    );
}
