//! Shared loading of the OpenCV Canny fixtures (`tools/golden/gen_rna.py`).
#![allow(dead_code)]

use std::path::PathBuf;

use ultrares_core::image::{GrayImage, read_gray8};
use ultrares_rna::canny::CannyConfig;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/canny")
}

pub struct Case {
    pub image: GrayImage,
    pub want: GrayImage,
    pub cfg: CannyConfig,
    pub label: String,
    pub group: String,
}

pub fn cases() -> Vec<Case> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let cfg = CannyConfig::new(c["low"].as_f64().unwrap(), c["high"].as_f64().unwrap())
                .with_aperture(c["aperture"].as_u64().unwrap() as u8)
                .with_l2_gradient(c["l2"].as_bool().unwrap());
            Case {
                image: read_gray8(dir().join(c["image"].as_str().unwrap())).unwrap(),
                want: read_gray8(dir().join(c["edges"].as_str().unwrap())).unwrap(),
                cfg,
                label: c["edges"].as_str().unwrap().to_string(),
                group: c["group"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

pub fn diff(a: &GrayImage, b: &GrayImage) -> usize {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .filter(|(x, y)| x != y)
        .count()
}
