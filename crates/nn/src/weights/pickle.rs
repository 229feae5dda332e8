//! PyTorch pickles (`torch.save`: `.pth`, `.pt`, `.ckpt`, `.bin`) through burn-store's reader.
//! Tensors are read when the file is opened (a zip of pickled storages cannot be addressed
//! lazily through burn-store's snapshots, which are not `Send`) but keep their stored dtype.
//!
//! burn-store builds and drops pickled objects recursively, so a deeply nested pickle (a few
//! tens of thousands of nested lists, a 60 kB file) overflows an 8 MB main-thread stack and kills
//! the process (found by the `pth` fuzz target). The reader therefore runs on its own thread
//! with a [`PICKLE_STACK`] stack (address space only; pages are committed as used), which takes
//! nesting a hundred times deeper than any real checkpoint's.

use std::path::Path;

use burn_store::pytorch::PytorchReader;
use burn_store::pytorch::reader::PickleValue;
use serde_json::Value;

use super::StateDict;
use crate::{Error, Result};

fn pickle_to_json(v: PickleValue) -> Value {
    match v {
        PickleValue::None | PickleValue::Bytes(_) => Value::Null,
        PickleValue::Bool(b) => Value::Bool(b),
        PickleValue::Int(i) => Value::from(i),
        PickleValue::Float(f) => Value::from(f),
        PickleValue::String(s) => Value::String(s),
        PickleValue::List(l) => Value::Array(l.into_iter().map(pickle_to_json).collect()),
        PickleValue::Dict(d) => {
            Value::Object(d.into_iter().map(|(k, v)| (k, pickle_to_json(v))).collect())
        }
    }
}

/// Stack of the pickle-reading thread: 512 MiB.
pub const PICKLE_STACK: usize = 512 << 20;

/// Reads a pickle: the official LIIF/LSRNA layout (`model.sd` + spec) or a plain state dict, on
/// a thread with a [`PICKLE_STACK`] stack (see the module docs).
pub(crate) fn read_pickle(path: &Path, source: String) -> Result<StateDict> {
    let owned = path.to_path_buf();
    let name = source.clone();
    std::thread::Builder::new()
        .name("ultrares-pickle".into())
        .stack_size(PICKLE_STACK)
        .spawn(move || read_pickle_here(&owned, name))
        .map_err(|e| Error::weights(&source, format!("starting the pickle reader: {e}")))?
        .join()
        .map_err(|_| Error::weights(&source, "the pickle reader panicked (corrupt file?)"))?
}

fn read_pickle_here(path: &Path, source: String) -> Result<StateDict> {
    let err = |e: burn_store::pytorch::PytorchError| Error::weights(&source, e.to_string());
    // The official layout nests the state dict under `model.sd`; anything else is read as a
    // plain state dict.
    let (tensors, spec) = match PytorchReader::with_top_level_key(path, "model") {
        Ok(reader) => {
            let spec = PytorchReader::read_pickle_data(path, Some("model"))
                .ok()
                .and_then(|v| match v {
                    PickleValue::Dict(mut d) => Some(serde_json::json!({
                        "name": pickle_to_json(d.remove("name")?),
                        "args": pickle_to_json(d.remove("args")?),
                    })),
                    _ => None,
                });
            let tensors: Vec<_> = reader
                .into_tensors()
                .into_iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("sd.")?.to_string(), v)))
                .collect();
            (tensors, spec)
        }
        Err(_) => (
            PytorchReader::new(path)
                .map_err(err)?
                .into_tensors()
                .into_iter()
                .collect(),
            None,
        ),
    };
    let mut out = Vec::with_capacity(tensors.len());
    for (name, snapshot) in tensors {
        let data = snapshot
            .to_data()
            .map_err(|e| Error::weights(&source, format!("tensor {name}: {e:?}")))?;
        out.push((name, data));
    }
    let sd = StateDict::from_tensors(source, out);
    Ok(match spec {
        Some(spec) => sd.with_spec(spec),
        None => sd,
    })
}
