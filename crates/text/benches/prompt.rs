//! SDXL prompt encoding at the real topologies (CLIP ViT-L/14 to its penultimate layer, OpenCLIP
//! bigG to the end for `text_embeds`), batch 2 × 77 tokens, f32 on burn-ndarray, weights from
//! `det_weight` (speed does not depend on the values). Run with
//! `cargo bench -p ultrares-text --bench prompt`; figures go in `docs/benchmarks.md` beside
//! `tools/bench/text_reference.py` (transformers, torch CPU).

use std::hint::black_box;

use burn::backend::NdArray;
use burn::tensor::{DType, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_core::testing::det_weight;
use ultrares_nn::StateDict;
use ultrares_text::{
    ClipPad, ClipTextConfig, ClipTextModel, ClipTokenizer, SdxlPrompt, SdxlTextEncoders,
};

type B = NdArray<f32>;

fn tower(keys: &serde_json::Value, name: &str, config: ClipTextConfig) -> ClipTextModel<B> {
    let sd = StateDict::from_tensors(
        name,
        keys[name].as_object().expect("keys").iter().map(|(k, s)| {
            let shape: Vec<usize> = serde_json::from_value(s.clone()).expect("shape");
            (k.clone(), TensorData::new(det_weight(k, &shape), shape))
        }),
    );
    config
        .load(&sd, DType::F32, &Default::default())
        .expect("load")
}

fn prompt(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clip_encoders_real_keys.json"
    );
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("keys")).expect("JSON");
    let enc = SdxlTextEncoders {
        tokenizer: Some(ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer")),
        text_encoder: Some(tower(&keys, "l14", ClipTextConfig::vit_l14())),
        tokenizer_2: ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer_2"),
        text_encoder_2: tower(&keys, "bigg", ClipTextConfig::vit_bigg14()),
        force_zeros_for_empty_prompt: true,
    };
    let p = SdxlPrompt {
        prompt: vec![
            "a photo of an astronaut riding a horse on mars".into(),
            "an oil painting of a lighthouse at dusk".into(),
        ],
        guidance: false,
        ..Default::default()
    };
    let mut g = c.benchmark_group("sdxl_encode_prompt");
    g.sample_size(10);
    g.bench_function("L/14 + bigG, 2 x 77 tokens", |b| {
        b.iter(|| black_box(enc.encode(&p, &Default::default()).expect("encode")))
    });
    g.finish();
}

criterion_group!(benches, prompt);
criterion_main!(benches);
