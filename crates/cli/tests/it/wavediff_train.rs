//! `ultrares wavediff train` on a tiny cifar10-style model (`train_tiny.json`, the model of the
//! WaveDiff training golden) and eight generated 32² pictures: the run folder's files, a resumed
//! run equal to an uninterrupted one, the export read back by `wavediff sample`, and bad input
//! as one error line.

use std::path::Path;
use std::process::Output;

fn ultrares(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

fn config() -> String {
    format!(
        "{}/../wavediff/tests/fixtures/train_tiny.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn train(data: &Path, out: &Path, epochs: &str, extra: &[&str]) -> Output {
    let cfg = config();
    let mut args = vec![
        "wavediff",
        "train",
        "--preset",
        "cifar10",
        "--config",
        &cfg,
        "--data",
        data.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--epochs",
        epochs,
        "--batch",
        "4",
        "--seed",
        "5",
        "--rec-loss",
    ];
    args.extend_from_slice(extra);
    ultrares(&args)
}

fn floats(path: &Path) -> Vec<f32> {
    if path.extension().is_some_and(|e| e == "pth") {
        // The export, read back through burn-store's PyTorch reader.
        let sd = ultrares::nn::StateDict::read(path).expect("pth");
        let names: Vec<String> = sd.keys().map(String::from).collect();
        assert!(names.iter().all(|n| n.starts_with("module.")), "{names:?}");
        return names
            .iter()
            .flat_map(|n| sd.data(n).expect(n).expect(n).to_vec::<f32>().expect("f32"))
            .collect();
    }
    let bytes = std::fs::read(path).expect("safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    names
        .iter()
        .flat_map(|n| {
            st.tensor(n)
                .expect("tensor")
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn wavediff_train_writes_a_resumable_run() {
    let root = std::env::temp_dir().join(format!("ultrares-wavediff-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    for k in 0..8u32 {
        // 40×36 so that the centre crop and the resize to 32² are exercised.
        image::RgbImage::from_fn(40, 36, |x, y| {
            image::Rgb([
                (x * 6 + k * 20) as u8,
                (y * 7) as u8,
                ((x + y + k) * 3) as u8,
            ])
        })
        .save(data.join(format!("{k}.png")))
        .expect("png");
    }
    std::fs::write(data.join("notes.txt"), "not an image").expect("txt");

    // Three epochs in one go, and two (--stop-after) then the third with --resume: the same
    // weights, moments and losses to the bit.
    let (a, b) = (root.join("a"), root.join("b"));
    let o = train(&data, &a, "3", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("6 iterations of 4"), "{summary}");
    for f in [
        "checkpoint/trainer.json",
        "checkpoint/generator.safetensors",
        "checkpoint/adam_d.safetensors",
        "netG_3.pth",
        "samples/epoch_1.png",
        "samples/epoch_3.png",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let log = std::fs::read_to_string(a.join("losses.csv")).expect("csv");
    assert_eq!(log.lines().count(), 1 + 6, "{log}");
    let o = train(&data, &b, "3", &["--stop-after", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!b.join("netG_3.pth").exists());
    let o = train(&data, &b, "3", &["--resume"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "netG_3.pth",
        "checkpoint/generator.safetensors",
        "checkpoint/discriminator.safetensors",
        "checkpoint/adam_g.safetensors",
    ] {
        let (wa, wb) = (floats(&a.join(f)), floats(&b.join(f)));
        assert_eq!(
            wa, wb,
            "{f}: a resumed run differs from an uninterrupted one"
        );
    }
    assert_eq!(
        std::fs::read_to_string(a.join("losses.csv")).expect("csv"),
        std::fs::read_to_string(b.join("losses.csv")).expect("csv"),
        "the same losses, whether resumed or not"
    );

    // The export samples.
    let grid = root.join("grid.png");
    let cfg = config();
    let o = ultrares(&[
        "wavediff",
        "sample",
        "--checkpoint",
        a.join("netG_3.pth").to_str().expect("utf-8"),
        "--config",
        &cfg,
        "--num",
        "4",
        "--out",
        grid.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&grid).expect("grid").to_rgb8();
    assert_eq!((img.width(), img.height()), (4 * 32, 32));

    // Bad input: an empty folder, a folder without pictures.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let o = train(&empty, &root.join("c"), "1", &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--data") && err.lines().count() == 1, "{err}");
    std::fs::write(empty.join("notes.txt"), "not an image").expect("txt");
    let o = train(&empty, &root.join("c"), "1", &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no PNG or JPEG images") && err.lines().count() == 1,
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
