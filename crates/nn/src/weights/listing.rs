//! Listing a checkpoint's tensors (name, dtype, shape) without reading tensor data: a
//! safetensors file (its header), a sharded index (every shard's header), a `.pth`/`.bin`
//! pickle, or a diffusers pipeline folder (each component's weight file, names prefixed by the
//! component folder, `unet/conv_in.weight`).

use std::path::{Path, PathBuf};

use super::{StateDict, safetensors, sharded};
use crate::{Error, Result};

/// One listed tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTensor {
    /// The name (prefixed by the component folder for a pipeline folder).
    pub name: String,
    /// The dtype as safetensors spells it (`"F16"`).
    pub dtype: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// Stored bytes.
    pub bytes: u64,
}

/// The weight files of a diffusers model or pipeline folder: `(prefix, file)`, with the
/// `variant` (e.g. `"fp16"`) preferred when given, else the plain files.
///
/// A model folder holds `config.json` and one of `diffusion_pytorch_model[.variant].safetensors`,
/// `model[.variant].safetensors`, their `.safetensors.index.json` shards or `.bin`; a pipeline
/// folder holds `model_index.json` and such component folders.
///
/// # Errors
/// [`Error::Weights`] if the folder is neither, or a component has no weight file.
pub fn diffusers_weight_files(dir: &Path, variant: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
    let source = dir.display().to_string();
    if dir.join("model_index.json").is_file() {
        let mut out = Vec::new();
        let mut comps: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::weights(&source, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        comps.sort();
        for comp in comps {
            if let Some(file) = model_weight_file(&comp, variant) {
                let name = comp
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                out.push((format!("{name}/"), file));
            }
        }
        if out.is_empty() {
            return Err(Error::weights(
                source,
                "a pipeline folder without any component weights",
            ));
        }
        return Ok(out);
    }
    model_weight_file(dir, variant)
        .map(|f| vec![(String::new(), f)])
        .ok_or_else(|| {
            Error::weights(
                source,
                "expected a weight file, a sharded index, or a diffusers folder (model_index.json, or config.json with diffusion_pytorch_model.safetensors / model.safetensors)",
            )
        })
}

/// The weight file of one model folder (see [`diffusers_weight_files`]).
pub fn model_weight_file(dir: &Path, variant: Option<&str>) -> Option<PathBuf> {
    let mut names = Vec::new();
    for stem in ["diffusion_pytorch_model", "model"] {
        let stems: Vec<String> = match variant {
            Some(v) => vec![format!("{stem}.{v}"), stem.to_string()],
            None => vec![stem.to_string()],
        };
        for s in stems {
            for ext in [
                "safetensors",
                "safetensors.index.json",
                "bin",
                "bin.index.json",
            ] {
                names.push(format!("{s}.{ext}"));
            }
        }
    }
    // Without a variant, a folder that only has the fp16 files still lists them.
    if variant.is_none() {
        for stem in ["diffusion_pytorch_model.fp16", "model.fp16"] {
            for ext in ["safetensors", "safetensors.index.json"] {
                names.push(format!("{stem}.{ext}"));
            }
        }
    }
    names.into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Lists the tensors of `path` (see the module docs), sorted by name.
///
/// # Errors
/// [`Error::Weights`] for a missing, corrupt or truncated file, with its path.
pub fn list_tensors(path: &Path, variant: Option<&str>) -> Result<Vec<ListedTensor>> {
    let files = if path.is_dir() {
        diffusers_weight_files(path, variant)?
    } else if path.is_file() {
        vec![(String::new(), path.to_path_buf())]
    } else {
        return Err(Error::weights(
            path.display().to_string(),
            "no such file or folder",
        ));
    };
    let mut out = Vec::new();
    for (prefix, file) in files {
        for t in list_file(&file)? {
            out.push(ListedTensor {
                name: format!("{prefix}{}", t.name),
                ..t
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn list_file(file: &Path) -> Result<Vec<ListedTensor>> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let from_header = |h: safetensors::Header| {
        h.tensors.into_iter().map(|(name, e)| ListedTensor {
            name,
            dtype: e.dtype,
            shape: e.shape,
            bytes: e.end - e.start,
        })
    };
    if name.ends_with(".safetensors.index.json") {
        let (shards, _) = sharded::shard_files(file)?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut out = Vec::new();
        for shard in shards {
            out.extend(from_header(safetensors::read_header(&dir.join(shard))?));
        }
        return Ok(out);
    }
    if name.ends_with(".safetensors") {
        return Ok(from_header(safetensors::read_header(file)?).collect());
    }
    // Pickles: burn-store reads them whole; list what it found.
    let sd = StateDict::read(file)?;
    Ok(sd
        .keys()
        .filter_map(|k| {
            let info = sd.info(k)?;
            let bits = safetensors::dtype_bits(&info.dtype_name).unwrap_or(32);
            let n: u64 = info.shape.iter().map(|&d| d as u64).product();
            Some(ListedTensor {
                name: k.to_string(),
                dtype: info.dtype_name.clone(),
                shape: info.shape.clone(),
                bytes: (n * bits).div_ceil(8),
            })
        })
        .collect())
}
