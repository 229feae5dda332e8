//! Half precision: the tiny bigG-style tower (`te2`) loaded in f16 and bf16 on burn-flex (the CPU
//! backend with half-precision kernels) stays finite and close to the same model in f32.
//!
//! Tolerances, relative to the largest |value| of the f32 output: f16 ≤ 5e-3 and bf16 ≤ 2.5e-2,
//! about 10× and 6× each format's unit roundoff (2⁻¹¹, 2⁻⁸): weights and activations are rounded
//! at every one of the 4 layers' 6 matrix products, while LayerNorm statistics and the attention
//! softmax run in f32. Measured: f16 1.9e-3, bf16 8.8e-3 (machine C).

mod common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_flex::Flex;
use common::{Golden, config};
use ultrares_text::ClipTextModel;

type F = Flex;

fn outputs(model: &ClipTextModel<F>, ids: &Tensor<F, 2, Int>) -> Vec<Tensor<F, 2>> {
    let out = model.forward(ids.clone(), true).expect("forward");
    let n = out.hidden_states.len();
    let [b, l, d] = out.hidden_states[n - 2].dims();
    vec![
        out.hidden_states[n - 2].clone().reshape([b * l, d]),
        out.text_embeds.expect("projection"),
    ]
}

#[test]
fn half_precision_towers_stay_close_to_f32() {
    let g = Golden::open("clip_encoders");
    let device = Default::default();
    let sd = g.state_dict("te2");
    let ids: Vec<i64> = [49406, 320, 1125, 539, 320, 2368, 256, 49407]
        .into_iter()
        .chain(std::iter::repeat_n(0, 69))
        .collect();
    let ids = Tensor::<F, 2, Int>::from_data(TensorData::new(ids, [1, 77]), &device);
    let reference = outputs(
        &config("te2").load(&sd, DType::F32, &device).expect("f32"),
        &ids,
    );
    for (dtype, tol) in [(DType::F16, 5e-3f32), (DType::BF16, 2.5e-2)] {
        let got = outputs(
            &config("te2").load(&sd, dtype, &device).expect("half"),
            &ids,
        );
        for (what, (a, r)) in ["hidden_states[-2]", "text_embeds"]
            .iter()
            .zip(got.into_iter().zip(&reference))
        {
            assert_eq!(a.dtype(), dtype, "{what} keeps the weights' dtype");
            let a = a.cast(DType::F32);
            assert!(
                a.clone().is_finite().all().into_scalar(),
                "{dtype:?} {what}: not finite"
            );
            let scale: f32 = r.clone().abs().max().into_scalar();
            let err: f32 = (a - r.clone()).abs().max().into_scalar() / scale;
            eprintln!("{dtype:?} {what}: relative error {err:.2e}");
            assert!(
                err <= tol,
                "{dtype:?} {what}: relative error {err:.2e} > {tol:.0e}"
            );
        }
    }
}
