//! `ultrares tokenize`: ids equal to transformers' (the fixtures of ultrares-text), the output
//! formats, and one clear error per bad input.

use std::process::{Command, Output};

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn refused(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().lines().count() <= 2,
        "{err}"
    );
    err
}

fn row(ids: &[u32], pad: u32) -> Vec<u32> {
    let mut r = ids.to_vec();
    r.resize(77, pad);
    r
}

#[test]
fn tokenize_prints_77_ids_per_prompt() {
    let out = stdout(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "clip",
        "a",
        "photo",
        "of",
        "a",
        "cat",
    ]));
    let ids: Vec<u32> = out
        .split_whitespace()
        .map(|t| t.parse().expect("id"))
        .collect();
    assert_eq!(ids, row(&[49406, 320, 1125, 539, 320, 2368, 49407], 49407));

    let dir = std::env::temp_dir().join(format!("ultrares-tokenize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("prompts.txt");
    std::fs::write(&file, "a photo of a cat\r\n! !! !!!\n").expect("write");
    let out = stdout(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "clip-bigg",
        "--file",
        file.to_str().unwrap(),
        "--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let rows: Vec<Vec<u32>> = serde_json::from_value(json["ids"].clone()).expect("ids rows");
    assert_eq!(
        rows,
        vec![
            row(&[49406, 320, 1125, 539, 320, 2368, 49407], 0),
            row(&[49406, 0, 0, 0, 0, 0, 0, 49407], 0)
        ]
    );

    // Over 77 tokens: truncated as diffusers does, with a warning naming the prompt.
    let long = ultrares(&["tokenize", "--tokenizer", "clip", &"cat ".repeat(100)]);
    let ids: Vec<u32> = stdout(&long)
        .split_whitespace()
        .map(|t| t.parse().expect("id"))
        .collect();
    assert_eq!((ids.len(), ids[75], ids[76]), (77, 2368, 49407));
    let warn = String::from_utf8_lossy(&long.stderr);
    assert!(warn.contains("prompt 1 has 102 tokens"), "{warn}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn tokenize_reads_t5_folders() {
    let t5 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../text/tests/fixtures/t5_tokenizer"
    );
    let out = stdout(&ultrares(&[
        "tokenize",
        "--tokenizer",
        t5,
        "--max-length",
        "8",
        "a photo of a cat",
    ]));
    let ids: Vec<u32> = out
        .split_whitespace()
        .map(|t| t.parse().expect("id"))
        .collect();
    assert_eq!(ids, [52, 26, 57, 52, 21, 1, 0, 0]); // transformers' T5Tokenizer (clip_ids.npz t5_ids row 0)
    let err = refused(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "clip",
        "--max-length",
        "100",
        "cat",
    ]));
    assert!(err.contains("77 ids"), "{err}");
}

#[test]
fn tokenize_bad_input_is_one_clear_error() {
    let err = refused(&ultrares(&["tokenize", "--tokenizer", "clip"]));
    assert!(err.contains("give a prompt"), "{err}");
    let err = refused(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "/no/such/tokenizer",
        "cat",
    ]));
    assert!(
        err.contains("--tokenizer") && err.contains("/no/such/tokenizer"),
        "{err}"
    );
    let err = refused(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "clip",
        "--file",
        "/no/such/prompts.txt",
    ]));
    assert!(
        err.contains("--file /no/such/prompts.txt") && err.contains("cannot read"),
        "{err}"
    );
    let err = refused(&ultrares(&[
        "tokenize",
        "--tokenizer",
        "clip",
        "--file",
        "/dev/null",
    ]));
    assert!(err.contains("no prompts"), "{err}");
}
