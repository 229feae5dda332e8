//! `ultrares encode-prompt` on a tiny SDXL pipeline folder (the towers of ultrares-text's
//! fixtures, `det_weight` weights written here): the safetensors it writes equal diffusers'
//! `encode_prompt` (`crates/text/tests/fixtures/sdxl_prompt.npz`, case a); bad input is one error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

use ultrares::text::{ClipPad, write_openai_folder};

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn text_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../text/tests/fixtures")
        .join(name)
}

fn write_tower(dir: &Path, model: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::copy(
        text_fixture(&format!("clip_{model}_config.json")),
        dir.join("config.json"),
    )
    .expect("config");
    let keys = common::json(&text_fixture("clip_encoders_keys.json"));
    let keys = keys[model].as_object().expect("keys");
    common::write_det_safetensors(&dir.join("model.safetensors"), keys);
}

fn f32_tensor(bytes: &[u8], name: &str) -> (Vec<usize>, Vec<f32>) {
    let st = safetensors::SafeTensors::deserialize(bytes).expect("safetensors");
    let t = st.tensor(name).expect(name);
    (
        t.shape().to_vec(),
        t.data()
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[test]
fn encode_prompt_writes_what_diffusers_computes() {
    let root = std::env::temp_dir().join(format!("ultrares-encode-prompt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model = root.join("sdxl");
    std::fs::create_dir_all(&model).expect("mkdir");
    std::fs::copy(
        text_fixture("sdxl_model_index.json"),
        model.join("model_index.json"),
    )
    .expect("index");
    write_openai_folder(model.join("tokenizer"), ClipPad::EndOfText).expect("tokenizer");
    write_openai_folder(model.join("tokenizer_2"), ClipPad::Exclamation).expect("tokenizer_2");
    write_tower(&model.join("text_encoder"), "te1");
    write_tower(&model.join("text_encoder_2"), "te2");
    let out = root.join("cond.safetensors");
    let long = format!(
        "{}an astronaut riding a horse! on mars",
        "masterpiece, best quality, ".repeat(12)
    );
    let (m, o) = (model.to_str().unwrap(), out.to_str().unwrap());
    let run = ultrares(&[
        "encode-prompt",
        "--model",
        m,
        "--prompt",
        "a photo of a cat",
        "--prompt",
        &long,
        "--out",
        o,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&out).expect("output");
    let mut npz = ndarray_npy::NpzReader::new(
        std::fs::File::open(text_fixture("sdxl_prompt.npz")).expect("npz"),
    )
    .expect("npz");
    for (name, key) in [
        ("prompt_embeds", "a_prompt_embeds"),
        ("pooled_prompt_embeds", "a_pooled"),
        ("negative_prompt_embeds", "a_negative_prompt_embeds"),
    ] {
        let want: ndarray::ArrayD<f32> = npz.by_name(key).expect(key);
        let (shape, got) = f32_tensor(&bytes, name);
        assert_eq!(shape, want.shape().to_vec(), "{name}");
        let scale = want.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(want.iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        assert!(err <= 1e-5, "{name}: relative error {err:.2e}");
    }

    let refuse = |args: &[&str], needle: &str| {
        let o = ultrares(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{needle}: {err}"
        );
    };
    refuse(
        &[
            "encode-prompt",
            "--model",
            "/no/such/sdxl",
            "--prompt",
            "x",
            "--out",
            o,
        ],
        "model_index.json",
    );
    refuse(
        &[
            "encode-prompt",
            "--model",
            m,
            "--prompt",
            "x",
            "--out",
            "/tmp/cond.npy",
        ],
        "safetensors",
    );
    refuse(
        &[
            "encode-prompt",
            "--model",
            m,
            "--prompt",
            "x",
            "--negative-prompt",
            "a",
            "--negative-prompt",
            "b",
            "--out",
            o,
        ],
        "negative_prompt has 2 entries",
    );
    refuse(
        &[
            "encode-prompt",
            "--model",
            m,
            "--prompt",
            "x",
            "--dtype",
            "f16",
            "--out",
            o,
        ],
        "needs --device cuda or wgpu",
    );
    refuse(
        &[
            "encode-prompt",
            "--model",
            m,
            "--prompt",
            "x",
            "--dtype",
            "f8",
            "--out",
            o,
        ],
        "expected f32, f16 or bf16",
    );
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn encode_prompt_reads_flux_folders() {
    let root = std::env::temp_dir().join(format!("ultrares-encode-flux-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model = root.join("flux");
    write_tower(&model.join("text_encoder"), "te1");
    let t5 = model.join("text_encoder_2");
    std::fs::create_dir_all(&t5).expect("mkdir");
    std::fs::copy(text_fixture("t5_tiny_config.json"), t5.join("config.json")).expect("config");
    let keys = common::json(&text_fixture("t5_tiny_keys.json"));
    common::write_det_safetensors(
        &t5.join("model.safetensors"),
        keys["t5_tiny"].as_object().expect("keys"),
    );
    write_openai_folder(model.join("tokenizer"), ClipPad::EndOfText).expect("tokenizer");
    let tok2 = model.join("tokenizer_2");
    std::fs::create_dir_all(&tok2).expect("mkdir");
    for f in std::fs::read_dir(text_fixture("t5_tokenizer")).expect("t5 tokenizer") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, tok2.join(f.file_name().expect("name"))).expect("copy");
    }
    std::fs::write(
        model.join("model_index.json"),
        r#"{"_class_name": "FluxPipeline", "text_encoder": ["transformers", "CLIPTextModel"],
            "text_encoder_2": ["transformers", "T5EncoderModel"]}"#,
    )
    .expect("index");
    let out = root.join("flux.safetensors");
    let long = format!(
        "{}an astronaut riding a horse! on mars",
        "masterpiece, best quality, ".repeat(12)
    );
    let (m, o) = (model.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let args = [
        "encode-prompt",
        "--model",
        m,
        "--prompt",
        "a photo of a cat",
        "--prompt",
        &long,
        "--max-sequence-length",
        "32",
        "--out",
        o,
    ];
    let run = ultrares(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&out).expect("output");
    let mut npz = ndarray_npy::NpzReader::new(
        std::fs::File::open(text_fixture("flux_prompt.npz")).expect("npz"),
    )
    .expect("npz");
    for (name, key) in [
        ("prompt_embeds", "a_prompt_embeds"),
        ("pooled_prompt_embeds", "a_pooled"),
    ] {
        let want: ndarray::ArrayD<f32> = npz.by_name(key).expect(key);
        let (shape, got) = f32_tensor(&bytes, name);
        assert_eq!(shape, want.shape().to_vec(), "{name}");
        let scale = want.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(want.iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        assert!(err <= 1e-5, "{name}: relative error {err:.2e}");
    }
    assert_eq!(f32_tensor(&bytes, "text_ids").0, vec![32, 3]);
    // Flux has no negative branch.
    let o2 = ultrares(&[
        "encode-prompt",
        "--model",
        m,
        "--prompt",
        "x",
        "--negative-prompt",
        "y",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&o2.stderr);
    assert_eq!(o2.status.code(), Some(2), "{err}");
    assert!(err.contains("no negative prompts"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
