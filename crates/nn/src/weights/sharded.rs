//! Sharded safetensors checkpoints: `*.safetensors.index.json` as transformers and diffusers
//! write it (`{"metadata": {…}, "weight_map": {"name": "model-00001-of-00002.safetensors", …}}`),
//! each shard a safetensors file beside the index.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::StateDict;
use crate::{Error, Result};

/// The shard files an index names, in order, after checking that each is a plain file name.
///
/// # Errors
/// [`Error::Weights`] if the index is unreadable, not JSON, has no `weight_map` object of strings,
/// or names a shard outside its folder.
pub fn shard_files(index: &Path) -> Result<(Vec<String>, serde_json::Map<String, Value>)> {
    let source = index.display().to_string();
    let text =
        std::fs::read_to_string(index).map_err(|e| Error::weights(&source, e.to_string()))?;
    parse_index(&source, &text)
}

/// [`shard_files`] of an index's text; `source` names it in errors.
///
/// # Errors
/// As [`shard_files`].
pub fn parse_index(
    source: &str,
    text: &str,
) -> Result<(Vec<String>, serde_json::Map<String, Value>)> {
    let err = |m: String| Error::weights(source, m);
    let json: Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    let Some(Value::Object(map)) = json.get("weight_map") else {
        return Err(err(
            "no \"weight_map\" object (expected a *.safetensors.index.json)".into(),
        ));
    };
    let mut files = BTreeSet::new();
    for (name, file) in map {
        let Value::String(file) = file else {
            return Err(err(format!("weight_map.{name} is not a file name")));
        };
        if file.contains('/') || file.contains('\\') || file == ".." || file.is_empty() {
            return Err(err(format!(
                "weight_map.{name}: shard {file:?} is not a file beside the index"
            )));
        }
        files.insert(file.clone());
    }
    Ok((files.into_iter().collect(), map.clone()))
}

/// Reads a sharded checkpoint lazily; every tensor of the weight map must be in the shard it
/// names, and every shard tensor in the weight map.
///
/// # Errors
/// [`Error::Weights`] for an unreadable index or shard, or a weight map that disagrees with the
/// shards.
pub fn read_index(index: &Path) -> Result<StateDict> {
    let source = index.display().to_string();
    let (files, map) = shard_files(index)?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let mut sd = StateDict::from_tensors(source.clone(), []);
    for file in &files {
        let shard = StateDict::read_safetensors(&dir.join(file))?;
        for key in shard.keys() {
            if map.get(key).and_then(Value::as_str) != Some(file.as_str()) {
                return Err(Error::weights(
                    &source,
                    format!("shard {file} holds {key}, which the weight map places elsewhere"),
                ));
            }
        }
        sd.merge(shard)?;
    }
    let missing: Vec<&String> = map.keys().filter(|k| !sd.contains(k)).take(10).collect();
    if !missing.is_empty() {
        return Err(Error::weights(
            &source,
            format!("tensors of the weight map missing from their shards: {missing:?}"),
        ));
    }
    Ok(sd.with_source(source))
}
