//! Replays the fuzz regression corpus (`fuzz/regressions/<target>/*`: minimised crashers and
//! hand-made edge cases) through the same functions the cargo-fuzz targets call
//! (`tests/fuzz/support.rs`), so a fixed parser crash stays fixed without the nightly toolchain.

#[path = "fuzz/support.rs"]
mod support;

use std::path::PathBuf;

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 8] = [
    ("safetensors", support::safetensors),
    ("sharded_index", support::sharded_index),
    ("pth", support::pth),
    ("npy", support::npy),
    ("npz", support::npz),
    ("image", support::image),
    ("config_json", support::config_json),
    ("liif_spec", support::liif_spec),
];

#[test]
fn fuzz_regressions_do_not_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (name, run) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no regression inputs", dir.display());
        for f in files {
            let data = std::fs::read(&f).expect("read");
            run(&data);
            replayed += 1;
        }
    }
    println!("replayed {replayed} inputs");
}
