//! Bad configs, weights and inputs: one clear error naming the argument, never a panic.

use crate::common;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, config, det_state_dict, fixture, model};
use ultrares_nn::{ConfigJson, StateDict};
use ultrares_unet::{AddedCond, UNet2DConditionConfig, UNet2DConditionModel, UnetError};

fn tiny_json() -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(fixture("unet_tiny_config.json")).expect("cfg"))
        .expect("json")
}

fn parse(
    map: serde_json::Map<String, serde_json::Value>,
) -> Result<UNet2DConditionConfig, UnetError> {
    UNet2DConditionConfig::from_config_json(&ConfigJson::from_map("config.json", map))
}

#[test]
fn unsupported_and_inconsistent_configs_name_the_field() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("_class_name", "AutoencoderKL".into(), "_class_name"),
        ("addition_embed_type", "text".into(), "addition_embed_type"),
        ("class_embed_type", "timestep".into(), "class_embed_type"),
        (
            "resnet_time_scale_shift",
            "scale_shift".into(),
            "resnet_time_scale_shift",
        ),
        (
            "down_block_types",
            serde_json::json!(["DownBlock2D"]),
            "down_block_types",
        ),
        (
            "up_block_types",
            serde_json::json!(["CrossAttnUpBlock2D", "SimpleUpBlock2D", "UpBlock2D"]),
            "SimpleUpBlock2D",
        ),
        (
            "attention_head_dim",
            serde_json::json!([2, 5, 6]),
            "num_attention_heads",
        ),
        ("norm_num_groups", 7.into(), "norm_num_groups"),
        ("time_cond_proj_dim", 256.into(), "time_cond_proj_dim"),
        ("block_out_channels", "wide".into(), "block_out_channels"),
    ];
    for (key, value, needle) in cases {
        let mut map = tiny_json();
        map.insert(key.to_string(), value);
        let e = parse(map).expect_err(key).to_string();
        assert!(e.contains(needle), "{key}: {e}");
    }
    assert!(parse(tiny_json()).is_ok());
}

#[test]
fn missing_and_mis_shaped_weights_are_listed() {
    let sd = det_state_dict("tiny");
    let tensors = sd.keys().filter(|k| *k != "conv_in.bias").map(|k| {
        let mut data = sd.data(k).expect("key").expect("data");
        if k == "conv_out.weight" {
            data = TensorData::new(vec![0f32; 4 * 32 * 9], [32, 4, 3, 3]);
        }
        (k.to_string(), data)
    });
    let mut all: Vec<_> = tensors.collect();
    all.push(("extra.weight".to_string(), TensorData::new(vec![0f32], [1])));
    let bad = StateDict::from_tensors("bad.safetensors", all);
    let e = UNet2DConditionModel::<B>::load(
        &config("unet_tiny"),
        &bad,
        DType::F32,
        &Default::default(),
    )
    .expect_err("bad weights")
    .to_string();
    for needle in [
        "conv_in.bias",
        "conv_out.weight",
        "extra.weight",
        "bad.safetensors",
    ] {
        assert!(e.contains(needle), "{needle} not in {e}");
    }
}

#[test]
fn wrong_input_shapes_name_the_argument() {
    let unet = model("unet_tiny", "tiny");
    let d = Default::default();
    let z = |s: [usize; 4]| Tensor::<B, 4>::zeros(s, &d);
    let t = Tensor::<B, 1>::from_data(TensorData::new(vec![10f32], [1]), &d);
    let ehs = |n, c| Tensor::<B, 3>::zeros([n, 5, c], &d);
    let added = |n, p, k| {
        Some(AddedCond {
            text_embeds: Tensor::<B, 2>::zeros([n, p], &d),
            time_ids: Tensor::<B, 2>::zeros([n, k], &d),
        })
    };
    let cases = [
        (
            unet.forward(z([1, 3, 8, 8]), t.clone(), ehs(1, 96), added(1, 40, 6)),
            "sample",
        ),
        (
            unet.forward(z([1, 4, 8, 8]), t.clone(), ehs(1, 64), added(1, 40, 6)),
            "encoder_hidden_states",
        ),
        (
            unet.forward(z([2, 4, 8, 8]), t.clone(), ehs(1, 96), added(2, 40, 6)),
            "encoder_hidden_states",
        ),
        (
            unet.forward(z([1, 4, 8, 8]), t.clone(), ehs(1, 96), added(1, 40, 5)),
            "added_cond",
        ),
        (
            unet.forward(z([1, 4, 8, 8]), t.clone(), ehs(1, 96), None),
            "added_cond",
        ),
        (
            unet.forward(
                z([2, 4, 8, 8]),
                Tensor::zeros([3], &d),
                ehs(2, 96),
                added(2, 40, 6),
            ),
            "timesteps",
        ),
    ];
    for (result, needle) in cases {
        let e = result.expect_err(needle).to_string();
        assert!(e.starts_with(needle), "{needle}: {e}");
    }
    assert!(
        unet.forward(z([1, 4, 8, 8]), t, ehs(1, 96), added(1, 40, 6))
            .is_ok()
    );
}
