//! `ultrares generate` end to end on a tiny SDXL pipeline folder (`tools/golden/gen_unet.py`:
//! the tiny UNet, ultrares-text's tiny CLIP towers, ultrares-vae's tiny VAE; weights written here
//! with `det_weight`): from diffusers' initial latents, the final latents equal
//! `StableDiffusionXLPipeline(..., latents=init, output_type="latent")` with Euler and a negative
//! prompt, with DDIM and no negative prompt (zeros), and without guidance; with LoRA files fused
//! into the UNet and the text towers. Bad input is one error line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ultrares::text::{ClipPad, write_openai_folder};

use crate::common;

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The tiny pipeline folder's configs and tokenizer files, without weights, at `model`.
fn tiny_sdxl_config(model: &Path) {
    let src = manifest("tests/fixtures/tiny_sdxl");
    for sub in [
        "",
        "unet",
        "vae",
        "text_encoder",
        "text_encoder_2",
        "scheduler",
    ] {
        std::fs::create_dir_all(model.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(src.join(sub)).expect("fixture dir") {
            let p = entry.expect("entry").path();
            if p.is_file() {
                std::fs::copy(&p, model.join(sub).join(p.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    write_openai_folder(model.join("tokenizer"), ClipPad::EndOfText).expect("tokenizer");
    write_openai_folder(model.join("tokenizer_2"), ClipPad::Exclamation).expect("tokenizer_2");
}

/// The tiny pipeline folder, weights and tokenizer files written in `root`.
fn tiny_sdxl(root: &Path) -> PathBuf {
    let model = root.join("tiny_sdxl");
    tiny_sdxl_config(&model);
    let text = common::json(&manifest("../text/tests/fixtures/clip_encoders_keys.json"));
    for (dir, key) in [("text_encoder", "te1"), ("text_encoder_2", "te2")] {
        common::write_det_safetensors(
            &model.join(dir).join("model.safetensors"),
            text[key].as_object().expect("keys"),
        );
    }
    let unet = common::json(&manifest("../unet/tests/fixtures/unet_keys.json"));
    common::write_det_safetensors(
        &model.join("unet/diffusion_pytorch_model.safetensors"),
        unet["tiny"]["keys"].as_object().expect("keys"),
    );
    std::fs::copy(
        manifest("../vae/tests/fixtures/tiny_vae/diffusion_pytorch_model.safetensors"),
        model.join("vae/diffusion_pytorch_model.safetensors"),
    )
    .expect("vae");
    model
}

fn read_npy(path: &Path) -> ndarray::ArrayD<f32> {
    use ndarray_npy::ReadNpyExt;
    ndarray::ArrayD::<f32>::read_npy(std::fs::File::open(path).expect("npy")).expect("npy")
}

/// The latents `ultrares generate` wrote equal diffusers' within 1e-4 (relative to their largest
/// |value|).
fn assert_latents_close(path: &Path, want: ndarray::ArrayD<f32>, tag: &str) {
    let ours = read_npy(path);
    assert_eq!(ours.shape(), want.shape(), "{tag}");
    let scale = want.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
    let err = ours
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale;
    println!("{tag}: relative error {err:.2e}");
    assert!(err <= 1e-4, "{tag}: relative error {err:.2e}");
}

#[test]
fn generate_direct_equals_diffusers_final_latents() {
    let root = std::env::temp_dir().join(format!("ultrares-generate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model = tiny_sdxl(&root);
    let m = model.to_str().expect("utf-8");
    let mut golden = ndarray_npy::NpzReader::new(
        std::fs::File::open(manifest("tests/fixtures/sdxl_generate.npz")).expect("npz"),
    )
    .expect("npz");
    let cases: [(&str, &[&str]); 3] = [
        (
            "euler",
            &["--negative-prompt", "blurry, ugly", "--guidance", "5"],
        ),
        ("ddim", &["--scheduler", "ddim", "--guidance", "5"]),
        ("nocfg", &["--guidance", "1"]),
    ];
    for (tag, extra) in cases {
        let init = manifest(&format!("tests/fixtures/sdxl_init_{tag}.npy"));
        let latents = root.join(format!("{tag}.npy"));
        let png = root.join(format!("{tag}.png"));
        let mut args = vec![
            "generate",
            "--model",
            m,
            "--prompt",
            "a photo of a cat",
            "--size",
            "48x64",
            "--steps",
            "4",
            "--init-latents",
            init.to_str().expect("utf-8"),
            "--save-latents",
            latents.to_str().expect("utf-8"),
            "--output",
            png.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        let out = ultrares(&args);
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_latents_close(&latents, golden.by_name(tag).expect(tag), tag);
        let img = image::open(&png).expect("png").to_rgb8();
        assert_eq!((img.height(), img.width()), (48, 64), "{tag}");
        let bytes = std::fs::read(&png).expect("png bytes");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("parameters") && text.contains("a photo of a cat"),
            "{tag}: text chunk"
        );
    }

    // LoRA files fused at 0.7, as diffusers' load_lora_weights + fuse_lora: kohya UNet pairs;
    // then the UNet pairs plus pairs on both text towers in diffusers/PEFT's layout (diffusers'
    // golden) and in kohya's (`lora_te1_`/`lora_te2_`, the same pairs: the same latents).
    let init = manifest("tests/fixtures/sdxl_init_euler.npy");
    for (golden_name, file) in [
        (
            "euler_lora",
            "../unet/tests/fixtures/lora_kohya.safetensors",
        ),
        ("euler_lora_te", "tests/fixtures/lora_te_peft.safetensors"),
        ("euler_lora_te", "tests/fixtures/lora_te_kohya.safetensors"),
    ] {
        let lora = format!("{}:0.7", manifest(file).to_str().expect("utf-8"));
        let latents = root.join("lora.npy");
        let out = ultrares(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "a photo of a cat",
            "--negative-prompt",
            "blurry, ugly",
            "--guidance",
            "5",
            "--size",
            "48x64",
            "--steps",
            "4",
            "--lora",
            &lora,
            "--init-latents",
            init.to_str().expect("utf-8"),
            "--save-latents",
            latents.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = golden.by_name(golden_name).expect(golden_name);
        assert_latents_close(&latents, want, &format!("{golden_name} ({file})"));
    }

    // --init-image: a 32² picture upscaled ×2 through DemoFusion's phases.
    let small = root.join("small.png");
    image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, 128])
    })
    .save(&small)
    .expect("png");
    let big = root.join("big.png");
    let out = ultrares(&[
        "generate",
        "--model",
        m,
        "--prompt",
        "a photo of a cat",
        "--strategy",
        "demofusion",
        "--init-image",
        small.to_str().expect("utf-8"),
        "--size",
        "64x64",
        "--steps",
        "4",
        "--output",
        big.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "init-image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&big).expect("png").to_rgb8();
    assert_eq!((img.height(), img.width()), (64, 64));

    // Bad input: one error line each, nothing written.
    let refuse = |extra: &[&str], needle: &str| {
        let out_png = root.join("refused.png");
        let mut args = vec![
            "generate", "--model", m, "--prompt", "x", "--steps", "2", "-o",
        ];
        args.push(out_png.to_str().expect("utf-8"));
        args.extend_from_slice(extra);
        let o = ultrares(&args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{needle}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!out_png.exists(), "{needle}: output written");
    };
    let init = manifest("tests/fixtures/sdxl_init_euler.npy");
    let init = init.to_str().expect("utf-8");
    refuse(&["--size", "49x64"], "multiple");
    refuse(&["--lora", "/nonexistent.safetensors"], "--lora");
    refuse(&["--init-image", "x.png"], "--init-image needs");
    refuse(
        &["--size", "96x64", "--init-latents", init],
        "--init-latents",
    );
    let nan = root.join("nan.npy");
    {
        use ndarray_npy::WriteNpyExt;
        let mut a = read_npy(Path::new(init));
        a[[0, 0, 0, 0]] = f32::NAN;
        a.write_npy(std::fs::File::create(&nan).expect("create"))
            .expect("write");
    }
    refuse(
        &[
            "--size",
            "48x64",
            "--init-latents",
            nan.to_str().expect("utf-8"),
        ],
        "NaN",
    );
    std::fs::remove_file(model.join("unet/diffusion_pytorch_model.safetensors")).expect("rm");
    std::fs::remove_dir_all(model.join("tokenizer_2")).expect("rm");
    let o = ultrares(&[
        "generate",
        "--model",
        m,
        "--prompt",
        "x",
        "-o",
        "/tmp/never.png",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("tokenizer_2"), "{err}");
    std::fs::remove_dir_all(&root).ok();
}

/// Copies a fixture folder's JSON tree (`tools/golden/gen_dit.py`'s tiny pipelines) to `dst`.
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("fixture dir") {
        let p = entry.expect("entry").path();
        let to = dst.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &to);
        } else {
            std::fs::copy(&p, &to).expect("copy");
        }
    }
}

/// A tiny SD3 or Flux pipeline folder with weights, tokenizers and the tiny VAE written in
/// `root`: `(tower folder, keys file, keys entry)` per text encoder, T5's tokenizer in `t5_tok`.
fn tiny_flow(
    root: &Path,
    name: &str,
    towers: &[(&str, &str, &str)],
    clip: &[&str],
    t5_tok: &str,
) -> PathBuf {
    let model = root.join(name);
    copy_tree(&manifest(&format!("tests/fixtures/{name}")), &model);
    for (dir, pad) in clip.iter().zip([ClipPad::EndOfText, ClipPad::Exclamation]) {
        write_openai_folder(model.join(dir), pad).expect("tokenizer");
    }
    copy_tree(
        &manifest("../text/tests/fixtures/t5_tokenizer"),
        &model.join(t5_tok),
    );
    for (dir, file, key) in towers {
        let keys = common::json(&manifest(&format!("../text/tests/fixtures/{file}")));
        common::write_det_safetensors(
            &model.join(dir).join("model.safetensors"),
            keys[key].as_object().expect("keys"),
        );
    }
    let dit = common::json(&manifest("../dit/tests/fixtures/dit_keys.json"));
    let entry = if name == "tiny_sd3" {
        "sd3_pipe"
    } else {
        "flux_pipe"
    };
    common::write_det_safetensors(
        &model.join("transformer/diffusion_pytorch_model.safetensors"),
        dit[entry]["keys"].as_object().expect("keys"),
    );
    std::fs::copy(
        manifest("../vae/tests/fixtures/tiny_vae/diffusion_pytorch_model.safetensors"),
        model.join("vae/diffusion_pytorch_model.safetensors"),
    )
    .expect("vae");
    model
}

/// SD3 (CFG with a negative prompt, and without guidance) and Flux (distilled guidance, packed
/// latents in and out; and with true CFG, `true_cfg_scale` 4 and a negative prompt), also with
/// LoRA files on the transformer and the CLIP towers, from diffusers' initial latents give
/// `StableDiffusion3Pipeline` /
/// `FluxPipeline(..., latents=init, output_type="latent", max_sequence_length=32)`'s final
/// latents within 1e-4; flags that do not apply are one usage error.
#[test]
fn generate_sd3_and_flux_direct_equal_diffusers_final_latents() {
    let root = std::env::temp_dir().join(format!("ultrares-generate-dit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let sd3 = tiny_flow(
        &root,
        "tiny_sd3",
        &[
            ("text_encoder", "sd3_prompt_keys.json", "sd3_te1"),
            ("text_encoder_2", "sd3_prompt_keys.json", "sd3_te2"),
            ("text_encoder_3", "sd3_prompt_keys.json", "sd3_t5"),
        ],
        &["tokenizer", "tokenizer_2"],
        "tokenizer_3",
    );
    let t5_keys = common::json(&manifest("../text/tests/fixtures/t5_tiny_keys.json"));
    assert!(t5_keys["t5_tiny"].is_object());
    let flux = tiny_flow(
        &root,
        "tiny_flux",
        &[
            ("text_encoder", "clip_encoders_keys.json", "te1"),
            ("text_encoder_2", "t5_tiny_keys.json", "t5_tiny"),
        ],
        &["tokenizer"],
        "tokenizer_2",
    );
    let mut golden = ndarray_npy::NpzReader::new(
        std::fs::File::open(manifest("tests/fixtures/dit_generate.npz")).expect("npz"),
    )
    .expect("npz");
    let cases: [(&str, &Path, &str, &[&str]); 4] = [
        (
            "sd3_cfg",
            &sd3,
            "24x32",
            &["--negative-prompt", "blurry, ugly", "--guidance", "5"],
        ),
        ("sd3_nocfg", &sd3, "24x32", &["--guidance", "1"]),
        ("flux", &flux, "32x48", &["--guidance", "3.5"]),
        (
            "flux_true_cfg",
            &flux,
            "32x48",
            &[
                "--guidance",
                "3.5",
                "--negative-prompt",
                "blurry, ugly",
                "--true-cfg",
                "4",
            ],
        ),
    ];
    for (tag, model, size, extra) in cases {
        let init_tag = tag.strip_suffix("_true_cfg").unwrap_or(tag);
        let init = manifest(&format!("tests/fixtures/{init_tag}_init.npy"));
        let latents = root.join(format!("{tag}.npy"));
        let png = root.join(format!("{tag}.png"));
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().expect("utf-8"),
            "--prompt",
            "a photo of a cat",
            "--size",
            size,
            "--steps",
            "4",
            "--max-sequence-length",
            "32",
            "--init-latents",
            init.to_str().expect("utf-8"),
            "--save-latents",
            latents.to_str().expect("utf-8"),
            "--output",
            png.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        let out = ultrares(&args);
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_latents_close(&latents, golden.by_name(tag).expect(tag), tag);
        let img = image::open(&png).expect("png").to_rgb8();
        let [h, w]: [u32; 2] = {
            let (h, w) = size.split_once('x').expect("size");
            [h.parse().expect("h"), w.parse().expect("w")]
        };
        assert_eq!((img.height(), img.width()), (h, w), "{tag}");
    }
    // LoRA pairs on the transformer and the CLIP towers, fused at 0.7 (diffusers'
    // load_lora_weights + fuse_lora; Flux with components=["transformer", "text_encoder"]).
    for (tag, model, size, file, extra) in [
        (
            "sd3_cfg_lora_te",
            &sd3,
            "24x32",
            "sd3_lora_te_peft.safetensors",
            &["--negative-prompt", "blurry, ugly", "--guidance", "5"][..],
        ),
        (
            "flux_lora_te",
            &flux,
            "32x48",
            "flux_lora_te_peft.safetensors",
            &["--guidance", "3.5"][..],
        ),
    ] {
        let init_tag = tag.strip_suffix("_lora_te").unwrap_or(tag);
        let init = manifest(&format!("tests/fixtures/{init_tag}_init.npy"));
        let lora = format!(
            "{}:0.7",
            manifest(&format!("tests/fixtures/{file}")).display()
        );
        let latents = root.join(format!("{tag}.npy"));
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().expect("utf-8"),
            "--prompt",
            "a photo of a cat",
            "--size",
            size,
            "--steps",
            "4",
            "--max-sequence-length",
            "32",
            "--lora",
            &lora,
            "--init-latents",
            init.to_str().expect("utf-8"),
            "--save-latents",
            latents.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        let out = ultrares(&args);
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_latents_close(&latents, golden.by_name(tag).expect(tag), tag);
    }
    let m = flux.to_str().expect("utf-8");
    let sd3_lora = manifest("../dit/tests/fixtures/sd3_lora_orig.safetensors");
    for (args, needle) in [
        (
            vec!["--lora", sd3_lora.to_str().expect("utf-8")],
            "match no transformer layer",
        ),
        (
            vec!["--strategy", "demofusion", "--size", "64x64"],
            "direct only",
        ),
        (vec!["--true-cfg", "nan"], "--true-cfg must be finite"),
        (vec!["--max-sequence-length", "600"], "1…512"),
        (vec!["--size", "30x48"], "multiples of 4"),
    ] {
        let mut full = vec![
            "generate",
            "--model",
            m,
            "--prompt",
            "a cat",
            "--save-latents",
            "/tmp/never.npy",
        ];
        full.extend(args);
        let out = ultrares(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {err}");
        assert!(err.contains(needle), "{full:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{full:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// An SDXL single file (`sd_xl_base_1.0.safetensors` layout) holding the tiny folder's weights:
/// each tensor built by `tools/golden/gen_unet.py`'s key map (`sdxl_single_file.json`, checked
/// there against diffusers' `from_single_file`), plus the extra keys real files carry (bigG's
/// `logit_scale`, CLIP-L's int64 `position_ids`); tensors
/// whose key starts with one of `skip` are left out.
fn tiny_single_file(model: &Path, path: &Path, skip: &[&str]) {
    use ultrares::nn::StateDict;
    let map = common::json(&manifest("tests/fixtures/sdxl_single_file.json"));
    let component = |name: &str| {
        let file = if name == "unet" || name == "vae" {
            "diffusion_pytorch_model.safetensors"
        } else {
            "model.safetensors"
        };
        StateDict::read(model.join(name).join(file)).expect("component")
    };
    let sds: std::collections::BTreeMap<&str, StateDict> =
        ["unet", "vae", "text_encoder", "text_encoder_2"]
            .into_iter()
            .map(|n| (n, component(n)))
            .collect();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for t in map["tensors"].as_array().expect("tensors") {
        let key = t["key"].as_str().expect("key").to_string();
        if skip.iter().any(|p| key.starts_with(p)) {
            continue;
        }
        let mut values = Vec::new();
        let mut rows = 0;
        for from in t["from"].as_array().expect("from") {
            let (c, k) = (from[0].as_str().expect("c"), from[1].as_str().expect("k"));
            let data = sds[c].data(k).expect(k).expect(k).convert::<f32>();
            rows += data.shape.first().copied().unwrap_or(1);
            values.extend(data.to_vec::<f32>().expect("f32"));
        }
        if t["transpose"].as_bool().expect("transpose") {
            let cols = values.len() / rows;
            values = (0..values.len())
                .map(|i| values[(i % rows) * cols + i / rows])
                .collect();
        }
        let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).expect("shape");
        assert_eq!(shape.iter().product::<usize>(), values.len(), "{key}");
        tensors.push((key, shape, values));
    }
    for (key, shape) in map["extra"].as_object().expect("extra") {
        let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
        let values = ultrares::core::testing::det_weight(key, &shape);
        tensors.push((key.clone(), shape, values));
    }
    let mut bytes: Vec<(safetensors::Dtype, Vec<u8>)> = tensors
        .iter()
        .map(|(_, _, v)| {
            let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            (safetensors::Dtype::F32, b)
        })
        .collect();
    // CLIP-L's `position_ids` buffer (int64 `0..77`), as real files carry it.
    for (key, shape) in map["extra_int64"].as_object().expect("extra_int64") {
        let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
        let n = shape.iter().product::<usize>() as i64;
        tensors.push((key.clone(), shape, Vec::new()));
        let b = (0..n).flat_map(|x| x.to_le_bytes()).collect();
        bytes.push((safetensors::Dtype::I64, b));
    }
    let views: Vec<_> = tensors
        .iter()
        .zip(&bytes)
        .map(|((k, s, _), (dtype, b))| {
            let view = safetensors::tensor::TensorView::new(*dtype, s.clone(), b);
            (k.clone(), view.expect("view"))
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write safetensors");
}

/// `--model FILE --config DIR`: the tiny pipeline as one original-layout file, with the folder's
/// configs and tokenizers (no weights) as `--config`, gives diffusers' final latents (the same as
/// `from_single_file(file, config=dir)` in the golden script); a component in neither the file
/// nor the folder, a file without `--config` and a folder with one are one-line errors.
#[test]
fn generate_from_a_single_file_equals_diffusers_final_latents() {
    let root = std::env::temp_dir().join(format!("ultrares-single-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let model = tiny_sdxl(&root);
    let config = root.join("config");
    tiny_sdxl_config(&config);
    let file = root.join("sd_xl_tiny.safetensors");
    tiny_single_file(&model, &file, &[]);
    let init = manifest("tests/fixtures/sdxl_init_euler.npy");
    let latents = root.join("single.npy");
    let run = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            file.to_str().expect("utf-8"),
            "--prompt",
            "a photo of a cat",
            "--negative-prompt",
            "blurry, ugly",
            "--guidance",
            "5",
            "--size",
            "48x64",
            "--steps",
            "4",
            "--init-latents",
            init.to_str().expect("utf-8"),
            "--save-latents",
            latents.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        ultrares(&args)
    };
    let c = config.to_str().expect("utf-8");
    let out = run(&file, &["--config", c]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut golden = ndarray_npy::NpzReader::new(
        std::fs::File::open(manifest("tests/fixtures/sdxl_generate.npz")).expect("npz"),
    )
    .expect("npz");
    let want = golden.by_name("euler").expect("euler");
    assert_latents_close(&latents, want, "single file");

    let refuse = |file: &Path, extra: &[&str], needle: &str| {
        let o = run(file, extra);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{needle}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    refuse(&file, &[], "give --config DIR");
    refuse(
        &model,
        &["--config", c],
        "--config is for a single-file --model",
    );
    // Without its VAE and bigG tower the file needs them from --config, which has no weights.
    let partial = root.join("partial.safetensors");
    tiny_single_file(
        &model,
        &partial,
        &["first_stage_model.", "conditioner.embedders.1."],
    );
    refuse(
        &partial,
        &["--config", c],
        "missing text_encoder_2/ weights, vae/ weights",
    );
    // With the folder's weights as --config they load from there.
    let m = model.to_str().expect("utf-8");
    let out = run(&partial, &["--config", m]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = golden.by_name("euler").expect("euler");
    assert_latents_close(&latents, want, "partial single file");
    std::fs::remove_dir_all(&root).ok();
}
