//! T5 tokenizer against transformers 5.24 `T5Tokenizer` on the fixture folder `t5_tokenizer/`
//! (a SentencePiece unigram model with nmt_nfkc normalisation trained by `tools/golden/gen_text.py`,
//! saved by transformers): the 2,048 prompts at `max_length` 128 (159 of them truncated), ids equal.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use ndarray_npy::NpzReader;
use ultrares_text::T5Tokenizer;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn t5_tokenizer_equals_transformers() {
    let tok = T5Tokenizer::from_dir(fixtures().join("t5_tokenizer")).expect("tokenizer");
    assert_eq!(
        (
            tok.pad_id(),
            tok.eos_id(),
            tok.vocab_size(),
            tok.model_max_length()
        ),
        (0, 1, 700, 512)
    );
    let prompts: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("clip_prompts.json")).expect("prompts"),
    )
    .expect("JSON");
    let mut npz =
        NpzReader::new(std::fs::File::open(fixtures().join("clip_ids.npz")).expect("npz"))
            .expect("npz");
    let ids: Array2<i32> = npz.by_name("t5_ids").expect("t5_ids");
    let lens: Array1<i32> = npz.by_name("t5_len").expect("t5_len");
    let batch = tok.encode_batch(&prompts, 128).expect("batch");
    let mut bad = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        let want: Vec<u32> = ids.row(i).iter().map(|&v| v as u32).collect();
        assert_eq!(
            tok.encode(p, 128).expect("encode"),
            batch[i],
            "encode vs batch, prompt {i}"
        );
        assert_eq!(
            tok.token_count(p).expect("count"),
            lens[i] as usize,
            "token count of prompt {i} {p:?}"
        );
        if batch[i] != want {
            bad.push(format!(
                "prompt {i} {p:?}:\n  ours {:?}\n  ref  {want:?}",
                batch[i]
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} prompts differ, first: {}",
        bad.len(),
        prompts.len(),
        bad[0]
    );
}

#[test]
fn t5_bad_folders_and_lengths_are_named() {
    let dir = std::env::temp_dir().join(format!("ultrares-t5-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("spiece.model"), b"x").expect("write");
    let msg = T5Tokenizer::from_dir(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("save_pretrained"),
        "{msg}"
    );
    std::fs::copy(
        fixtures().join("t5_tokenizer/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .expect("copy");
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"tokenizer_class": "CLIPTokenizer"}"#,
    )
    .expect("write");
    let msg = T5Tokenizer::from_dir(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("\"CLIPTokenizer\"") && msg.contains("T5Tokenizer"),
        "{msg}"
    );
    std::fs::write(dir.join("tokenizer_config.json"), "{}").expect("write");
    let clip = std::env::temp_dir().join(format!("ultrares-t5-clip-{}", std::process::id()));
    ultrares_text::write_openai_folder(&clip, ultrares_text::ClipPad::EndOfText)
        .expect("clip folder");
    let clip_json = ultrares_text::ClipTokenizer::from_dir(&clip)
        .expect("clip")
        .to_tokenizer_json()
        .expect("json");
    std::fs::write(dir.join("tokenizer.json"), clip_json).expect("write");
    let msg = T5Tokenizer::from_dir(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("Unigram"), "{msg}");
    let tok = T5Tokenizer::from_dir(fixtures().join("t5_tokenizer")).expect("tokenizer");
    let msg = tok
        .encode("a cat", 1)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("max_length 1"), "{msg}");
    std::fs::remove_dir_all(dir).ok();
    std::fs::remove_dir_all(clip).ok();
}
