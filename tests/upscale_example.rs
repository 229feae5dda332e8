//! `examples/upscale.rs` behaves like the CLI (issue 24): `--help` exits 0, errors are one
//! `error:` line, sizes are `HxW`, and with `--out` no `out/` folder appears.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ultrares-example-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refused(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    assert!(!err.contains(" { "), "{what}: Debug output: {err}");
    err
}

/// The example behaves like the CLI: `--help` exits 0, errors are one `error:` line, and with
/// `--out` no `out/` folder appears.
#[test]
fn upscale_example_behaves_like_the_cli() {
    // `cargo test` builds the package's examples into target/<profile>/examples/, beside the
    // deps/ folder of this test binary.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("upscale{}", std::env::consts::EXE_SUFFIX));
    assert!(example.is_file(), "{} not built", example.display());
    let dir = temp_dir("example");
    let run = |args: &[&str]| {
        Command::new(&example)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let o = run(&["--help"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("usage:"));
    for bad in [&["--size", "12x"][..], &["--frobnicate"], &["/no/such.png"]] {
        refused(&run(bad), &format!("example {bad:?}"));
    }
    let img = ultrares::core::image::RgbImage::from_fn(10, 8, |x, y| {
        ultrares::core::image::Rgb([(x * 20) as u8, (y * 25) as u8, 99])
    });
    ultrares::core::image::save_image(&img, dir.join("in.png")).unwrap();
    std::fs::create_dir_all(dir.join("res")).unwrap();
    let o = run(&["in.png", "--size", "16x20", "--out", "res/up.png"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("8×10 → 16×20 (H×W)") && table.contains("higher = more fine detail"),
        "{table}"
    );
    assert!(!dir.join("out").exists(), "an out/ folder was created");
    let got = ultrares::core::image::read_rgb8(dir.join("res/up.png")).unwrap();
    assert_eq!(got.dimensions(), (20, 16));
    assert!(dir.join("res/up_bicubic.png").is_file());
    std::fs::remove_dir_all(dir).ok();
}
