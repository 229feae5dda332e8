//! What a newcomer trips over in the first hour (issue 24): named missing arguments, no silent
//! garbage, failing before the work, bundled weights, one size convention, clear messages.
//! Every error case checks the exit code, the message and that no output file is left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ultrares_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ultrares")
}

fn ultrares(args: &[&str]) -> Output {
    ultrares_in(Path::new("."), args)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-first-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// A usage or input error: exit 2, `error:` first, at most two lines (message, usage), no
/// doubled period, no Debug struct. Returns the message.
fn refused(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(err.trim_end().lines().count() <= 2, "{what}: {err}");
    assert!(
        !err.replace("/../", "/").contains(".."),
        "{what}: doubled period: {err}"
    );
    assert!(!err.contains(" { "), "{what}: Debug output: {err}");
    err
}

/// The files of `dir` (names), to check that nothing was left behind.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn missing_arguments_are_named_with_the_usage_line() {
    for (args, names) in [
        (&["canny"][..], &["<INPUT>", "<OUTPUT>"][..]),
        (&["lsr"], &["--checkpoint", "<INPUT>", "<OUTPUT>", "--size"]),
        (&["rna-map"], &["<REFERENCE>", "--latent-size", "<OUTPUT>"]),
        (&["generate"], &["--model", "--prompt"]),
    ] {
        let err = refused(&ultrares(args), args[0]);
        let mut lines = err.lines();
        let first = lines.next().unwrap();
        assert!(
            first.starts_with("error: the following required arguments were not provided:"),
            "{err}"
        );
        for n in names {
            assert!(first.contains(n), "{args:?}: {n} not named: {err}");
        }
        let usage = lines.next().unwrap_or("");
        assert!(
            usage.starts_with(&format!("Usage: ultrares {}", args[0]))
                && usage.contains(&format!("ultrares {} --help", args[0])),
            "{err}"
        );
    }
}

#[test]
fn negative_numbers_get_a_message_about_the_value() {
    let err = refused(
        &ultrares(&["upscale", "in.png", "out.png", "--scale", "-2"]),
        "--scale -2",
    );
    assert!(
        err.contains("'-2'") && err.contains("'--scale'") && !err.contains("unexpected argument"),
        "{err}"
    );
}

#[cfg(feature = "ndarray")]
#[test]
fn idwt_uses_what_dwt_recorded_and_refuses_contradictions() {
    use ndarray::Array2;
    let dir = temp_dir("idwt");
    let x = Array2::from_shape_fn((20, 17), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let (xin, c, back) = (dir.join("x.npy"), dir.join("c.npz"), dir.join("r.npy"));
    ndarray_npy::write_npy(&xin, &x).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = ultrares(&["dwt", &s(&xin), &s(&c), "--wavelet", "db2", "--level", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Recorded: wavelet and mode as bytes, level, shape.
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&c).unwrap()).unwrap();
    let w: ndarray::Array1<u8> = npz.by_name("wavelet").unwrap();
    assert_eq!(w.to_vec(), b"db2");
    let shape: ndarray::Array1<i64> = npz.by_name("shape").unwrap();
    assert_eq!(shape.to_vec(), [20, 17]);
    // idwt with no options inverts exactly, at the input's shape (waverec2 gives 18 columns).
    let o = ultrares(&["idwt", &s(&c), &s(&back), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Array2<f64> = ndarray_npy::read_npy(&back).unwrap();
    assert_eq!(r.shape(), x.shape());
    let err = r
        .iter()
        .zip(x.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-10, "{err}");
    // A contradicting wavelet (haar would be off by up to 6 here) or mode is refused.
    std::fs::remove_file(&back).unwrap();
    for bad in [["--wavelet", "haar"], ["--mode", "periodization"]] {
        let o = ultrares(&[&["idwt", &s(&c), &s(&back)][..], &bad[..]].concat());
        let err = refused(&o, bad[1]);
        assert!(err.contains("db2") && err.contains("garbage"), "{err}");
        assert!(!back.exists(), "no output after a refusal");
    }
    // The same (spelled as recorded) is fine.
    let o = ultrares(&["idwt", &s(&c), &s(&back), "--wavelet", "db2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // An .npz that records nothing (PyWavelets users' own) needs --wavelet and --mode.
    let plain = dir.join("plain.npz");
    {
        let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&plain).unwrap());
        for k in ["a", "h1", "v1", "d1"] {
            z.add_array(k, &Array2::<f64>::zeros((4, 4))).unwrap();
        }
        z.finish().unwrap();
    }
    let err = refused(&ultrares(&["idwt", &s(&plain), &s(&back)]), "plain npz");
    assert!(err.contains("--wavelet") && err.contains("--mode"), "{err}");
    let o = ultrares(&[
        "idwt",
        &s(&plain),
        &s(&back),
        "--wavelet",
        "haar",
        "--mode",
        "symmetric",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "ndarray")]
#[test]
fn checkpoints_are_checked_against_their_use() {
    let dir = temp_dir("kind");
    let latent = dir.join("latent.npy");
    ndarray_npy::write_npy(&latent, &ndarray::Array3::<f32>::zeros((4, 8, 8))).unwrap();
    let out = dir.join("up.npy");
    let liif = fixture("lsr/assets/liif/edsr-baseline-liif.safetensors");
    let o = ultrares(&[
        "lsr",
        "--checkpoint",
        &liif,
        latent.to_str().unwrap(),
        out.to_str().unwrap(),
        "--size",
        "16x16",
    ]);
    let err = refused(&o, "lsr with LIIF's RGB model");
    assert!(
        err.contains("3 → 3") && err.contains("RGB") && err.contains("ultrares upscale"),
        "{err}"
    );
    // And the latent model is refused by `upscale`.
    let png = fixture("rna/tests/fixtures/astronaut_rgb.png");
    let o = ultrares(&[
        "upscale",
        &png,
        dir.join("x.png").to_str().unwrap(),
        "--weights",
        &fixture("lsr/tests/fixtures/lsr_tiny.pth"),
    ]);
    let err = refused(&o, "upscale with LSRNA's latent model");
    assert!(
        err.contains("4 → 4") && err.contains("ultrares lsr"),
        "{err}"
    );
    assert_eq!(files(&dir), ["latent.npy"], "nothing written");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn karras_with_a_scheduler_without_it_is_an_error() {
    let err = refused(
        &ultrares(&["schedule", "--scheduler", "ddim", "--karras"]),
        "--karras ddim",
    );
    assert!(
        err.contains("--karras") && err.contains("dpm-solver"),
        "{err}"
    );
    let o = ultrares(&[
        "schedule",
        "--scheduler",
        "dpm-solver",
        "--karras",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[cfg(feature = "ndarray")]
#[test]
fn outputs_fail_before_the_work_and_are_never_half_written() {
    let dir = temp_dir("out");
    let png = fixture("rna/tests/fixtures/astronaut_rgb.png");
    let missing = dir.join("no/such/folder/x.png");
    for args in [
        vec!["upscale", &png, missing.to_str().unwrap()],
        vec!["canny", &png, missing.to_str().unwrap()],
    ] {
        let t = std::time::Instant::now();
        let err = refused(&ultrares(&args), args[0]);
        assert!(err.contains("does not exist"), "{err}");
        // Checked before any model is loaded or image decoded.
        assert!(
            t.elapsed().as_secs_f64() < 5.0,
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
    let err = refused(
        &ultrares(&["canny", &png, dir.to_str().unwrap()]),
        "folder as output",
    );
    assert!(
        err.contains("expected a .png file") || err.contains("is a folder"),
        "{err}"
    );
    let err = refused(
        &ultrares(&["canny", &png, dir.join("edges.jpg").to_str().unwrap()]),
        "extension",
    );
    assert!(err.contains("expected a .png file"), "{err}");
    // A run that fails after the output was checked leaves nothing (no temporary file).
    let o = ultrares(&[
        "canny",
        &png,
        dir.join("edges.png").to_str().unwrap(),
        "--aperture",
        "4",
    ]);
    refused(&o, "aperture 4");
    assert!(files(&dir).is_empty(), "left behind: {:?}", files(&dir));
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "ndarray")]
#[test]
fn absurd_sizes_state_the_cost_and_need_force() {
    let dir = temp_dir("force");
    let png = fixture("rna/tests/fixtures/astronaut_rgb.png");
    let out = dir.join("big.png");
    let t = std::time::Instant::now();
    let err = refused(
        &ultrares(&["upscale", &png, out.to_str().unwrap(), "--scale", "100"]),
        "--scale 100",
    );
    assert!(
        t.elapsed().as_secs_f64() < 5.0,
        "refused after {:?}",
        t.elapsed()
    );
    let [h, w] = ultrares::core::image::image_size(&png).unwrap();
    assert!(
        err.contains(&format!("{}×{} (H×W)", h * 100, w * 100))
            && err.contains("--force")
            && err.contains(" h on a 2-core CPU")
            && err.contains("GB of memory"),
        "{err}"
    );
    let err = refused(
        &ultrares(&[
            "lsr",
            "--checkpoint",
            "x.pth",
            "in.npy",
            dir.join("l.npy").to_str().unwrap(),
            "--size",
            "2048x2048",
        ]),
        "lsr 2048²",
    );
    assert!(
        err.contains("2048×2048 (H×W)") && err.contains("--force"),
        "{err}"
    );
    assert!(files(&dir).is_empty());
    std::fs::remove_dir_all(dir).ok();
}

/// The LIIF weights are in the binary: a copy of it, run from an empty folder far from the
/// source tree, upscales (as after `cargo install`).
#[cfg(feature = "ndarray")]
#[test]
fn bundled_weights_work_from_any_directory() {
    let dir = temp_dir("bundled");
    let bin = dir.join("ultrares");
    std::fs::copy(env!("CARGO_BIN_EXE_ultrares"), &bin).unwrap();
    let img = ultrares::core::image::RgbImage::from_fn(12, 9, |x, y| {
        ultrares::core::image::Rgb([(x * 20) as u8, (y * 25) as u8, 128])
    });
    ultrares::core::image::save_image(&img, dir.join("in.png")).unwrap();
    let o = Command::new(&bin)
        .args(["upscale", "in.png", "out.png", "--scale", "2"])
        .current_dir(&dir)
        .env_clear()
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(msg.contains("9×12 → 18×24 (H×W)"), "{msg}");
    let got = ultrares::core::image::read_rgb8(dir.join("out.png")).unwrap();
    assert_eq!(got.dimensions(), (24, 18));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sizes_are_height_first_everywhere_and_help_says_so() {
    for sub in ["upscale", "lsr", "rna-map"] {
        let o = ultrares(&[sub, "--help"]);
        assert!(o.status.success());
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            help.contains("HxW") && help.contains("height first"),
            "{sub}: {help}"
        );
    }
}

#[cfg(feature = "ndarray")]
#[test]
fn metric_messages_lead_somewhere() {
    let dir = temp_dir("msg");
    let png = fixture("rna/tests/fixtures/astronaut_rgb.png");
    // GLCM: an image smaller than --size points to --size 0, not to --skip-bad.
    for args in [
        vec!["glcm-score", &png],
        vec!["glcm-score", &png, "--skip-bad"],
    ] {
        let err = refused(&ultrares(&args), "small image");
        assert!(
            err.contains("--size 0") && !err.contains("--skip-bad"),
            "{err}"
        );
    }
    let err = refused(
        &ultrares(&["glcm-score", &png, "--patch", "0"]),
        "--patch 0",
    );
    assert!(err.contains("--patch must be ≥ 1"), "{err}");
    let o = ultrares(&["glcm-score", &png, "--size", "0", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // FID statistics: float32 mu is read, a missing mu says what was expected.
    let feats = dir.join("f.npy");
    let f = ndarray::Array2::from_shape_fn((6, 3), |(i, j)| (i * 3 + j) as f32 * 0.1);
    ndarray_npy::write_npy(&feats, &f).unwrap();
    let stats = |name: &str, mu: Option<ndarray::Array1<f32>>| {
        let p = dir.join(name);
        let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&p).unwrap());
        if let Some(mu) = mu {
            z.add_array("mu", &mu).unwrap();
        }
        z.add_array("sigma", &ndarray::Array2::<f64>::eye(3))
            .unwrap();
        z.finish().unwrap();
        p
    };
    let good = stats("s32.npz", Some(ndarray::Array1::zeros(3)));
    let o = ultrares(&["fid", feats.to_str().unwrap(), good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nomu = stats("nomu.npz", None);
    let err = refused(
        &ultrares(&["fid", feats.to_str().unwrap(), nomu.to_str().unwrap()]),
        "no mu",
    );
    assert!(
        err.contains("no array \"mu\"") && err.contains("mu [D] and sigma [D, D]"),
        "{err}"
    );
    // Inception weights that do not fit: the first keys, not a 1,500-character table.
    let imgs = dir.join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    std::fs::copy(&png, imgs.join("a.png")).unwrap();
    let o = ultrares(&[
        "fid",
        imgs.to_str().unwrap(),
        imgs.to_str().unwrap(),
        "--weights",
        &fixture("lsr/assets/liif/edsr-baseline-liif.safetensors"),
    ]);
    let err = refused(&o, "wrong Inception weights");
    assert!(
        err.len() < 1500 && !err.contains('│') && !err.contains('─') && err.contains("missing"),
        "{} chars: {err}",
        err.len()
    );
    // --on-disk: PNG files are not JPEG bytes.
    let o = ultrares(&["compression-ratio", &png, "--on-disk"]);
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && msg.contains("bytes on disk") && !msg.contains("JPEG"),
        "{msg}"
    );
    std::fs::remove_dir_all(dir).ok();
}
