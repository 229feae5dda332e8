//! Loading: diffusers model directories, and the original LDM (CompVis / single-file) key
//! layout remapped to diffusers' names.
//!
//! The remap is diffusers' `convert_ldm_vae_checkpoint` (`diffusers/loaders/single_file_utils.py`):
//!
//! | LDM | diffusers |
//! |---|---|
//! | `first_stage_model.` / `vae.` prefix | stripped (keys without it are ignored) |
//! | `{encoder,decoder}.norm_out` | `….conv_norm_out` |
//! | `encoder.down.{i}.block.{j}` | `encoder.down_blocks.{i}.resnets.{j}` |
//! | `encoder.down.{i}.downsample.conv` | `encoder.down_blocks.{i}.downsamplers.0.conv` |
//! | `decoder.up.{i}.block.{j}` | `decoder.up_blocks.{n−1−i}.resnets.{j}` |
//! | `decoder.up.{i}.upsample.conv` | `decoder.up_blocks.{n−1−i}.upsamplers.0.conv` |
//! | `….mid.block_{1,2}` | `….mid_block.resnets.{0,1}` |
//! | `….mid.attn_1.{norm,q,k,v,proj_out}` | `….mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}`, 1×1-conv weights `[C, C, 1, 1]` → `[C, C]` |
//! | `nin_shortcut` | `conv_shortcut` |

use std::path::Path;

use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::{AutoencoderKl, AutoencoderKlConfig, Result};

const PREFIXES: [&str; 2] = ["first_stage_model.", "vae."];

/// Whether `sd` uses the LDM key layout (with or without a `first_stage_model.`/`vae.` prefix).
pub fn is_ldm_layout(sd: &StateDict) -> bool {
    sd.keys().any(|k| {
        let k = PREFIXES.iter().find_map(|p| k.strip_prefix(p)).unwrap_or(k);
        k.starts_with("encoder.down.")
            || k.starts_with("decoder.up.")
            || k.starts_with("encoder.mid.")
    })
}

/// The diffusers name of one LDM key (prefix already stripped); `n_up` = decoder up blocks.
fn rename(key: &str, n_up: usize) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let rest = |i: usize| parts[i..].join(".");
    let shortcut = |s: String| s.replace("nin_shortcut", "conv_shortcut");
    let num = |s: &str| s.parse::<usize>().ok();
    match parts.as_slice() {
        [side @ ("encoder" | "decoder"), "norm_out", ..] => {
            format!("{side}.conv_norm_out.{}", rest(2))
        }
        ["encoder", "down", i, "block", j, ..] => {
            shortcut(format!("encoder.down_blocks.{i}.resnets.{j}.{}", rest(5)))
        }
        ["encoder", "down", i, "downsample", ..] => {
            format!("encoder.down_blocks.{i}.downsamplers.0.{}", rest(4))
        }
        ["decoder", "up", i, "block", j, ..] if num(i).is_some_and(|i| i < n_up) => {
            let b = n_up - 1 - num(i).unwrap_or(0);
            shortcut(format!("decoder.up_blocks.{b}.resnets.{j}.{}", rest(5)))
        }
        ["decoder", "up", i, "upsample", ..] if num(i).is_some_and(|i| i < n_up) => {
            let b = n_up - 1 - num(i).unwrap_or(0);
            format!("decoder.up_blocks.{b}.upsamplers.0.{}", rest(4))
        }
        [side, "mid", "block_1", ..] => shortcut(format!("{side}.mid_block.resnets.0.{}", rest(3))),
        [side, "mid", "block_2", ..] => shortcut(format!("{side}.mid_block.resnets.1.{}", rest(3))),
        [side, "mid", "attn_1", layer, ..] => {
            let new = match *layer {
                "norm" => "group_norm",
                "q" => "to_q",
                "k" => "to_k",
                "v" => "to_v",
                "proj_out" => "to_out.0",
                other => other,
            };
            format!("{side}.mid_block.attentions.0.{new}.{}", rest(4))
        }
        _ => key.to_string(),
    }
}

/// Renames an LDM-layout state dict to diffusers' names (see the module docs).
///
/// # Errors
/// [`ultrares_core::Error::Weights`] if two keys map to the same name.
pub fn ldm_to_diffusers(sd: &StateDict) -> Result<StateDict> {
    let prefix = PREFIXES
        .iter()
        .find(|p| sd.keys().any(|k| k.starts_with(*p)))
        .copied();
    let keys: Vec<&str> = sd
        .keys()
        .filter_map(|k| match prefix {
            Some(p) => k.strip_prefix(p),
            None => Some(k),
        })
        .collect();
    let n_up = keys
        .iter()
        .filter_map(|k| {
            k.strip_prefix("decoder.up.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1);
    let strip = |k: &str| match prefix {
        Some(p) => k.strip_prefix(p).map(str::to_string),
        None => Some(k.to_string()),
    };
    let mut out = sd.renamed(|k| strip(k).map(|k| rename(&k, n_up)))?;
    // The attention projections are 1×1 convolutions in the LDM layout, linear layers in diffusers'.
    let convs: Vec<(String, Vec<usize>)> = out
        .keys()
        .filter(|name| name.contains(".attentions.0.") && name.ends_with(".weight"))
        .filter_map(|name| {
            let shape = &out.info(name)?.shape;
            (shape.len() > 2 && shape[2..].iter().all(|&d| d == 1))
                .then(|| (name.to_string(), shape[..2].to_vec()))
        })
        .collect();
    for (name, shape) in convs {
        out.reshape(&name, shape)?;
    }
    Ok(out)
}

/// Loads a diffusers `AutoencoderKL` directory: `config.json` plus
/// `diffusion_pytorch_model.safetensors` (or `.fp16.safetensors`, or `.bin`). `dir` may be the
/// VAE folder itself or a pipeline folder with a `vae/` subfolder.
///
/// # Errors
/// [`ultrares_core::Error::Weights`] if the files are missing or unreadable or do not fit;
/// [`crate::Error::Config`] for an unsupported config.
pub fn from_diffusers_dir<B: NnBackend>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<AutoencoderKl<B>> {
    let mut dir = dir.as_ref().to_path_buf();
    if !dir.join("config.json").is_file() && dir.join("vae").join("config.json").is_file() {
        dir = dir.join("vae");
    }
    let config_path = dir.join("config.json");
    let config = AutoencoderKlConfig::from_config_json(&ConfigJson::read(&config_path)?)?;
    let weights = [
        "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "diffusion_pytorch_model.bin",
    ]
    .iter()
    .map(|f| dir.join(f))
    .find(|p| p.is_file())
    .ok_or_else(|| {
        ultrares_core::Error::weights(
            dir.display().to_string(),
            "no diffusion_pytorch_model.safetensors (or .fp16.safetensors / .bin) in the folder",
        )
    })?;
    config.load(&StateDict::read(weights)?, device)
}
