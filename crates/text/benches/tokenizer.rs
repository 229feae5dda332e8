//! CLIP tokenizer throughput: the 2,048 fixture prompts as one batch, one short prompt, and loading
//! the bundled vocabulary. Run with `cargo bench -p ultrares-text --bench tokenizer`; figures go in
//! `docs/benchmarks.md` beside `tools/bench/text_reference.py` (transformers' `CLIPTokenizer`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_text::{ClipPad, ClipTokenizer};

fn tokenizer(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clip_prompts.json"
    );
    let prompts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("prompts fixture"))
            .expect("JSON list");
    let tok = ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer");
    let mut g = c.benchmark_group("clip_tokenizer");
    g.sample_size(20);
    g.bench_function("encode_batch 2048 prompts", |b| {
        b.iter(|| black_box(tok.encode_batch(&prompts).expect("ids")))
    });
    let one = "a photo of an astronaut riding a horse on mars, highly detailed, 8k";
    g.bench_function("encode 1 prompt", |b| {
        b.iter(|| black_box(tok.encode(one).expect("ids")))
    });
    g.sample_size(10);
    g.bench_function("load bundled vocabulary", |b| {
        b.iter(|| black_box(ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer")))
    });
    g.finish();
}

criterion_group!(benches, tokenizer);
criterion_main!(benches);
