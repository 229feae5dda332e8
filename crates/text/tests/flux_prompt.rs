//! Flux prompt encoding against diffusers 0.36 `FluxPipeline.encode_prompt` (fixture
//! `flux_prompt.npz`, `tools/golden/gen_text.py`) over the tiny `te1` CLIP tower and the tiny T5,
//! `det_weight` weights, max_sequence_length 32, with and without `prompt_2`.

mod common;

use burn::tensor::DType;
use common::{B, Golden, config, fixture, rel_err};
use ultrares_nn::ConfigJson;
use ultrares_text::{ClipPad, ClipTokenizer, FluxTextEncoders, T5EncoderConfig, T5Tokenizer};

#[test]
fn flux_encode_prompt_equals_diffusers() {
    let device = Default::default();
    let clip = Golden::open("clip_encoders");
    let t5 = Golden::open("t5_tiny");
    let t5_cfg = T5EncoderConfig::from_config_json(
        &ConfigJson::read(fixture("t5_tiny_config.json")).expect("config"),
    )
    .expect("t5 config");
    let enc = FluxTextEncoders::<B> {
        tokenizer: ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer"),
        text_encoder: config("te1")
            .load(&clip.state_dict("te1"), DType::F32, &device)
            .expect("clip"),
        tokenizer_2: T5Tokenizer::from_dir(fixture("t5_tokenizer")).expect("t5 tokenizer"),
        text_encoder_2: t5_cfg
            .load(&t5.state_dict("t5_tiny"), DType::F32, &device)
            .expect("t5"),
    };
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
