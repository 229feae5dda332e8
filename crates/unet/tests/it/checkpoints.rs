//! Single-file checkpoints and LoRA files against diffusers 0.36 (`tools/golden/gen_unet.py`):
//! every LDM/SGM name equals the one diffusers' `convert_ldm_unet_checkpoint` maps back (tiny and
//! real SDXL base), a single-file UNet gives the diffusers output, and a kohya LoRA and its PEFT
//! twin merged at scale 0.7 equal `load_lora_weights` + `fuse_lora(lora_scale=0.7)`.

use crate::common;

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use common::{B, Golden, config, det_state_dict, fixture, model, rel_err};
use ultrares_core::testing::det_weight;
use ultrares_nn::StateDict;
use ultrares_unet::{
    AddedCond, LDM_UNET_PREFIX, Lora, UNet2DConditionConfig, UNet2DConditionModel,
};

fn ldm_fixture(name: &str) -> BTreeMap<String, String> {
    let all = common::keys_file("unet_ldm_keys.json");
    serde_json::from_value(all[name].clone()).expect("pairs")
}

#[test]
fn ldm_names_equal_diffusers_single_file_converter() {
    for (name, cfg) in [
        ("tiny", config("unet_tiny")),
        ("sdxl_base", UNet2DConditionConfig::sdxl_base()),
    ] {
        let unet = cfg.init::<B>(&Default::default()).expect("init");
        let ours: BTreeMap<String, String> = unet
            .ldm_names()
            .into_iter()
            .map(|(l, d)| (format!("{LDM_UNET_PREFIX}{l}"), d))
            .collect();
        let want = ldm_fixture(name);
        assert_eq!(ours.len(), want.len(), "{name}: key count");
        for (l, d) in &want {
            assert_eq!(ours.get(l), Some(d), "{name}: {l}");
        }
    }
}

fn tiny_out(unet: &UNet2DConditionModel<B>) -> Tensor<B, 4> {
    let mut g = Golden::open("unet_tiny");
    let added = AddedCond {
        text_embeds: g.tensor("a_text_embeds"),
        time_ids: g.tensor("a_time_ids"),
    };
    unet.forward(
        g.tensor("a_sample"),
        g.tensor("a_t"),
        g.tensor("a_ehs"),
        Some(added),
    )
    .expect("forward")
}

#[test]
fn single_file_unet_equals_diffusers() {
    let shapes = common::keys();
    let shapes = shapes["tiny"]["keys"].as_object().expect("keys");
    let mut tensors: Vec<(String, TensorData)> = ldm_fixture("tiny")
        .into_iter()
        .map(|(l, d)| {
            let shape: Vec<usize> = serde_json::from_value(shapes[&d].clone()).expect("shape");
            (l, TensorData::new(det_weight(&d, &shape), shape))
        })
        .collect();
    // Other components of a single file are ignored.
    tensors.push((
        "first_stage_model.decoder.conv_in.bias".into(),
        TensorData::new(vec![0f32; 3], [3]),
    ));
    let sd = StateDict::from_tensors("sd_xl_tiny.safetensors", tensors);
    let unet = UNet2DConditionModel::<B>::load_single_file(
        &config("unet_tiny"),
        &sd,
        DType::F32,
        &Default::default(),
    )
    .expect("single file");
    let e = rel_err(
        tiny_out(&unet),
        &Golden::open("unet_tiny").array("a_out"),
        "out",
    );
    assert!(e <= 1e-5, "{e:.2e}");

    let not_ldm = det_state_dict("tiny");
    let e = UNet2DConditionModel::<B>::load_single_file(
        &config("unet_tiny"),
        &not_ldm,
        DType::F32,
        &Default::default(),
    )
    .expect_err("diffusers names are not a single file")
    .to_string();
    assert!(e.contains("model.diffusion_model."), "{e}");
}

#[test]
fn kohya_and_peft_loras_merge_as_diffusers_fuse_lora() {
    let mut g = Golden::open("lora");
    for tag in ["kohya", "peft"] {
        let mut unet = model("unet_tiny", "tiny");
        let lora = Lora::read(fixture(&format!("lora_{tag}.safetensors"))).expect("lora");
        assert_eq!(lora.len(), 7, "{tag}");
        lora.merge_into(&mut unet, 0.7).expect("merge");
        let to_q = unet.down_blocks[1].attentions[0].transformer_blocks[0]
            .attn1
            .to_q
            .weight
            .val();
        let e = rel_err(
            to_q.transpose(),
            &g.array(&format!(
                "{tag}_down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"
            )),
            "to_q",
        );
        assert!(e <= 1e-6, "{tag}: merged to_q {e:.2e}");
        let e = rel_err(tiny_out(&unet), &g.array(&format!("{tag}_out")), "out");
        println!("{tag}: out {e:.2e}");
        assert!(e <= 1e-5, "{tag}: {e:.2e}");
    }
}

#[test]
fn a_lora_for_another_model_is_refused_before_any_change() {
    let mut unet = model("unet_tiny", "tiny");
    let before = tiny_out(&unet);
    let tensors = vec![
        (
            "lora_unet_input_blocks_99_1_proj_in.lora_down.weight".to_string(),
            TensorData::new(vec![0.1f32; 4 * 96], [4, 96]),
        ),
        (
            "lora_unet_input_blocks_99_1_proj_in.lora_up.weight".to_string(),
            TensorData::new(vec![0.1f32; 96 * 4], [96, 4]),
        ),
        (
            "lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight".to_string(),
            TensorData::new(vec![0.1f32; 4 * 32 * 9], [4, 32, 3, 3]),
        ),
        (
            "lora_unet_input_blocks_1_0_in_layers_2.lora_up.weight".to_string(),
            TensorData::new(vec![0.1f32; 32 * 4], [32, 4, 1, 1]),
        ),
        (
            "lora_unet_middle_block_1_proj_in.lora_down.weight".to_string(),
            TensorData::new(vec![0.1f32; 4 * 50], [4, 50]),
        ),
        (
            "lora_unet_middle_block_1_proj_in.lora_up.weight".to_string(),
            TensorData::new(vec![0.1f32; 96 * 4], [96, 4]),
        ),
    ];
    let lora = Lora::from_state_dict(&StateDict::from_tensors("other.safetensors", tensors))
        .expect("parse");
    let e = lora
        .merge_into(&mut unet, 1.0)
        .expect_err("unmatched")
        .to_string();
    assert!(
        e.contains("input_blocks_99_1_proj_in") && e.contains("middle_block_1_proj_in"),
        "{e}"
    );
    assert!(!e.contains("input_blocks_1_0_in_layers_2"), "{e}");
    let diff: f32 = (tiny_out(&unet) - before).abs().max().into_scalar();
    assert_eq!(diff, 0.0, "the model changed");

    let loha = vec![(
        "lora_unet_x.hada_w1_a".to_string(),
        TensorData::new(vec![0f32], [1]),
    )];
    let e = Lora::from_state_dict(&StateDict::from_tensors("loha.safetensors", loha))
        .expect_err("loha")
        .to_string();
    assert!(e.contains("LoHa"), "{e}");
}
