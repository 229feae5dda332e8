//! The `ultrares` binary: `info`, and one-line errors with exit code 2 on bad arguments.

use std::process::Command;

fn ultrares(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

#[test]
fn info_lists_the_enabled_backends() {
    let out = ultrares(&["info"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.starts_with(&format!("ultrares {}", env!("CARGO_PKG_VERSION"))),
        "{s}"
    );
    if cfg!(feature = "ndarray") {
        assert!(
            s.contains("backends: ndarray") && s.contains("ndarray: cpu ("),
            "{s}"
        );
    }
}

#[test]
fn info_json_is_machine_readable() {
    let out = ultrares(&["info", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["backends"].is_array() && v["devices"].is_array());
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    for args in [&["frobnicate"][..], &["info", "--nope"], &[]] {
        let out = ultrares(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        // clap's message on one line, then its usage line.
        assert!(err.trim_end().lines().count() <= 2, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn help_and_version_succeed() {
    assert!(ultrares(&["--help"]).status.success());
    let v = ultrares(&["--version"]);
    assert!(v.status.success());
    assert!(
        String::from_utf8(v.stdout)
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION"))
    );
}

fn fixture(rel: &str) -> String {
    format!("{}/../rna/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn canny_writes_opencvs_edge_map() {
    let out = std::env::temp_dir().join(format!("ultrares-cli-canny-{}.png", std::process::id()));
    let o = ultrares(&[
        "canny",
        &fixture("canny/coffee.png"),
        out.to_str().unwrap(),
        "--low",
        "100",
        "--high",
        "200",
        "--l2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = ultrares::core::image::read_gray8(&out).unwrap();
    let want = ultrares::core::image::read_gray8(fixture("canny/coffee__100_200_l2.png")).unwrap();
    assert_eq!(got, want);
    std::fs::remove_file(out).ok();
}

#[test]
fn rna_map_writes_npy_and_json() {
    let out = std::env::temp_dir().join(format!("ultrares-cli-rna-{}.npy", std::process::id()));
    let o = ultrares(&[
        "rna-map",
        &fixture("astronaut_rgb.png"),
        "--latent-size",
        "48x80",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["min"], 0.0);
    assert!((v["max"].as_f64().unwrap() - 1.2).abs() < 1e-6);
    let got: ndarray::Array2<f32> = ndarray_npy::read_npy(&out).unwrap();
    let want: ndarray::Array2<f32> =
        ndarray_npy::read_npy(fixture("rna_std_demofusion_48x80.npy")).unwrap();
    assert_eq!(got.shape(), &[48, 80]);
    let err = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-6, "{err}");
    std::fs::remove_file(out).ok();
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    for args in [
        &["canny", "/nonexistent.png", "/tmp/x.png"][..],
        &[
            "canny",
            &fixture("canny/coffee.png"),
            "/tmp/x.png",
            "--aperture",
            "4",
        ],
        &[
            "rna-map",
            &fixture("astronaut_rgb.png"),
            "--latent-size",
            "9x0",
            "/tmp/x.npy",
        ],
        &[
            "rna-map",
            &fixture("astronaut_rgb.png"),
            "--latent-size",
            "4096x4096",
            "/tmp/x.npy",
        ],
    ] {
        let o = ultrares(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// `dwt` equals `pywt.wavedec2` (the wavelet crate's fixture) and `idwt` inverts it.
#[cfg(feature = "ndarray")]
#[test]
fn dwt_and_idwt_match_pywavelets() {
    use ndarray::{ArrayD, IxDyn};
    use ndarray_npy::{NpzReader, ReadNpyExt, WriteNpyExt};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wavelet/tests/fixtures/multilevel.npz");
    let mut golden = NpzReader::new(std::fs::File::open(fixture).unwrap()).unwrap();
    let mut get = |k: &str| -> ArrayD<f32> {
        golden
            .by_name::<ndarray::OwnedRepr<f32>, IxDyn>(&format!("{k}.npy"))
            .unwrap()
    };
    let x = get("odd/x"); // (1, 1, 41, 43)
    let x2 = x.clone().into_shape_with_order(IxDyn(&[41, 43])).unwrap();
    let dir = std::env::temp_dir().join(format!("ultrares-cli-dwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (xin, coeffs, back) = (dir.join("x.npy"), dir.join("c.npz"), dir.join("r.npy"));
    x2.write_npy(std::fs::File::create(&xin).unwrap()).unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let args = ["--wavelet", "sym3", "--mode", "antisymmetric"];
    let out = ultrares(
        &[
            &["dwt", &s(&xin), &s(&coeffs), "--level", "3", "--json"][..],
            &args[..],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["arrays"].as_array().unwrap().len(), 10);
    let mut got = NpzReader::new(std::fs::File::open(&coeffs).unwrap()).unwrap();
    for key in ["a", "h1", "v1", "d1", "h2", "v2", "d2", "h3", "v3", "d3"] {
        let g = got.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(key).unwrap();
        let w = get(&format!("sym3/antisymmetric/odd/{key}"));
        assert_eq!(g.ndim(), 2, "rank kept");
        let err = g
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err <= 1e-5, "{key}: {err}");
    }
    let out = ultrares(&[&["idwt", &s(&coeffs), &s(&back)][..], &args[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = ArrayD::<f32>::read_npy(std::fs::File::open(&back).unwrap()).unwrap();
    // waverec2 gives 42×44; idwt crops to the 41×43 that dwt recorded.
    let w = get("sym3/antisymmetric/odd/rec");
    let w = w
        .into_shape_with_order(IxDyn(&[42, 44]))
        .unwrap()
        .slice_move(ndarray::s![..41, ..43])
        .into_dyn();
    assert_eq!(r.shape(), &[41, 43]);
    let err = r
        .iter()
        .zip(w.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err <= 1e-5, "waverec2: {err}");
    // Bad input: one line, exit 2.
    for bad in [
        vec![
            "dwt",
            &xin.to_str().unwrap(),
            "/dev/null",
            "--wavelet",
            "db99",
        ],
        vec!["dwt", &xin.to_str().unwrap(), "/dev/null", "--level", "9"],
        vec!["idwt", &xin.to_str().unwrap(), "/dev/null"],
    ] {
        let out = ultrares(&bad);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("error:") && err.trim().lines().count() == 1,
            "{err}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn schedule_prints_diffusers_timesteps() {
    let out = ultrares(&[
        "schedule",
        "--preset",
        "sdxl",
        "--scheduler",
        "ddim",
        "--steps",
        "50",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ts = v["timesteps"].as_array().unwrap();
    assert_eq!(ts.len(), 50);
    assert_eq!(ts[0], 981.0);
    assert_eq!(ts[20], 581.0); // LSRNA-DemoFusion's start
    assert_eq!(v["alphas_cumprod"].as_array().unwrap().len(), 50);
    let out = ultrares(&["schedule", "--preset", "sd3", "--steps", "28", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scheduler"], "flow_match_euler");
    assert_eq!(v["sigmas"].as_array().unwrap().len(), 29);
    for bad in [
        &["schedule", "--preset", "sd9"][..],
        &["schedule", "--steps", "0"],
        &["schedule", "--steps", "2000"],
    ] {
        let out = ultrares(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8(out.stderr).unwrap().starts_with("error:"));
    }
}

#[test]
fn glcm_score_matches_diffusion_4k() {
    let img = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rna/tests/fixtures/astronaut_rgb.png"
    );
    let out = ultrares(&["glcm-score", img, "--size", "256", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // tools/golden/gen_metrics.py: eval.py's score of this image with --size 256.
    assert!((v["glcm_score"].as_f64().unwrap() - 1.9469350450500917).abs() < 1e-12);
    let out = ultrares(&["glcm-score", img]); // default 2048² region: too small
    assert_eq!(out.status.code(), Some(2));
    let out = ultrares(&["glcm-score", img, "--prop", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

const ASTRONAUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rna/tests/fixtures/astronaut_rgb.png"
);

fn metrics_fixture<T: ndarray_npy::ReadableElement>(file: &str, key: &str) -> ndarray::ArrayD<T> {
    let path = format!(
        "{}/../metrics/tests/fixtures/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    npz.by_name::<ndarray::OwnedRepr<T>, ndarray::IxDyn>(&format!("{key}.npy"))
        .unwrap()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn compression_ratio_and_bad_files() {
    // Pillow's q95 file of this image (tools/golden/gen_metrics.py).
    let pillow_bytes = metrics_fixture::<u8>("jpeg.npz", "astronaut_q95_420_jpg").len() as u64;
    let out = ultrares(&["compression-ratio", ASTRONAUT, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jpeg_bytes"].as_u64().unwrap(), pillow_bytes);
    assert_eq!(
        v["compression_ratio"].as_f64().unwrap(),
        (256 * 256 * 3) as f64 / pillow_bytes as f64
    );

    // A folder with one unreadable file: an error naming it, or skipped with --skip-bad.
    let dir = temp_dir("cr");
    std::fs::copy(ASTRONAUT, dir.join("a.png")).unwrap();
    std::fs::write(dir.join("b.png"), b"not a png").unwrap();
    let d = dir.to_str().unwrap();
    for cmd in [
        &["compression-ratio", d][..],
        &["glcm-score", d, "--size", "256"],
    ] {
        let out = ultrares(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("b.png") && err.contains("--skip-bad"), "{err}");
    }
    let out = ultrares(&["compression-ratio", d, "--skip-bad", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["jpeg_bytes"].as_u64().unwrap(), pillow_bytes);
    assert!(v["skipped"][0]["file"].as_str().unwrap().ends_with("b.png"));
    let out = ultrares(&["glcm-score", d, "--size", "256", "--skip-bad", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["glcm_score"].as_f64().unwrap() - 1.9469350450500917).abs() < 1e-12);
    // --on-disk: eval.py's file sizes.
    std::fs::remove_file(dir.join("b.png")).unwrap();
    let out = ultrares(&["compression-ratio", d, "--on-disk", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.get("jpeg_bytes").is_none(),
        "PNG files are not JPEG bytes: {v}"
    );
    assert_eq!(
        v["file_bytes"].as_u64().unwrap(),
        std::fs::metadata(ASTRONAUT).unwrap().len()
    );
    assert_eq!(
        ultrares(&["compression-ratio", d, "--quality", "0"])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "ndarray")]
#[test]
fn fid_and_kid_of_feature_files_equal_the_references() {
    use ndarray_npy::WriteNpyExt;
    let dir = temp_dir("fid");
    let write = |key: &str| {
        let a = metrics_fixture::<f32>("stats.npz", key);
        let p = dir.join(format!("{key}.npy"));
        a.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (a, b, c, d) = (write("a"), write("b"), write("c"), write("d"));
    // pytorch-fid's calculate_frechet_distance of the fixture's statistics.
    let fid_ref = metrics_fixture::<f64>("stats.npz", "fid")[[0]];
    let out = ultrares(&["fid", &a, &b, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        (v["fid"].as_f64().unwrap() - fid_ref).abs() <= 1e-6 * fid_ref,
        "{v}"
    );
    // clean-fid's kernel_distance with one subset covering both sets.
    let kid_ref = metrics_fixture::<f64>("stats.npz", "kid")[[0]];
    let out = ultrares(&["kid", &c, &d, "--subsets", "1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        (v["kid"].as_f64().unwrap() - kid_ref).abs() <= 1e-6 * kid_ref.abs(),
        "{v}"
    );
    // Mismatched dimensions, image folders without weights, --patch with features.
    let narrow = dir.join("narrow.npy");
    ndarray::Array2::<f32>::zeros((5, 3))
        .write_npy(std::fs::File::create(&narrow).unwrap())
        .unwrap();
    for args in [
        vec!["fid", &a, narrow.to_str().unwrap()],
        vec!["fid", dir.to_str().unwrap(), dir.to_str().unwrap()],
        vec!["kid", &c, &d, "--patch", "1024"],
    ] {
        let out = ultrares(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn lsr_fixture(name: &str) -> String {
    format!(
        "{}/../lsr/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn lsr_npz<T: ndarray_npy::ReadableElement>(file: &str, key: &str) -> ndarray::ArrayD<T> {
    let mut npz =
        ndarray_npy::NpzReader::new(std::fs::File::open(lsr_fixture(file)).unwrap()).unwrap();
    npz.by_name::<ndarray::OwnedRepr<T>, ndarray::IxDyn>(&format!("{key}.npy"))
        .unwrap()
}

#[test]
fn lsr_and_upscale_match_the_official_code() {
    let dir = temp_dir("lsr");
    // LSR on a latent .npy from LSRNA's checkpoint format (gen_lsr.py's lsr_tiny).
    let input = dir.join("latent.npy");
    ndarray_npy::write_npy(&input, &lsr_npz::<f32>("lsr_tiny.npz", "input")).unwrap();
    let output = dir.join("up.npy");
    let o = ultrares(&[
        "lsr",
        "--checkpoint",
        &lsr_fixture("lsr_tiny.pth"),
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--size",
        "48x58",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&output).unwrap();
    let want = lsr_npz::<f32>("lsr_tiny.npz", "output");
    assert_eq!(got.shape(), want.shape());
    let err = got
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-4, "lsr: max abs error {err}");
    // RGB upscaling with the bundled real weights (LIIF ×4 of a 24×32 crop), 8-bit output.
    let crop = lsr_npz::<u8>("liif_real.npz", "input");
    use ultrares::core::image::{Rgb, RgbImage, save_image};
    let img = RgbImage::from_fn(32, 24, |x, y| {
        Rgb([0, 1, 2].map(|c| crop[[y as usize, x as usize, c]]))
    });
    let png = dir.join("crop.png");
    save_image(&img, &png).unwrap();
    let up = dir.join("crop_x4.png");
    let o = ultrares(&[
        "upscale",
        png.to_str().unwrap(),
        up.to_str().unwrap(),
        "--scale",
        "4",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = ultrares::core::image::read_rgb8(&up).unwrap();
    assert_eq!(got.dimensions(), (128, 96));
    let want = lsr_npz::<f32>("liif_real.npz", "x4");
    let mut worst = 0f32;
    for (x, y, p) in got.enumerate_pixels() {
        for c in 0..3 {
            let v = (want[[c, y as usize, x as usize]] * 0.5 + 0.5).clamp(0.0, 1.0) * 255.0;
            worst = worst.max((p[c] as f32 - v).abs());
        }
    }
    assert!(
        worst <= 0.5 + 1e-3,
        "upscale: worst 8-bit deviation {worst}"
    );
    // Bad input: a target smaller than the input, a missing checkpoint.
    let o = ultrares(&[
        "upscale",
        png.to_str().unwrap(),
        up.to_str().unwrap(),
        "--size",
        "10x10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = ultrares(&[
        "lsr",
        "--checkpoint",
        "/nonexistent.pth",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--size",
        "48x58",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"));
    // Half precision needs a GPU backend (burn-ndarray has no f16 tensors).
    for sub in [
        &["upscale", png.to_str().unwrap(), up.to_str().unwrap()][..],
        &[
            "lsr",
            "--checkpoint",
            "x.pth",
            "in.npy",
            "out.npy",
            "--size",
            "8x8",
        ],
    ] {
        let o = ultrares(&[sub, &["--dtype", "bf16"]].concat());
        assert_eq!(o.status.code(), Some(2), "{sub:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--dtype bf16 needs --device"));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn generate_checks_arguments_before_loading() {
    let base = [
        "generate",
        "--model",
        "/nonexistent/sdxl",
        "--prompt",
        "a fox",
    ];
    let err = |extra: &[&str]| {
        let out = ultrares(&[&base[..], extra].concat());
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        err
    };
    assert!(err(&[]).contains("--output IMAGE.png, --save-latents"));
    assert!(err(&["-o", "/tmp/x.png"]).contains("--model: /nonexistent/sdxl does not exist"));
    assert!(
        err(&["-o", "/tmp/x.png", "--strategy", "lsrna-pixelsmith"]).contains("--lsr is required")
    );
    assert!(err(&["-o", "/tmp/x.png", "--guidance", "nan"]).contains("--guidance"));
    assert!(err(&["-o", "/tmp/x.png", "--dtype", "f16"]).contains("--dtype f16 needs"));
    assert!(err(&["-o", "/tmp/x.png", "--size", "1024"]).contains("HxW"));
}

fn nn_fixture(rel: &str) -> String {
    format!("{}/../nn/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// `ultrares weights --json` on the sharded fixture equals what Python's `safe_open` listed
/// (tools/golden/gen_nn.py), with the parameter and byte counts.
#[test]
fn weights_lists_a_sharded_checkpoint_as_python_safetensors() {
    let o = ultrares(&[
        "weights",
        &nn_fixture("sharded/model.safetensors.index.json"),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(nn_fixture("sharded/listing.json")).expect("listing"),
    )
    .expect("json");
    assert_eq!(got["tensors"], want);
    // a.weight f16 [4, 3], a.bias bf16 [4], b.weight f32 [2, 2, 3, 3], b.position_ids i64 [1, 5].
    assert_eq!(got["parameters"], 12 + 4 + 36 + 5);
    assert_eq!(got["bytes"], 24 + 8 + 144 + 40);
    let text = ultrares(&[
        "weights",
        &nn_fixture("sharded/model-00002-of-00002.safetensors"),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("b.weight")
            && text.ends_with("2 tensors, 41 parameters, 184 bytes (0.00 GB)\n"),
        "{text}"
    );
}

#[test]
fn weights_on_corrupt_files_exits_2_with_one_line() {
    let dir = std::env::temp_dir().join(format!("ultrares-cli-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good =
        std::fs::read(nn_fixture("sharded/model-00002-of-00002.safetensors")).expect("shard");
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &good[..good.len() - 5]).expect("write");
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff\xff\x7fxx").expect("write");
    for path in [&truncated, &garbage, &dir.join("missing.safetensors")] {
        let o = ultrares(&["weights", path.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(2), "{}", path.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: checkpoint ") && err.contains(&*path.display().to_string()),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A backend that is not compiled in is a usage error naming the feature (exit 2); a write that
/// fails after the work is a failure (exit 1).
#[test]
fn device_and_failure_exit_codes() {
    #[cfg(not(feature = "cuda"))]
    {
        let o = ultrares(&[
            "upscale",
            &fixture("astronaut_rgb.png"),
            "/tmp/x.png",
            "--device",
            "cuda:1",
        ]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--device cuda:1") && err.contains("`cuda` feature"),
            "{err}"
        );
    }
    let o = ultrares(&[
        "lsr",
        "--checkpoint",
        "x.pth",
        "in.npy",
        "out.npy",
        "--size",
        "8x8",
        "--device",
        "tpu",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected cpu, cuda[:N] or wgpu"));
    if std::path::Path::new("/dev/full").exists() {
        let o = ultrares(&[
            "rna-map",
            &fixture("astronaut_rgb.png"),
            "--latent-size",
            "8x8",
            "/dev/full",
        ]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: writing /dev/full"));
    }
}

fn wavediff_fixture(name: &str) -> String {
    format!(
        "{}/../wavediff/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `wavediff sample` on an official-layout checkpoint (`module.` keys) with the model's
/// argparse JSON and the official run's replayed noise writes the official images
/// (`tools/golden/gen_wavediff.py`: `test_wddgan.py`'s loop, `×2`, WaveCNet IDWT, clamp), and a
/// seeded run's images do not depend on the batch size.
#[test]
fn wavediff_sample_replays_the_official_run() {
    use ndarray::ArrayD;
    use ndarray_npy::{NpzReader, ReadNpyExt};
    let dir = std::env::temp_dir().join(format!("ultrares-cli-wavediff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (ckpt, cfg) = (
        wavediff_fixture("netG_small.pth"),
        wavediff_fixture("netG_small.json"),
    );
    let arr = dir.join("replay.npy");
    let grid = dir.join("grid.png");
    let o = ultrares(&[
        "wavediff",
        "sample",
        "--checkpoint",
        &ckpt,
        "--config",
        &cfg,
        "--replay",
        &wavediff_fixture("sample_netG_small.npz"),
        "--save-array",
        arr.to_str().expect("utf-8"),
        "--out",
        grid.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = ArrayD::<f32>::read_npy(std::fs::File::open(&arr).expect("npy")).expect("npy");
    let f = std::fs::File::open(wavediff_fixture("sample_netG_small.npz")).expect("npz");
    let want: ArrayD<f32> = NpzReader::new(f)
        .expect("npz")
        .by_name("images")
        .expect("images");
    assert_eq!(got.shape(), want.shape());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff / scale <= 1e-4,
        "replayed images: {:e} relative",
        diff / scale
    );
    let img = image::open(&grid).expect("grid").to_rgb8();
    assert_eq!(
        (img.width(), img.height()),
        (3 * 64, 64),
        "3 images in one row"
    );

    // Seeded: image k depends on seed + k only.
    let run = |batch: &str, name: &str| {
        let p = dir.join(name);
        let o = ultrares(&[
            "wavediff",
            "sample",
            "--checkpoint",
            &ckpt,
            "--config",
            &cfg,
            "--num",
            "3",
            "--batch",
            batch,
            "--seed",
            "5",
            "--save-array",
            p.to_str().expect("utf-8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ArrayD::<f32>::read_npy(std::fs::File::open(&p).expect("npy")).expect("npy")
    };
    let (a, b) = (run("3", "b3.npy"), run("2", "b2.npy"));
    assert_eq!(a.shape(), &[3, 3, 64, 64]);
    let d = a
        .iter()
        .zip(b.iter())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(d <= 1e-5, "batch 3 vs batch 2: {d:e}");
    assert!(a.iter().any(|v| v.abs() > 1e-3), "non-trivial images");

    // A checkpoint that does not fit the model lists the mismatched keys; bad usage is one line.
    let o = ultrares(&[
        "wavediff",
        "sample",
        "--checkpoint",
        &ckpt,
        "--preset",
        "celeba_256",
        "--save-array",
        arr.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("mismatched") && err.contains("all_modules"),
        "{err}"
    );
    let o = ultrares(&[
        "wavediff",
        "sample",
        "--checkpoint",
        &ckpt,
        "--preset",
        "cifar10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--save-array"));
    let o = ultrares(&[
        "wavediff",
        "sample",
        "--checkpoint",
        &ckpt,
        "--preset",
        "imagenet",
        "--save-array",
        "x.npy",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("celeba_1024"));
    let _ = std::fs::remove_dir_all(&dir);
}
