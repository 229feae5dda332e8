//! Flux prompt encoding against diffusers 0.36 `FluxPipeline.encode_prompt` (fixture
//! `flux_prompt.npz`, `tools/golden/gen_text.py`) over the tiny `te1` CLIP tower and the tiny T5,
//! `det_weight` weights, max_sequence_length 32, with and without `prompt_2`.

use crate::common;

use burn::tensor::DType;
use common::{B, Golden, pipeline_folder, rel_err};
use ultrares_text::FluxTextEncoders;

#[test]
fn flux_encode_prompt_equals_diffusers() {
    let device = Default::default();
    let dir = pipeline_folder(
        "flux",
        "FluxPipeline",
        &[
            (
                "text_encoder",
                "CLIPTextModel",
                "clip_te1_config.json",
                "clip_encoders",
                "te1",
            ),
            (
                "text_encoder_2",
                "T5EncoderModel",
                "t5_tiny_config.json",
                "t5_tiny",
                "t5_tiny",
            ),
        ],
        &[("tokenizer", "clip"), ("tokenizer_2", "t5_tokenizer")],
        &[],
    );
    let enc = FluxTextEncoders::<B>::from_pipeline_dir(&dir, None, DType::F32, &device)
        .expect("Flux folder");
    let _ = std::fs::remove_dir_all(&dir);
    let prompts = vec![
        "a photo of a cat".to_string(),
        format!(
            "{}an astronaut riding a horse! on mars",
            "masterpiece, best quality, ".repeat(12)
        ),
    ];
    let second = vec!["a lighthouse".to_string(), "at dusk".to_string()];
    let mut g = Golden::open("flux_prompt");
    for (tag, p2) in [("a", None), ("b", Some(second.as_slice()))] {
        let out = enc.encode(&prompts, p2, 32, &device).expect("encode");
        let e = rel_err(
            out.prompt_embeds.clone(),
            &g.f32(&format!("{tag}_prompt_embeds")),
            tag,
        );
        assert!(e <= 1e-5, "{tag} prompt_embeds: relative error {e:.2e}");
        let e = rel_err(
            out.pooled_prompt_embeds.clone(),
            &g.f32(&format!("{tag}_pooled")),
            tag,
        );
        assert!(e <= 1e-5, "{tag} pooled: relative error {e:.2e}");
        assert_eq!(out.text_ids.dims(), [32, 3]);
        assert_eq!(out.text_ids.abs().max().into_scalar(), 0.0);
    }
    let msg = enc
        .encode(&prompts, Some(&second[..1]), 32, &device)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("prompt_2 has 1 entries, prompt has 2"),
        "{msg}"
    );
}
