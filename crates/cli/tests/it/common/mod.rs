//! Helpers shared by the CLI tests that build model folders: `det_weight` safetensors from a
//! key → shape list (the formula of `tools/golden/npz.py`, so no weight file is committed).
#![allow(dead_code)]

use std::path::Path;

use ultrares::core::testing::det_weight;

/// Writes `det_weight(key, shape)` for every `key: shape` of `keys` as f32 safetensors.
pub fn write_det_safetensors(path: &Path, keys: &serde_json::Map<String, serde_json::Value>) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .iter()
        .map(|(k, s)| {
            let shape: Vec<usize> = serde_json::from_value(s.clone()).expect("shape");
            let bytes = det_weight(k, &shape)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            (k.clone(), shape, bytes)
        })
        .collect();
    let views: Vec<_> = tensors
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .expect("view"),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write safetensors");
}

/// A JSON file's contents.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read JSON")).expect("JSON")
}
