//! Original-format checkpoints: Stability AI's SD3/SD3.5 files (`sd3_medium.safetensors`,
//! `sd3.5_large.safetensors`; ComfyUI's names) and Black Forest Labs' Flux files
//! (`flux1-dev.safetensors`), mapped to diffusers' names exactly as diffusers'
//! `from_single_file` converters do (`loaders/single_file_utils.py`:
//! `convert_sd3_transformer_checkpoint_to_diffusers`,
//! `convert_flux_transformer_checkpoint_to_diffusers`, 0.36), without reading any tensor:
//! renames, fused `qkv` (and Flux's `linear1` = `[q, k, v, mlp]`) split by rows, and the final
//! (and SD3's last context) modulation swapped from `[shift, scale]` to `[scale, shift]`
//! ([`StateDict::select_rows`]).
//!
//! Keys under `model.diffusion_model.` are taken (all-in-one files also carry text encoders and
//! a VAE, which are dropped); files without that prefix are taken as they are. Config values are
//! read from the tensor shapes where the caller gives none ([`sd3_config_of`],
//! [`flux_config_of`]).
//!
//! SD3 (original → diffusers, block `i`, `x` = `x_block`, `c` = `context_block`):
//!
//! | original | diffusers |
//! |---|---|
//! | `pos_embed`, `x_embedder.proj` | `pos_embed.pos_embed`, `pos_embed.proj` |
//! | `t_embedder.mlp.{0,2}`, `y_embedder.mlp.{0,2}` | `time_text_embed.{timestep,text}_embedder.linear_{1,2}` |
//! | `joint_blocks.i.{x,c}.attn.qkv` | `attn.{to_q,to_k,to_v}`, `attn.add_{q,k,v}_proj` (rows split in 3) |
//! | `….{x,c}.attn.ln_{q,k}` | `attn.norm_{q,k}`, `attn.norm_added_{q,k}` |
//! | `….x.attn.proj`, `….c.attn.proj` | `attn.to_out.0`, `attn.to_add_out` |
//! | `….x.attn2.{qkv,ln_q,ln_k,proj}` | `attn2.{to_q,to_k,to_v,norm_q,norm_k,to_out.0}` |
//! | `….{x,c}.adaLN_modulation.1` | `norm1.linear`, `norm1_context.linear` (last block: swapped) |
//! | `….{x,c}.mlp.fc{1,2}` | `ff.net.{0.proj,2}`, `ff_context.net.{0.proj,2}` |
//! | `final_layer.linear`, `final_layer.adaLN_modulation.1` | `proj_out`, `norm_out.linear` (swapped) |
//!
//! Flux: `img_in`/`txt_in` → `x_embedder`/`context_embedder`; `{time,vector,guidance}_in.
//! {in,out}_layer` → `time_text_embed.{timestep,text,guidance}_embedder.linear_{1,2}`;
//! `double_blocks.i.{img,txt}_mod.lin` → `norm1[_context].linear`, `….{img,txt}_attn.qkv` → q/k/v
//! as SD3, `….{img,txt}_attn.norm.{query,key}_norm.scale` → `attn.norm_[added_]{q,k}.weight`,
//! `….{img,txt}_attn.proj` → `attn.to_out.0` / `to_add_out`, `….{img,txt}_mlp.{0,2}` →
//! `ff[_context].net.{0.proj,2}`; `single_blocks.i.modulation.lin` → `norm.linear`,
//! `linear1` → `attn.to_{q,k,v}` + `proj_mlp` (rows `D, D, D, 4D`),
//! `norm.{query,key}_norm.scale` → `attn.norm_{q,k}.weight`, `linear2` → `proj_out`;
//! `final_layer` as SD3.

use std::collections::HashMap;
use std::ops::Range;

use ultrares_nn::StateDict;

use crate::config::{FluxTransformerConfig, Sd3TransformerConfig};
use crate::{DitError, Result};

/// The prefix of the diffusion model's keys in original all-in-one checkpoints.
pub const SINGLE_FILE_PREFIX: &str = "model.diffusion_model.";

/// One mapping of the original layout: the tensor `from` (a layer prefix when `linear`, for its
/// `.weight` and `.bias`) gives each diffusers tensor `to.0` — whole, or the rows `to.1`
/// (concatenated) of a fused tensor.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) from: String,
    pub(crate) to: Vec<(String, Option<Vec<Range<usize>>>)>,
    pub(crate) linear: bool,
}

/// The mapping table being built from a config.
#[derive(Default)]
struct Table(Vec<Entry>);

impl Table {
    /// A layer renamed (`.weight` and `.bias`).
    fn linear(&mut self, from: &str, to: &str) {
        self.0.push(Entry {
            from: from.into(),
            to: vec![(to.into(), None)],
            linear: true,
        });
    }

    /// A single tensor renamed.
    fn key(&mut self, from: &str, to: &str) {
        self.0.push(Entry {
            from: from.into(),
            to: vec![(to.into(), None)],
            linear: false,
        });
    }

    /// A fused layer split by rows into layers of `sizes[j]` rows.
    fn split(&mut self, from: &str, to: &[String], sizes: &[usize]) {
        let mut at = 0;
        let to = to
            .iter()
            .zip(sizes)
            .map(|(t, &n)| {
                at += n;
                #[allow(clippy::single_range_in_vec_init)] // one range of rows, not its elements
                let rows = vec![at - n..at];
                (t.clone(), Some(rows))
            })
            .collect();
        self.0.push(Entry {
            from: from.into(),
            to,
            linear: true,
        });
    }

    /// A `[shift, scale]` modulation of `2·d` rows swapped to `[scale, shift]`.
    fn swap(&mut self, from: &str, to: &str, d: usize) {
        self.0.push(Entry {
            from: from.into(),
            to: vec![(to.into(), Some(vec![d..2 * d, 0..d]))],
            linear: true,
        });
    }
}

/// `sd` with its diffusion-model keys (the `model.diffusion_model.` prefix stripped when the file
/// has it).
fn strip(sd: &StateDict) -> Result<StateDict> {
    if sd.keys().any(|k| k.starts_with(SINGLE_FILE_PREFIX)) {
        Ok(sd.renamed(|k| k.strip_prefix(SINGLE_FILE_PREFIX).map(str::to_string))?)
    } else {
        Ok(sd.clone())
    }
}

/// Applies `table` to `sd` without reading tensors; every original key the table needs and
/// `sd` lacks is listed in one error.
fn apply(sd: &StateDict, table: &[Entry]) -> Result<StateDict> {
    let mut sd = strip(sd)?;
    let mut renames = HashMap::new();
    let mut missing = Vec::new();
    let mut fused = Vec::new();
    for e in table {
        let suffixes: &[&str] = if e.linear {
            &[".weight", ".bias"]
        } else {
            &[""]
        };
        for sfx in suffixes {
            let from = format!("{}{sfx}", e.from);
            if !sd.contains(&from) {
                missing.push(from);
                continue;
            }
            for (to, rows) in &e.to {
                let to = format!("{to}{sfx}");
                match rows {
                    None => {
                        renames.insert(from.clone(), to);
                    }
                    Some(rows) => {
                        if let Err(err) = sd.select_rows(&from, to, rows) {
                            missing.push(err.to_string());
                        }
                        fused.push(from.clone());
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        let n = missing.len();
        let shown: Vec<&String> = missing.iter().take(8).collect();
        return Err(sd
            .error(format!(
                "{n} keys of the original layout missing {shown:?}{}",
                if n > 8 { " …" } else { "" }
            ))
            .into());
    }
    for f in fused {
        sd.remove(&f);
    }
    Ok(sd.renamed(|k| Some(renames.get(k).cloned().unwrap_or_else(|| k.to_string())))?)
}

fn count_blocks(sd: &StateDict, prefix: &str) -> usize {
    sd.keys()
        .filter_map(|k| {
            k.strip_prefix(prefix)?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

fn dim(sd: &StateDict, key: &str, axis: usize) -> Result<usize> {
    sd.info(key)
        .and_then(|i| i.shape.get(axis).copied())
        .ok_or_else(|| {
            DitError::from(sd.error(format!(
                "no {key} to read the configuration from (not an SD3/Flux checkpoint?)"
            )))
        })
}

/// The config of an original SD3/SD3.5 checkpoint, read from its shapes as diffusers'
/// converter does (heads of 64, `sample_size` 128).
///
/// # Errors
/// [`DitError::Model`] if a tensor the config is read from is missing.
pub fn sd3_config_of(sd: &StateDict) -> Result<Sd3TransformerConfig> {
    let sd = strip(sd)?;
    let d = dim(&sd, "x_embedder.proj.weight", 0)?;
    let patch = dim(&sd, "x_embedder.proj.weight", 2)?;
    let table = dim(&sd, "pos_embed", 1)?;
    let n = count_blocks(&sd, "joint_blocks.");
    let cfg = Sd3TransformerConfig {
        sample_size: 128,
        patch_size: patch,
        in_channels: dim(&sd, "x_embedder.proj.weight", 1)?,
        out_channels: dim(&sd, "final_layer.linear.weight", 0)? / (patch * patch).max(1),
        num_layers: n,
        attention_head_dim: 64,
        num_attention_heads: d / 64,
        joint_attention_dim: dim(&sd, "context_embedder.weight", 1)?,
        caption_projection_dim: d,
        pooled_projection_dim: dim(&sd, "y_embedder.mlp.0.weight", 1)?,
        pos_embed_max_size: (table as f64).sqrt().round() as usize,
        dual_attention_layers: (0..n)
            .filter(|i| sd.contains(&format!("joint_blocks.{i}.x_block.attn2.qkv.weight")))
            .collect(),
        qk_norm: sd.contains("joint_blocks.0.x_block.attn.ln_q.weight"),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// The SD3/SD3.5 mapping table of `cfg` (see the module docs).
pub(crate) fn sd3_table(cfg: &Sd3TransformerConfig) -> Vec<Entry> {
    let d = cfg.inner_dim();
    let mut r = Table::default();
    r.key("pos_embed", "pos_embed.pos_embed");
    r.linear("x_embedder.proj", "pos_embed.proj");
    for (from, to) in [
        ("t_embedder", "timestep_embedder"),
        ("y_embedder", "text_embedder"),
    ] {
        r.linear(
            &format!("{from}.mlp.0"),
            &format!("time_text_embed.{to}.linear_1"),
        );
        r.linear(
            &format!("{from}.mlp.2"),
            &format!("time_text_embed.{to}.linear_2"),
        );
    }
    r.linear("context_embedder", "context_embedder");
    let n = cfg.num_layers;
    for i in 0..n {
        let (o, t) = (
            format!("joint_blocks.{i}"),
            format!("transformer_blocks.{i}"),
        );
        let names = |names: [&str; 3]| names.map(|x| format!("{t}.{x}"));
        r.split(
            &format!("{o}.x_block.attn.qkv"),
            &names(["attn.to_q", "attn.to_k", "attn.to_v"]),
            &[d; 3],
        );
        r.split(
            &format!("{o}.context_block.attn.qkv"),
            &names(["attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"]),
            &[d; 3],
        );
        if cfg.qk_norm {
            for (from, to) in [
                ("x_block.attn.ln_q", "attn.norm_q"),
                ("x_block.attn.ln_k", "attn.norm_k"),
                ("context_block.attn.ln_q", "attn.norm_added_q"),
                ("context_block.attn.ln_k", "attn.norm_added_k"),
            ] {
                r.key(&format!("{o}.{from}.weight"), &format!("{t}.{to}.weight"));
            }
        }
        for (from, to) in [
            ("x_block.attn.proj", "attn.to_out.0"),
            ("x_block.adaLN_modulation.1", "norm1.linear"),
            ("x_block.mlp.fc1", "ff.net.0.proj"),
            ("x_block.mlp.fc2", "ff.net.2"),
        ] {
            r.linear(&format!("{o}.{from}"), &format!("{t}.{to}"));
        }
        if i + 1 == n {
            r.swap(
                &format!("{o}.context_block.adaLN_modulation.1"),
                &format!("{t}.norm1_context.linear"),
                d,
            );
        } else {
            for (from, to) in [
                ("context_block.attn.proj", "attn.to_add_out"),
                ("context_block.adaLN_modulation.1", "norm1_context.linear"),
                ("context_block.mlp.fc1", "ff_context.net.0.proj"),
                ("context_block.mlp.fc2", "ff_context.net.2"),
            ] {
                r.linear(&format!("{o}.{from}"), &format!("{t}.{to}"));
            }
        }
        if cfg.dual_attention_layers.contains(&i) {
            r.split(
                &format!("{o}.x_block.attn2.qkv"),
                &names(["attn2.to_q", "attn2.to_k", "attn2.to_v"]),
                &[d; 3],
            );
            if cfg.qk_norm {
                for k in ["q", "k"] {
                    r.key(
                        &format!("{o}.x_block.attn2.ln_{k}.weight"),
                        &format!("{t}.attn2.norm_{k}.weight"),
                    );
                }
            }
            r.linear(
                &format!("{o}.x_block.attn2.proj"),
                &format!("{t}.attn2.to_out.0"),
            );
        }
    }
    r.linear("final_layer.linear", "proj_out");
    r.swap("final_layer.adaLN_modulation.1", "norm_out.linear", d);
    r.0
}

/// An original SD3/SD3.5 checkpoint under diffusers' names, for `cfg`.
///
/// # Errors
/// [`DitError::Model`] listing the original keys the mapping needs and the file lacks.
pub fn sd3_from_original(sd: &StateDict, cfg: &Sd3TransformerConfig) -> Result<StateDict> {
    apply(sd, &sd3_table(cfg))
}

/// The config of an original Flux checkpoint, read from its shapes (heads of 128 and RoPE axes
/// (16, 56, 56) as FLUX.1; `guidance_embeds` when `guidance_in` is present).
///
/// # Errors
/// [`DitError::Model`] if a tensor the config is read from is missing.
pub fn flux_config_of(sd: &StateDict) -> Result<FluxTransformerConfig> {
    let sd = strip(sd)?;
    let d = dim(&sd, "img_in.weight", 0)?;
    let cfg = FluxTransformerConfig {
        in_channels: dim(&sd, "img_in.weight", 1)?,
        out_channels: dim(&sd, "final_layer.linear.weight", 0)?,
        num_layers: count_blocks(&sd, "double_blocks."),
        num_single_layers: count_blocks(&sd, "single_blocks."),
        attention_head_dim: 128,
        num_attention_heads: d / 128,
        joint_attention_dim: dim(&sd, "txt_in.weight", 1)?,
        pooled_projection_dim: dim(&sd, "vector_in.in_layer.weight", 1)?,
        guidance_embeds: sd.contains("guidance_in.in_layer.weight"),
        axes_dims_rope: vec![16, 56, 56],
    };
    cfg.validate()?;
    Ok(cfg)
}

/// The Flux mapping table of `cfg` (see the module docs).
pub(crate) fn flux_table(cfg: &FluxTransformerConfig) -> Vec<Entry> {
    let d = cfg.inner_dim();
    let mut r = Table::default();
    let mut embedders = vec![
        ("time_in", "timestep_embedder"),
        ("vector_in", "text_embedder"),
    ];
    if cfg.guidance_embeds {
        embedders.push(("guidance_in", "guidance_embedder"));
    }
    for (from, to) in embedders {
        r.linear(
            &format!("{from}.in_layer"),
            &format!("time_text_embed.{to}.linear_1"),
        );
        r.linear(
            &format!("{from}.out_layer"),
            &format!("time_text_embed.{to}.linear_2"),
        );
    }
    r.linear("txt_in", "context_embedder");
    r.linear("img_in", "x_embedder");
    for i in 0..cfg.num_layers {
        let (o, t) = (
            format!("double_blocks.{i}"),
            format!("transformer_blocks.{i}"),
        );
        r.linear(&format!("{o}.img_mod.lin"), &format!("{t}.norm1.linear"));
        r.linear(
            &format!("{o}.txt_mod.lin"),
            &format!("{t}.norm1_context.linear"),
        );
        for (stream, names) in [
            ("img", ["to_q", "to_k", "to_v"]),
            ("txt", ["add_q_proj", "add_k_proj", "add_v_proj"]),
        ] {
            let to = names.map(|n| format!("{t}.attn.{n}"));
            r.split(&format!("{o}.{stream}_attn.qkv"), &to, &[d; 3]);
        }
        for (from, to) in [
            ("img_attn.norm.query_norm", "attn.norm_q"),
            ("img_attn.norm.key_norm", "attn.norm_k"),
            ("txt_attn.norm.query_norm", "attn.norm_added_q"),
            ("txt_attn.norm.key_norm", "attn.norm_added_k"),
        ] {
            r.key(&format!("{o}.{from}.scale"), &format!("{t}.{to}.weight"));
        }
        for (from, to) in [
            ("img_mlp.0", "ff.net.0.proj"),
            ("img_mlp.2", "ff.net.2"),
            ("txt_mlp.0", "ff_context.net.0.proj"),
            ("txt_mlp.2", "ff_context.net.2"),
            ("img_attn.proj", "attn.to_out.0"),
            ("txt_attn.proj", "attn.to_add_out"),
        ] {
            r.linear(&format!("{o}.{from}"), &format!("{t}.{to}"));
        }
    }
    for i in 0..cfg.num_single_layers {
        let (o, t) = (
            format!("single_blocks.{i}"),
            format!("single_transformer_blocks.{i}"),
        );
        r.linear(&format!("{o}.modulation.lin"), &format!("{t}.norm.linear"));
        let to = ["attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"].map(|n| format!("{t}.{n}"));
        r.split(&format!("{o}.linear1"), &to, &[d, d, d, 4 * d]);
        r.key(
            &format!("{o}.norm.query_norm.scale"),
            &format!("{t}.attn.norm_q.weight"),
        );
        r.key(
            &format!("{o}.norm.key_norm.scale"),
            &format!("{t}.attn.norm_k.weight"),
        );
        r.linear(&format!("{o}.linear2"), &format!("{t}.proj_out"));
    }
    r.linear("final_layer.linear", "proj_out");
    r.swap("final_layer.adaLN_modulation.1", "norm_out.linear", d);
    r.0
}

/// An original (BFL) Flux checkpoint under diffusers' names, for `cfg`.
///
/// # Errors
/// [`DitError::Model`] listing the original keys the mapping needs and the file lacks.
pub fn flux_from_original(sd: &StateDict, cfg: &FluxTransformerConfig) -> Result<StateDict> {
    apply(sd, &flux_table(cfg))
}

impl<B: burn::prelude::Backend> crate::Sd3Transformer2DModel<B> {
    /// An original SD3/SD3.5 single-file checkpoint (`.safetensors`, all-in-one files included),
    /// with `cfg` or the config read from its shapes ([`sd3_config_of`]).
    ///
    /// # Errors
    /// As [`sd3_from_original`] and [`load`](Self::load).
    pub fn load_single_file(
        path: &std::path::Path,
        cfg: Option<&Sd3TransformerConfig>,
        dtype: burn::tensor::DType,
        device: &B::Device,
    ) -> Result<(Sd3TransformerConfig, Self)> {
        let sd = StateDict::read(path)?;
        let cfg = match cfg {
            Some(c) => c.clone(),
            None => sd3_config_of(&sd)?,
        };
        let model = Self::load(&cfg, &sd3_from_original(&sd, &cfg)?, dtype, device)?;
        Ok((cfg, model))
    }
}

impl<B: burn::prelude::Backend> crate::FluxTransformer2DModel<B> {
    /// An original (BFL) Flux single-file checkpoint, with `cfg` or the config read from its
    /// shapes ([`flux_config_of`]).
    ///
    /// # Errors
    /// As [`flux_from_original`] and [`load`](Self::load).
    pub fn load_single_file(
        path: &std::path::Path,
        cfg: Option<&FluxTransformerConfig>,
        dtype: burn::tensor::DType,
        device: &B::Device,
    ) -> Result<(FluxTransformerConfig, Self)> {
        let sd = StateDict::read(path)?;
        let cfg = match cfg {
            Some(c) => c.clone(),
            None => flux_config_of(&sd)?,
        };
        let model = Self::load(&cfg, &flux_from_original(&sd, &cfg)?, dtype, device)?;
        Ok((cfg, model))
    }
}
