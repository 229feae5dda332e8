//! Opt-in test of the tensor Canny on a CubeCL backend: wgpu (Mesa lavapipe on machines without
//! a GPU), `cargo test -p ultrares-rna --features wgpu device::`, or CUDA, `--features cuda`.
#![cfg(any(feature = "wgpu", feature = "cuda"))]

use crate::common;

#[cfg(feature = "cuda")]
type W = burn::backend::Cuda;
#[cfg(not(feature = "cuda"))]
type W = burn::backend::Wgpu;
use common::{cases, diff};
use ultrares_rna::canny_device::canny_on_device;

#[test]
fn tensor_canny_on_device_equals_opencv() {
    let dev = Default::default();
    let mut n = 0;
    for c in cases().iter().filter(|c| c.group == "synthetic") {
        let got = canny_on_device::<W>(&c.image, &c.cfg, &dev).unwrap();
        assert_eq!(diff(&got, &c.want), 0, "{}", c.label);
        n += 1;
    }
    assert!(n > 50);
}
