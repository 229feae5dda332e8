//! `ultrares generate` end to end on a tiny SDXL pipeline folder (`tools/golden/gen_unet.py`:
//! the tiny UNet, ultrares-text's tiny CLIP towers, ultrares-vae's tiny VAE; weights written here
//! with `det_weight`): from diffusers' initial latents, the final latents equal
//! `StableDiffusionXLPipeline(..., latents=init, output_type="latent")` with Euler and a negative
//! prompt, with DDIM and no negative prompt (zeros), and without guidance. Bad input is one
//! error line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ultrares::text::{ClipPad, write_openai_folder};

mod common;

fn ultrares(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The tiny pipeline folder, weights and tokenizer files written in `root`.
fn tiny_sdxl(root: &Path) -> PathBuf {
    let model = root.join("tiny_sdxl");
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
        let ours = read_npy(&latents);
        let want: ndarray::ArrayD<f32> = golden.by_name(tag).expect(tag);
        assert_eq!(ours.shape(), want.shape(), "{tag}");
        let scale = want.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        let err = ours
            .iter()
            .zip(want.iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        println!("{tag}: relative error {err:.2e}");
        assert!(err <= 1e-4, "{tag}: relative error {err:.2e}");
        let img = image::open(&png).expect("png").to_rgb8();
        assert_eq!((img.height(), img.width()), (48, 64), "{tag}");
        let bytes = std::fs::read(&png).expect("png bytes");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("parameters") && text.contains("a photo of a cat"),
            "{tag}: text chunk"
        );
    }

    // A kohya LoRA fused at 0.7, as diffusers' load_lora_weights + fuse_lora.
    let lora = manifest("../unet/tests/fixtures/lora_kohya.safetensors");
    let lora = format!("{}:0.7", lora.to_str().expect("utf-8"));
    let init = manifest("tests/fixtures/sdxl_init_euler.npy");
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
        "lora: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: ndarray::ArrayD<f32> = golden.by_name("euler_lora").expect("euler_lora");
    let ours = read_npy(&latents);
    let scale = want.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
    let err = ours
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale;
    println!("euler_lora: relative error {err:.2e}");
    assert!(err <= 1e-4, "lora: relative error {err:.2e}");

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
