//! SD3 prompt encoding against diffusers 0.36 `StableDiffusion3Pipeline.encode_prompt` (fixture
//! `sd3_prompt.npz`, `tools/golden/gen_text.py`): tiny CLIP-L / bigG towers with projections and a
//! tiny T5 (128 wide, so the CLIP states are zero-padded), `det_weight` weights,
//! `max_sequence_length` 32; case a (default "" negatives), case b (prompt_2, prompt_3, negatives,
//! clip_skip=1 on the positive only).

use crate::common;

use burn::tensor::DType;
use common::{B, Golden, pipeline_folder, rel_err};
use ultrares_text::{PromptEmbeds, Sd3Prompt, Sd3TextEncoders};

/// The encoders loaded from a diffusers SD3 pipeline folder written from the fixtures.
fn encoders() -> Sd3TextEncoders<B> {
    let dir = pipeline_folder(
        "sd3",
        "StableDiffusion3Pipeline",
        &[
            (
                "text_encoder",
                "CLIPTextModelWithProjection",
                "sd3_te1_config.json",
                "sd3_prompt",
                "sd3_te1",
            ),
            (
                "text_encoder_2",
                "CLIPTextModelWithProjection",
                "sd3_te2_config.json",
                "sd3_prompt",
                "sd3_te2",
            ),
            (
                "text_encoder_3",
                "T5EncoderModel",
                "sd3_t5_config.json",
                "sd3_prompt",
                "sd3_t5",
            ),
        ],
        &[
            ("tokenizer", "clip"),
            ("tokenizer_2", "clip-bigg"),
            ("tokenizer_3", "t5_tokenizer"),
        ],
        &[("transformer/config.json", r#"{"joint_attention_dim": 128}"#)],
    );
    let enc = Sd3TextEncoders::from_pipeline_dir(&dir, None, DType::F32, &Default::default())
        .expect("SD3 folder");
    assert_eq!(enc.joint_attention_dim, 128);
    let _ = std::fs::remove_dir_all(&dir);
    enc
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn compare(out: &PromptEmbeds<B>, tag: &str) {
    let mut g = Golden::open("sd3_prompt");
    let pairs = [
        ("prompt_embeds", out.prompt_embeds.clone()),
        (
            "negative_prompt_embeds",
            out.negative_prompt_embeds.clone().expect("negative"),
        ),
    ];
    for (k, t) in pairs {
        let e = rel_err(t, &g.f32(&format!("{tag}_{k}")), tag);
        assert!(e <= 1e-5, "{tag} {k}: relative error {e:.2e}");
    }
    let pooled = [
        ("pooled", out.pooled_prompt_embeds.clone()),
        (
            "negative_pooled",
            out.negative_pooled_prompt_embeds.clone().expect("neg"),
        ),
    ];
    for (k, t) in pooled {
        let e = rel_err(t, &g.f32(&format!("{tag}_{k}")), tag);
        assert!(e <= 1e-5, "{tag} {k}: relative error {e:.2e}");
    }
}

#[test]
fn sd3_encode_prompt_equals_diffusers() {
    let enc = encoders();
    let device = Default::default();
    let prompts = vec![
        "a photo of a cat".to_string(),
        format!(
            "{}an astronaut riding a horse! on mars",
            "masterpiece, best quality, ".repeat(12)
        ),
    ];
    let a = Sd3Prompt {
        prompt: prompts.clone(),
        guidance: true,
        max_sequence_length: 32,
        ..Default::default()
    };
    let out = enc.encode(&a, &device).expect("encode a");
    assert_eq!(out.prompt_embeds.dims(), [2, 77 + 32, 128]);
    compare(&out, "a");
    let b = Sd3Prompt {
        prompt: prompts,
        prompt_2: Some(strings(&["an oil painting", "!! wow !!"])),
        prompt_3: Some(strings(&["a lighthouse", "at dusk"])),
        negative_prompt: Some(strings(&["blurry", "ugly!"])),
        negative_prompt_3: Some(strings(&["jpeg", ""])),
        clip_skip: Some(1),
        guidance: true,
        max_sequence_length: 32,
        ..Default::default()
    };
    compare(&enc.encode(&b, &device).expect("encode b"), "b");
    let msg = enc
        .encode(
            &Sd3Prompt {
                prompt_3: Some(strings(&["x"])),
                ..a.clone()
            },
            &device,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("prompt_3 has 1 entries, prompt has 2"),
        "{msg}"
    );
    let without_t5 = Sd3TextEncoders { t5: None, ..enc };
    let out = without_t5.encode(&a, &device).expect("no T5");
    let t5_part = out.prompt_embeds.slice([0..2, 77..109, 0..128]);
    assert_eq!(
        t5_part.abs().max().into_scalar(),
        0.0,
        "zeros without T5, as diffusers"
    );
}
