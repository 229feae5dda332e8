//! SDXL prompt encoding against diffusers 0.36 `StableDiffusionXLPipeline.encode_prompt`
//! (fixture `sdxl_prompt.npz`, `tools/golden/gen_text.py`) on the tiny towers with `det_weight`
//! weights: zeros for a missing negative under `force_zeros_for_empty_prompt`, `""` encoded
//! without it, `prompt_2` / `negative_prompt_2` / `clip_skip` (positive only); and the same from a
//! pipeline folder laid out as diffusers saves it.

use crate::common;

use std::path::Path;

use burn::tensor::DType;
use common::{B, Golden, config, fixture, rel_err};
use ultrares_text::{
    ClipPad, ClipTokenizer, PromptEmbeds, SdxlPrompt, SdxlTextEncoders, write_openai_folder,
};

fn encoders(force_zeros: bool) -> SdxlTextEncoders<B> {
    let g = Golden::open("clip_encoders");
    let device = Default::default();
    SdxlTextEncoders {
        tokenizer: Some(ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer")),
        text_encoder: Some(
            config("te1")
                .load(&g.state_dict("te1"), DType::F32, &device)
                .expect("te1"),
        ),
        tokenizer_2: ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer_2"),
        text_encoder_2: config("te2")
            .load(&g.state_dict("te2"), DType::F32, &device)
            .expect("te2"),
        force_zeros_for_empty_prompt: force_zeros,
    }
}

fn prompts() -> Vec<String> {
    vec![
        "a photo of a cat".into(),
        format!(
            "{}an astronaut riding a horse! on mars",
            "masterpiece, best quality, ".repeat(12)
        ),
    ]
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn compare(out: &PromptEmbeds<B>, tag: &str, zeros: bool) {
    let mut g = Golden::open("sdxl_prompt");
    let e = rel_err(
        out.prompt_embeds.clone(),
        &g.f32(&format!("{tag}_prompt_embeds")),
        tag,
    );
    assert!(e <= 1e-5, "{tag} prompt_embeds: {e:.2e}");
    let e = rel_err(
        out.pooled_prompt_embeds.clone(),
        &g.f32(&format!("{tag}_pooled")),
        tag,
    );
    assert!(e <= 1e-5, "{tag} pooled: {e:.2e}");
    let neg = out.negative_prompt_embeds.clone().expect("negative");
    let neg_pooled = out
        .negative_pooled_prompt_embeds
        .clone()
        .expect("negative pooled");
    let want = g.f32(&format!("{tag}_negative_prompt_embeds"));
    let want_pooled = g.f32(&format!("{tag}_negative_pooled"));
    if zeros {
        assert!(want.iter().all(|&v| v == 0.0) && want_pooled.iter().all(|&v| v == 0.0));
        assert_eq!(neg.clone().abs().max().into_scalar(), 0.0);
        assert_eq!(neg.dims().to_vec(), want.shape().to_vec());
    } else {
        let e = rel_err(neg, &want, tag);
        assert!(e <= 1e-5, "{tag} negative_prompt_embeds: {e:.2e}");
        let e = rel_err(neg_pooled, &want_pooled, tag);
        assert!(e <= 1e-5, "{tag} negative pooled: {e:.2e}");
    }
}

#[test]
fn encode_prompt_equals_diffusers() {
    let device = Default::default();
    let p = SdxlPrompt {
        prompt: prompts(),
        guidance: true,
        ..Default::default()
    };
    compare(
        &encoders(true).encode(&p, &device).expect("encode a"),
        "a",
        true,
    );
    compare(
        &encoders(false).encode(&p, &device).expect("encode b"),
        "b",
        false,
    );
    let c = SdxlPrompt {
        prompt: prompts(),
        prompt_2: Some(strings(&["an oil painting", "!! wow !!"])),
        negative_prompt: Some(strings(&["blurry", "ugly!"])),
        negative_prompt_2: Some(strings(&["jpeg artifacts", ""])),
        clip_skip: Some(1),
        guidance: true,
    };
    compare(
        &encoders(false).encode(&c, &device).expect("encode c"),
        "c",
        false,
    );
    let none = encoders(true)
        .encode(
            &SdxlPrompt {
                guidance: false,
                ..p.clone()
            },
            &device,
        )
        .expect("no guidance");
    assert!(none.negative_prompt_embeds.is_none() && none.negative_pooled_prompt_embeds.is_none());
}

fn write_tower(dir: &Path, name: &str, keys: &str, prefix: &str) {
    let g = Golden::open("clip_encoders");
    let sd = g.state_dict(keys);
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::copy(
        fixture(&format!("clip_{keys}_config.json")),
        dir.join("config.json"),
    )
    .expect("config");
    let tensors: Vec<(String, Vec<u8>, Vec<usize>)> = sd
        .keys()
        .map(|k| {
            let data = sd.data(k).expect("listed").expect("tensor");
            let bytes: Vec<u8> = data
                .to_vec::<f32>()
                .expect("f32")
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let k = if k.starts_with("text_") {
                k.to_string()
            } else {
                format!("{prefix}{k}")
            };
            (k, bytes, data.shape.to_vec())
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, b, s)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("view"),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join(name)).expect("write safetensors");
}

#[test]
fn pipeline_folder_loads_and_bad_folders_are_named() {
    let root = std::env::temp_dir().join(format!("ultrares-sdxl-prompt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::copy(
        fixture("sdxl_model_index.json"),
        root.join("model_index.json"),
    )
    .expect("index");
    write_openai_folder(root.join("tokenizer"), ClipPad::EndOfText).expect("tokenizer");
    write_openai_folder(root.join("tokenizer_2"), ClipPad::Exclamation).expect("tokenizer_2");
    // text_encoder/ with the hub's `text_model.` keys (transformers 4), text_encoder_2/ as
    // transformers 5 saves it.
    write_tower(
        &root.join("text_encoder"),
        "model.safetensors",
        "te1",
        "text_model.",
    );
    write_tower(&root.join("text_encoder_2"), "model.safetensors", "te2", "");
    let device = Default::default();
    let enc = SdxlTextEncoders::<B>::from_pipeline_dir(&root, None, DType::F32, &device)
        .expect("load folder");
    assert!(enc.force_zeros_for_empty_prompt);
    let p = SdxlPrompt {
        prompt: prompts(),
        guidance: true,
        ..Default::default()
    };
    compare(&enc.encode(&p, &device).expect("encode"), "a", true);

    std::fs::remove_file(root.join("text_encoder_2/model.safetensors")).expect("rm");
    let msg = SdxlTextEncoders::<B>::from_pipeline_dir(&root, None, DType::F32, &device)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("text_encoder_2") && msg.contains("model.safetensors"),
        "{msg}"
    );
    let index = std::fs::read_to_string(root.join("model_index.json")).expect("index");
    std::fs::write(
        root.join("model_index.json"),
        index.replace("StableDiffusionXLPipeline", "FluxPipeline"),
    )
    .expect("write");
    let msg = SdxlTextEncoders::<B>::from_pipeline_dir(&root, None, DType::F32, &device)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("FluxPipeline") && msg.contains("StableDiffusionXLPipeline"),
        "{msg}"
    );
    let msg = encoders(true)
        .encode(
            &SdxlPrompt {
                negative_prompt: Some(strings(&["x"])),
                ..p.clone()
            },
            &device,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("negative_prompt has 1 entries, prompt has 2"),
        "{msg}"
    );
    std::fs::remove_dir_all(root).ok();
}
