//! Half precision on burn-flex (the CPU backend with f16/bf16 tensors): the tiny official LSR
//! (`lsr_tiny`, SwinIR + LIIF) with its weights cast by `Liif::with_dtype` computes in that dtype
//! from an f32 input and returns f32, within a few units of the dtype's rounding of the f32
//! official output.

use std::path::PathBuf;

use burn::tensor::{DType, Tensor, TensorData};
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_lsr::Liif;

type F = burn_flex::Flex;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn half_precision_lsr_stays_within_its_rounding_of_the_official_output() {
    let device = Default::default();
    let mut r =
        NpzReader::new(std::fs::File::open(fixture("lsr_tiny.npz")).expect("npz")).expect("npz");
    let input: ArrayD<f32> = r.by_name("input").expect("input");
    let want: ArrayD<f32> = r.by_name("output").expect("output");
    let mut shape = vec![1];
    shape.extend_from_slice(input.shape());
    let x = Tensor::<F, 4>::from_data(
        TensorData::new(input.iter().copied().collect(), shape),
        &device,
    );
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let model = Liif::<F>::from_checkpoint(fixture("lsr_tiny.safetensors"), &device).expect("load");
    // Unit roundoff u of each dtype. Measured: 2.3u (f16) and 2.2u (bf16) of the output's
    // magnitude; the bound allows 8u for other summation orders (GPU kernels), far below what a
    // wrong operation would give.
    for (dtype, u) in [
        (DType::F32, 0.0),
        (DType::F16, 2f32.powi(-11)),
        (DType::BF16, 2f32.powi(-8)),
    ] {
        let m = model.clone().with_dtype(dtype);
        assert_eq!(m.dtype(), dtype);
        let y = m.forward(x.clone(), [48, 58]).expect("forward");
        assert_eq!(
            y.dtype(),
            DType::F32,
            "{dtype:?}: the output keeps the input's dtype"
        );
        let got: Vec<f32> = y.into_data().to_vec().expect("f32");
        assert!(
            got.iter().all(|v| v.is_finite()),
            "{dtype:?}: non-finite output"
        );
        let err = got
            .iter()
            .zip(want.iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        println!(
            "{dtype:?}: max error {err:.2e} of max |y| = {scale:.2} ({:.1} u)",
            err / u.max(f32::MIN_POSITIVE)
        );
        let bound = if dtype == DType::F32 { 1e-5 } else { 16.0 * u };
        assert!(
            err <= bound,
            "{dtype:?}: relative error {err:.2e} > {bound:.1e}"
        );
        if dtype != DType::F32 {
            assert!(
                err > 0.1 * u,
                "{dtype:?}: error {err:.2e} too small to have run in half precision"
            );
        }
    }
}
