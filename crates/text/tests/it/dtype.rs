//! Half precision: the tiny bigG-style tower (`te2`) loaded in f16 and bf16 on burn-flex (the CPU
//! backend with half-precision kernels) stays finite and close to the same model in f32.
//!
//! Tolerances, relative to the largest |value| of the f32 output: f16 ≤ 5e-3 and bf16 ≤ 2.5e-2,
//! about 10× and 6× each format's unit roundoff (2⁻¹¹, 2⁻⁸): weights and activations are rounded
//! at every one of the 4 layers' 6 matrix products, while LayerNorm statistics and the attention
//! softmax run in f32. Measured: f16 1.9e-3, bf16 8.8e-3 (machine C).

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_flex::Flex;
use common::{Golden, config};
use ultrares_nn::ConfigJson;
use ultrares_text::{ClipTextModel, T5EncoderConfig, T5EncoderModel};

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

/// T5 under half precision: `wo` stays f32 (transformers' `_keep_in_fp32_modules`), the rest is
/// half, the output is finite and close to f32. T5's unscaled attention logits make half precision
/// coarser than CLIP's: transformers itself, the same model cast the same way (`wo` f32), is off
/// its f32 output by 4.8e-3 (f16) and 3.7e-2 (bf16) relative (torch 2.15, CPU); ours measured
/// 4.6e-3 / 4.0e-2. Tolerances 1e-2 / 6e-2: about twice the reference's own error.
#[test]
fn half_precision_t5_keeps_wo_in_f32() {
    let mut g = Golden::open("t5_tiny");
    let device = Default::default();
    let cfg = T5EncoderConfig::from_config_json(
        &ConfigJson::read(common::fixture("t5_tiny_config.json")).expect("config"),
    )
    .expect("config");
    let sd = g.state_dict("t5_tiny");
    let a: ndarray::ArrayD<i64> = g.npz.by_name("ids").expect("ids");
    let ids = Tensor::<F, 2, Int>::from_data(
        TensorData::new(
            a.iter().copied().collect::<Vec<_>>(),
            [a.shape()[0], a.shape()[1]],
        ),
        &device,
    );
    let reference: T5EncoderModel<F> = cfg.load(&sd, DType::F32, &device).expect("f32");
    let want = reference
        .forward(ids.clone(), false)
        .expect("f32")
        .last_hidden_state;
    for (dtype, tol) in [(DType::F16, 1e-2f32), (DType::BF16, 6e-2)] {
        let model: T5EncoderModel<F> = cfg.load(&sd, dtype, &device).expect("half");
        assert_eq!(
            model.block[0].wo.weight.val().dtype(),
            DType::F32,
            "wo stays f32"
        );
        assert_eq!(model.block[0].wi_0.weight.val().dtype(), dtype);
        let got = model
            .forward(ids.clone(), false)
            .expect("half")
            .last_hidden_state;
        assert_eq!(got.dtype(), dtype);
        let got = got.cast(DType::F32);
        assert!(
            got.clone().is_finite().all().into_scalar(),
            "{dtype:?}: not finite"
        );
        let scale: f32 = want.clone().abs().max().into_scalar();
        let err: f32 = (got - want.clone()).abs().max().into_scalar() / scale;
        eprintln!("T5 {dtype:?}: relative error {err:.2e}");
        assert!(
            err <= tol,
            "T5 {dtype:?}: relative error {err:.2e} > {tol:.0e}"
        );
    }
}
