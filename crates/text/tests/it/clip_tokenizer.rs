//! CLIP tokenizers against transformers 5.24.0 `CLIPTokenizer` (fixtures: `tools/golden/gen_text.py`):
//! 2,048 prompts (edge cases and seeded mixes of accents, CJK, emoji, `!` runs, html entities,
//! contractions, odd whitespace, special-token text, 204 of them over 77 tokens), ids equal exactly.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::NpzReader;
use ultrares_text::{ClipPad, ClipTokenizer, TextError, write_openai_folder};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn prompts() -> Vec<String> {
    let text =
        std::fs::read_to_string(fixtures().join("clip_prompts.json")).expect("prompts fixture");
    serde_json::from_str(&text).expect("prompts fixture is a JSON list")
}

fn reference(k: &str) -> (Array2<i32>, Vec<i32>) {
    let file = std::fs::File::open(fixtures().join("clip_ids.npz")).expect("ids fixture");
    let mut npz = NpzReader::new(file).expect("npz");
    let ids: Array2<i32> = npz.by_name(&format!("ids_{k}")).expect("ids");
    let len: ndarray::Array1<i32> = npz.by_name(&format!("len_{k}")).expect("len");
    (ids, len.to_vec())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-text-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn assert_equal(tok: &ClipTokenizer, k: &str, what: &str) {
    let prompts = prompts();
    let (ids, lens) = reference(k);
    assert_eq!(ids.nrows(), prompts.len());
    let batch = tok.encode_batch(&prompts).expect("encode_batch");
    let mut mismatches = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        let want: Vec<u32> = ids.row(i).iter().map(|&v| v as u32).collect();
        let one = tok.encode(p).expect("encode");
        assert_eq!(
            one, batch[i],
            "{what}: encode and encode_batch differ on prompt {i} {p:?}"
        );
        if one != want {
            mismatches.push(format!(
                "prompt {i} {p:?}:\n  ours {one:?}\n  ref  {want:?}"
            ));
        }
        assert_eq!(
            tok.token_count(p).expect("count"),
            lens[i] as usize,
            "{what}: token count of prompt {i} {p:?}"
        );
    }
    assert!(
        mismatches.is_empty(),
        "{what}: {} of {} prompts differ from transformers, first: {}",
        mismatches.len(),
        prompts.len(),
        mismatches[0]
    );
}

#[test]
fn bundled_tokenizers_equal_transformers() {
    let tok = ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer");
    assert_eq!(
        tok.encode("a photo of a cat").expect("ids")[..8],
        [49406, 320, 1125, 539, 320, 2368, 49407, 49407]
    );
    assert_eq!(
        (tok.vocab_size(), tok.max_length(), tok.pad_id()),
        (49408, 77, 49407)
    );
    assert_equal(&tok, "1", "tokenizer (EndOfText)");
    let tok2 = ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer_2");
    assert_eq!(
        tok2.encode("! !! !!!").expect("ids")[..9],
        [49406, 0, 0, 0, 0, 0, 0, 49407, 0]
    );
    assert_equal(&tok2, "2", "tokenizer_2 (Exclamation)");
}

#[test]
fn diffusers_folders_equal_transformers() {
    let root = temp_dir("folders");
    write_openai_folder(root.join("tokenizer"), ClipPad::EndOfText).expect("write");
    write_openai_folder(root.join("tokenizer_2"), ClipPad::Exclamation).expect("write");
    assert_equal(
        &ClipTokenizer::from_dir(root.join("tokenizer")).expect("load"),
        "1",
        "tokenizer/",
    );
    assert_equal(
        &ClipTokenizer::from_dir(root.join("tokenizer_2")).expect("load"),
        "2",
        "tokenizer_2/",
    );
    // A folder with a tokenizer.json (and the tokenizer_config.json that sets the pad token).
    let json_dir = root.join("tokenizer_json");
    std::fs::create_dir_all(&json_dir).expect("mkdir");
    let tok2 = ClipTokenizer::openai(ClipPad::Exclamation).expect("tokenizer_2");
    // transformers 5 keeps only the file's vocabulary and merges and rebuilds CLIP's pipeline
    // (checked with transformers 5.24: a tokenizer.json without its normalizer still lower-cases),
    // so a file with the normalizer removed must give the same ids.
    let mut file: serde_json::Value =
        serde_json::from_str(&tok2.to_tokenizer_json().expect("json")).expect("tokenizer.json");
    file["normalizer"] = serde_json::Value::Null;
    std::fs::write(json_dir.join("tokenizer.json"), file.to_string()).expect("write");
    std::fs::copy(
        root.join("tokenizer_2/tokenizer_config.json"),
        json_dir.join("tokenizer_config.json"),
    )
    .expect("copy");
    assert_equal(
        &ClipTokenizer::from_dir(&json_dir).expect("load"),
        "2",
        "tokenizer.json + tokenizer_config.json",
    );
    // An older config without added_tokens_decoder (SD 2.x style): specials registered unnormalised.
    let plain = root.join("tokenizer_plain");
    write_openai_folder(&plain, ClipPad::Exclamation).expect("write");
    let config_path = plain.join("tokenizer_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).expect("config"))
            .expect("json");
    config
        .as_object_mut()
        .expect("object")
        .remove("added_tokens_decoder");
    std::fs::write(&config_path, config.to_string()).expect("write config");
    assert_equal(
        &ClipTokenizer::from_dir(&plain).expect("load"),
        "3",
        "tokenizer_2/ without added_tokens_decoder",
    );
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn decode_equals_transformers() {
    let tok = ClipTokenizer::openai(ClipPad::EndOfText).expect("tokenizer");
    let text =
        std::fs::read_to_string(fixtures().join("clip_decoded.json")).expect("decoded fixture");
    let decoded: Vec<String> = serde_json::from_str(&text).expect("JSON list");
    let (ids, _) = reference("1");
    for (i, want) in decoded.iter().enumerate() {
        let row: Vec<u32> = ids.row(i).iter().map(|&v| v as u32).collect();
        assert_eq!(
            &tok.decode(&row).expect("decode"),
            want,
            "prompt {i} {:?}",
            prompts()[i]
        );
    }
}

fn expect_err(result: Result<ClipTokenizer, TextError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_folders_give_clear_errors() {
    let root = temp_dir("bad");
    let dir = root.join("tok");
    write_openai_folder(&dir, ClipPad::EndOfText).expect("write");

    let msg = expect_err(ClipTokenizer::from_dir(root.join("nothing")));
    assert!(
        msg.contains("nothing") && msg.contains("tokenizer folder"),
        "{msg}"
    );

    let pipeline = root.join("pipeline");
    std::fs::create_dir_all(pipeline.join("tokenizer")).expect("mkdir");
    let msg = expect_err(ClipTokenizer::from_dir(&pipeline));
    assert!(
        msg.contains("pipeline folder") && msg.contains("tokenizer_2/"),
        "{msg}"
    );

    let no_merges = root.join("no_merges");
    std::fs::create_dir_all(&no_merges).expect("mkdir");
    std::fs::copy(dir.join("vocab.json"), no_merges.join("vocab.json")).expect("copy");
    let msg = expect_err(ClipTokenizer::from_dir(&no_merges));
    assert!(
        msg.contains("merges.txt") && msg.contains("not found"),
        "{msg}"
    );

    std::fs::copy(dir.join("merges.txt"), no_merges.join("merges.txt")).expect("copy");
    std::fs::remove_file(no_merges.join("vocab.json")).expect("rm");
    let msg = expect_err(ClipTokenizer::from_dir(&no_merges));
    assert!(
        msg.contains("vocab.json") && msg.contains("not found"),
        "{msg}"
    );

    std::fs::write(no_merges.join("vocab.json"), "{\"a\": 0,").expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&no_merges));
    assert!(
        msg.contains("vocab.json") && msg.contains("not valid JSON"),
        "{msg}"
    );

    std::fs::write(no_merges.join("vocab.json"), "{\"a\": 0}").expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&no_merges));
    assert!(msg.contains("no <|startoftext|> token"), "{msg}");

    std::fs::copy(dir.join("vocab.json"), no_merges.join("vocab.json")).expect("copy");
    std::fs::write(no_merges.join("merges.txt"), "#version: 0.2\na b\nabc\n").expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&no_merges));
    assert!(
        msg.contains("line 3") && msg.contains("two tokens"),
        "{msg}"
    );

    let config = dir.join("tokenizer_config.json");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("\"CLIPTokenizer\"", "\"T5Tokenizer\""),
    )
    .expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&dir));
    assert!(
        msg.contains("tokenizer_class is \"T5Tokenizer\"") && msg.contains("CLIPTokenizer"),
        "{msg}"
    );

    std::fs::write(
        &config,
        text.replace("\"model_max_length\": 77", "\"model_max_length\": 1e30"),
    )
    .expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&dir));
    assert!(
        msg.contains("model_max_length") && msg.contains("77"),
        "{msg}"
    );

    std::fs::write(
        &config,
        text.replace(
            "\"pad_token\": \"<|endoftext|>\"",
            "\"pad_token\": \"<pad>\"",
        ),
    )
    .expect("write");
    let msg = expect_err(ClipTokenizer::from_dir(&dir));
    assert!(msg.contains("\"<pad>\""), "{msg}");
    std::fs::remove_dir_all(root).ok();
}
