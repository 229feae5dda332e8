//! Helpers shared by the encoder tests: fixtures, `det_weight` state dicts, relative errors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_core::testing::det_weight;
use ultrares_nn::{ConfigJson, StateDict};
use ultrares_text::ClipTextConfig;

/// The test backend.
pub type B = NdArray<f32>;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub struct Golden {
    pub npz: NpzReader<std::fs::File>,
    pub keys: serde_json::Value,
}

impl Golden {
    pub fn open(stem: &str) -> Self {
        let npz =
            NpzReader::new(std::fs::File::open(fixture(&format!("{stem}.npz"))).expect("npz"))
                .expect("npz");
        let keys = std::fs::read_to_string(fixture(&format!("{stem}_keys.json")))
            .map(|t| serde_json::from_str(&t).expect("keys JSON"))
            .unwrap_or(serde_json::Value::Null);
        Self { npz, keys }
    }

    pub fn f32(&mut self, name: &str) -> ArrayD<f32> {
        self.npz
            .by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn ids(&mut self, name: &str) -> Tensor<B, 2, Int> {
        let a: ArrayD<i64> = self.npz.by_name(name).expect("ids");
        let shape = [a.shape()[0], a.shape()[1]];
        Tensor::from_data(
            TensorData::new(a.iter().copied().collect::<Vec<_>>(), shape),
            &Default::default(),
        )
    }

    /// `det_weight` for every key transformers' `state_dict()` has (no `text_model.` prefix for a
    /// `CLIPTextModel` in transformers 5; with it for `CLIPTextModelWithProjection`).
    pub fn state_dict(&self, model: &str) -> StateDict {
        let keys = self.keys[model].as_object().expect("model keys");
        StateDict::from_tensors(
            model,
            keys.iter().map(|(k, shape)| {
                let shape: Vec<usize> = serde_json::from_value(shape.clone()).expect("shape");
                (k.clone(), TensorData::new(det_weight(k, &shape), shape))
            }),
        )
    }
}

pub fn config(name: &str) -> ClipTextConfig {
    let cfg = ConfigJson::read(fixture(&format!("clip_{name}_config.json"))).expect("config");
    ClipTextConfig::from_config_json(&cfg).expect("CLIP text config")
}

/// max |a − b| / max |b| (relative to the reference's scale).
pub fn rel_err<const D: usize>(ours: Tensor<B, D>, reference: &ArrayD<f32>, what: &str) -> f64 {
    assert_eq!(
        ours.dims().to_vec(),
        reference.shape().to_vec(),
        "{what}: shape"
    );
    let ours: Vec<f32> = ours.into_data().convert::<f32>().into_vec().expect("f32");
    let scale = reference.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    let diff = ours
        .iter()
        .zip(reference.iter())
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    diff / scale
}

/// Writes `det_weight` tensors for the keys of `model` in `keys` as an f32 safetensors file.
pub fn write_det_safetensors(path: &Path, keys: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = keys
        .as_object()
        .expect("keys")
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
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .expect("view");
            (k.clone(), v)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write safetensors");
}

/// A diffusers pipeline folder in the temp folder: `model_index.json` of `class` with the
/// transformers components `towers` (`(name, class, config fixture, golden, keys model)`), the
/// tokenizers `(name, source)` where source is `clip`, `clip-bigg` or a fixture folder, and extra
/// files `(relative path, contents)`.
pub fn pipeline_folder(
    tag: &str,
    class: &str,
    towers: &[(&str, &str, &str, &str, &str)],
    tokenizers: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> PathBuf {
    use ultrares_text::{ClipPad, write_openai_folder};
    let dir = std::env::temp_dir().join(format!("ultrares-text-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut index = serde_json::Map::new();
    index.insert("_class_name".into(), class.into());
    for (name, cls, config, golden, model) in towers {
        index.insert((*name).into(), serde_json::json!(["transformers", cls]));
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::copy(fixture(config), sub.join("config.json")).expect("config");
        let keys = Golden::open(golden).keys[*model].clone();
        write_det_safetensors(&sub.join("model.safetensors"), &keys);
    }
    for (name, source) in tokenizers {
        let sub = dir.join(name);
        match *source {
            "clip" => write_openai_folder(&sub, ClipPad::EndOfText).expect("tokenizer"),
            "clip-bigg" => write_openai_folder(&sub, ClipPad::Exclamation).expect("tokenizer"),
            folder => {
                std::fs::create_dir_all(&sub).expect("mkdir");
                for f in std::fs::read_dir(fixture(folder)).expect("fixture") {
                    let f = f.expect("entry").path();
                    std::fs::copy(&f, sub.join(f.file_name().expect("name"))).expect("copy");
                }
            }
        }
    }
    for (path, text) in extra {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    std::fs::write(
        dir.join("model_index.json"),
        serde_json::Value::Object(index).to_string(),
    )
    .expect("model_index");
    dir
}
