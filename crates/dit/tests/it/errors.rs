//! Bad input to the DiTs is a clear error naming the argument, never a panic; and half precision
//! (burn-flex's f16/bf16 kernels) stays close to diffusers' own half-precision outputs.

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, Golden, config, det_state_dict, fixture};
use ultrares_dit::{
    DitError, FluxTransformer2DModel, FluxTransformerConfig, Sd3Transformer2DModel,
    Sd3TransformerConfig,
};
use ultrares_nn::{ConfigJson, StateDict};

#[test]
fn configs_of_other_classes_and_inconsistent_sizes_are_refused() {
    let parse = |text: &str| ConfigJson::parse("config.json", text).expect("json");
    let e = Sd3TransformerConfig::from_config_json(&parse(
        r#"{"_class_name": "FluxTransformer2DModel"}"#,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("SD3Transformer2DModel") && e.contains("Flux"),
        "{e}"
    );
    let e = FluxTransformerConfig::from_config_json(&parse(
        r#"{"_class_name": "UNet2DConditionModel"}"#,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("FluxTransformer2DModel"), "{e}");
    let cases: [(&str, &str); 5] = [
        (r#"{"pos_embed_max_size": null}"#, "pos_embed_max_size"),
        (r#"{"qk_norm": "layer_norm"}"#, "qk_norm"),
        (
            r#"{"caption_projection_dim": 1000, "num_attention_heads": 2}"#,
            "caption_projection_dim",
        ),
        (
            r#"{"num_layers": 2, "dual_attention_layers": [5]}"#,
            "dual_attention_layers",
        ),
        (r#"{"patch_size": "two"}"#, "patch_size"),
    ];
    for (json, field) in cases {
        let e = Sd3TransformerConfig::from_config_json(&parse(json))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{json}: {e}");
    }
    for (json, field) in [
        (r#"{"patch_size": 2}"#, "patch_size"),
        (r#"{"axes_dims_rope": [16, 56, 50]}"#, "axes_dims_rope"),
    ] {
        let e = FluxTransformerConfig::from_config_json(&parse(json))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{json}: {e}");
    }
}

#[test]
fn missing_unexpected_and_misshaped_weights_are_listed_in_one_error() {
    let cfg = Sd3TransformerConfig::from_config_json(&config("sd3_tiny")).expect("config");
    let good = det_state_dict("sd3_tiny");
    let device = Default::default();
    let tensors = good
        .keys()
        .filter(|k| !k.contains("norm_added_q"))
        .map(|k| {
            let mut data = good.data(k).expect("key").expect("data");
            if k == "proj_out.weight" {
                data = TensorData::new(vec![0f32; 16 * 15], [16, 15]);
            }
            (k.to_string(), data)
        });
    let mut tensors: Vec<_> = tensors.collect();
    tensors.push(("extra.weight".into(), TensorData::new(vec![0f32; 2], [2])));
    let bad = StateDict::from_tensors("bad.safetensors", tensors);
    let e = Sd3Transformer2DModel::<B>::load(&cfg, &bad, DType::F32, &device)
        .unwrap_err()
        .to_string();
    for needle in [
        "bad.safetensors",
        "3 missing",
        "transformer_blocks.0.attn.norm_added_q.weight",
        "proj_out.weight: expected float [16, 16]",
        "1 unexpected keys [\"extra.weight\"]",
    ] {
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
}

#[test]
fn wrong_input_shapes_name_the_argument() {
    let device = Default::default();
    let sd3 = Sd3Transformer2DModel::<B>::load(
        &Sd3TransformerConfig::from_config_json(&config("sd3_tiny")).expect("config"),
        &det_state_dict("sd3_tiny"),
        DType::F32,
        &device,
    )
    .expect("load");
    let z = |shape: [usize; 3]| Tensor::<B, 3>::zeros(shape, &device);
    let run = |x: [usize; 4], enc: [usize; 3], pooled: [usize; 2], t: usize| {
        sd3.forward(
            Tensor::zeros(x, &device),
            z(enc),
            Tensor::zeros(pooled, &device),
            Tensor::zeros([t], &device),
        )
        .unwrap_err()
        .to_string()
    };
    assert!(
        run([1, 3, 8, 8], [1, 7, 24], [1, 12], 1).contains("hidden_states: expected [N, 4, H, W]")
    );
    assert!(run([1, 4, 8, 8], [1, 7, 23], [1, 12], 1).contains("encoder_hidden_states"));
    assert!(run([1, 4, 8, 8], [1, 7, 24], [2, 12], 1).contains("pooled_projections"));
    assert!(run([1, 4, 8, 8], [1, 7, 24], [1, 12], 2).contains("timestep"));

    let flux = FluxTransformer2DModel::<B>::load(
        &FluxTransformerConfig::from_config_json(&config("flux_tiny")).expect("config"),
        &det_state_dict("flux_tiny"),
        DType::F32,
        &device,
    )
    .expect("load");
    let call = |ids: [usize; 2], guidance: bool| {
        flux.forward(
            z([1, 6, 16]),
            z([1, 3, 24]),
            Tensor::zeros([1, 12], &device),
            Tensor::zeros([1], &device),
            Tensor::zeros(ids, &device),
            Tensor::zeros([3, 3], &device),
            guidance.then(|| Tensor::ones([1], &device)),
        )
    };
    assert!(call([6, 3], true).is_ok());
    let e = call([5, 3], true).unwrap_err().to_string();
    assert!(e.contains("img_ids: expected [6, 3]"), "{e}");
    let e = call([6, 3], false).unwrap_err();
    assert!(
        matches!(
            e,
            DitError::Input {
                argument: "guidance",
                ..
            }
        ),
        "{e}"
    );
}

/// Half precision on burn-flex against diffusers' own half-precision outputs of the same models
/// (torch 2.15, CPU; `dit_half.npz`). Tolerances: twice diffusers' own half-vs-f32 error on SD3
/// (`dit_half_reference.json`: f16 1.6e-3, bf16 1.7e-2), since two half-precision computations of
/// the same rounded inputs differ by about as much as one differs from f32. (Flux's own bf16
/// error against f32, 0.25, is dominated by the intended bf16 rounding of the guidance, 3.5 →
/// 3504, which both sides apply.)
#[test]
fn half_precision_stays_close_to_diffusers_half_precision() {
    type F = burn_flex::Flex;
    let device = Default::default();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("dit_half_reference.json")).unwrap())
            .unwrap();
    let mut half = Golden::open("dit_half");
    let input =
        |g: &mut Golden, name: &str| -> Vec<f32> { g.array(name).iter().copied().collect() };
    let t3 = |v: Vec<f32>, s: [usize; 3], d: DType| {
        Tensor::<F, 3>::from_data(TensorData::new(v, s), &device).cast(d)
    };
    for (dtype, tag) in [(DType::F16, "float16"), (DType::BF16, "bfloat16")] {
        let tol = 2.0 * reference[format!("sd3_tiny_{tag}")].as_f64().unwrap();
        let mut g = Golden::open("sd3_tiny");
        let model = Sd3Transformer2DModel::<F>::load(
            &Sd3TransformerConfig::from_config_json(&config("sd3_tiny")).unwrap(),
            &det_state_dict("sd3_tiny"),
            dtype,
            &device,
        )
        .unwrap();
        let x = Tensor::<F, 4>::from_data(
            TensorData::new(input(&mut g, "a_x_in"), [2, 4, 12, 8]),
            &device,
        );
        let out = model
            .forward(
                x.cast(dtype),
                t3(input(&mut g, "a_enc"), [2, 7, 24], dtype),
                Tensor::<F, 2>::from_data(
                    TensorData::new(input(&mut g, "a_pooled"), [2, 12]),
                    &device,
                )
                .cast(dtype),
                Tensor::from_data(TensorData::new(input(&mut g, "a_t"), [2]), &device),
            )
            .unwrap();
        assert_eq!(out.dtype(), dtype);
        let e = rel(out, &half.array(&format!("sd3_tiny_{tag}")));
        eprintln!("SD3 {tag}: {e:.2e} (tolerance {tol:.1e})");
        assert!(e <= tol, "SD3 {tag}: {e:.2e} > {tol:.1e}");

        let mut g = Golden::open("flux_tiny");
        let model = FluxTransformer2DModel::<F>::load(
            &FluxTransformerConfig::from_config_json(&config("flux_tiny")).unwrap(),
            &det_state_dict("flux_tiny"),
            dtype,
            &device,
        )
        .unwrap();
        let ids = Tensor::<F, 2>::from_data(
            TensorData::new(input(&mut g, "a_img_ids"), [24, 3]),
            &device,
        );
        let out = model
            .forward(
                t3(input(&mut g, "a_packed"), [2, 24, 16], dtype),
                t3(input(&mut g, "a_enc"), [2, 7, 24], dtype),
                Tensor::<F, 2>::from_data(
                    TensorData::new(input(&mut g, "a_pooled"), [2, 12]),
                    &device,
                )
                .cast(dtype),
                Tensor::from_data(TensorData::new(input(&mut g, "a_t"), [2]), &device),
                ids,
                Tensor::zeros([7, 3], &device),
                Some(Tensor::from_data(
                    TensorData::new(input(&mut g, "a_guidance"), [2]),
                    &device,
                )),
            )
            .unwrap();
        let e = rel(out, &half.array(&format!("flux_tiny_{tag}")));
        eprintln!("Flux {tag}: {e:.2e} (tolerance {tol:.1e})");
        assert!(e <= tol, "Flux {tag}: {e:.2e} > {tol:.1e}");
    }
}

fn rel<const D: usize>(ours: Tensor<burn_flex::Flex, D>, reference: &ndarray::ArrayD<f32>) -> f64 {
    let ours: Vec<f32> = ours.cast(DType::F32).into_data().to_vec().expect("f32");
    assert!(ours.iter().all(|v| v.is_finite()), "non-finite");
    let scale = reference
        .iter()
        .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max(f64::from(a - b).abs()));
    diff / scale
}
