//! The text towers of original single-file checkpoints (SD 1.x / 2.x, SDXL base and refiner,
//! SD3 / SD3.5 all-in-one files), under transformers' names, as diffusers' `from_single_file`
//! takes them (`diffusers/loaders/single_file_utils.py`: `convert_ldm_clip_checkpoint`,
//! `convert_open_clip_checkpoint`, `create_diffusers_t5_model_from_checkpoint`).
//!
//! | pipeline component | file prefix | layout |
//! |---|---|---|
//! | `text_encoder` | `conditioner.embedders.0.transformer.` (SDXL), `cond_stage_model.transformer.` (SD 1.x), `text_encoders.clip_l.transformer.` (SD3) | transformers |
//! | `text_encoder` | `cond_stage_model.model.` (SD 2.x) | OpenCLIP |
//! | `text_encoder_2` | `conditioner.embedders.1.model.` (SDXL), `conditioner.embedders.0.model.` (SDXL refiner) | OpenCLIP |
//! | `text_encoder_2` | `text_encoders.clip_g.transformer.` (SD3) | transformers |
//! | `text_encoder_3` | `text_encoders.t5xxl.transformer.` (SD3) | transformers |
//!
//! OpenCLIP names become transformers' as diffusers renames them:
//!
//! | OpenCLIP | transformers |
//! |---|---|
//! | `token_embedding.weight` | `text_model.embeddings.token_embedding.weight` |
//! | `positional_embedding` | `text_model.embeddings.position_embedding.weight` |
//! | `transformer.resblocks.{i}.ln_1` / `ln_2` | `text_model.encoder.layers.{i}.layer_norm1` / `layer_norm2` |
//! | `transformer.resblocks.{i}.attn.in_proj_{weight,bias}` | rows `[0, w)`, `[w, 2w)`, `[2w, 3w)` → `self_attn.{q,k,v}_proj.{weight,bias}` |
//! | `transformer.resblocks.{i}.attn.out_proj` | `self_attn.out_proj` |
//! | `transformer.resblocks.{i}.mlp.c_fc` / `c_proj` | `mlp.fc1` / `mlp.fc2` |
//! | `ln_final` | `text_model.final_layer_norm` |
//! | `text_projection` `[w, p]` (used as `x @ P`) | `text_projection.weight` `[p, w]` (transposed) |
//! | `logit_scale` | dropped |
//!
//! SD 2.x's file holds 24 layers and the projection; its `CLIPTextModel` has 23 layers
//! (penultimate-layer conditioning), so diffusers ignores `resblocks.23` and `text_projection`
//! there (`SD_2_TEXT_ENCODER_KEYS_TO_IGNORE`); so does this remap for that prefix, and only there.

use ultrares_nn::StateDict;

use crate::TextError;

/// Where a single file keeps one text tower.
struct Tower {
    prefix: &'static str,
    open_clip: bool,
}

const fn tower(prefix: &'static str, open_clip: bool) -> Tower {
    Tower { prefix, open_clip }
}

/// The SD 2.x prefix, whose surplus last layer and projection diffusers ignores.
const SD2_PREFIX: &str = "cond_stage_model.model.";

/// The places a pipeline component's tower can be, in the order they are tried.
fn towers(component: &str) -> &'static [Tower] {
    const TEXT_ENCODER: &[Tower] = &[
        tower("conditioner.embedders.0.transformer.", false),
        tower("cond_stage_model.transformer.", false),
        tower("text_encoders.clip_l.transformer.", false),
        tower(SD2_PREFIX, true),
    ];
    const TEXT_ENCODER_2: &[Tower] = &[
        tower("conditioner.embedders.1.model.", true),
        tower("conditioner.embedders.0.model.", true),
        tower("text_encoders.clip_g.transformer.", false),
    ];
    const TEXT_ENCODER_3: &[Tower] = &[tower("text_encoders.t5xxl.transformer.", false)];
    match component {
        "text_encoder" => TEXT_ENCODER,
        "text_encoder_2" => TEXT_ENCODER_2,
        "text_encoder_3" => TEXT_ENCODER_3,
        _ => &[],
    }
}

/// Whether `key` is a weight of tower `t` (not a stray buffer such as `logit_scale` or
/// `position_ids`, which files keep even when the tower was stripped).
fn is_weight(t: &Tower, key: &str) -> bool {
    key.strip_prefix(t.prefix)
        .is_some_and(|k| !k.ends_with("logit_scale") && !k.ends_with("position_ids"))
}

/// Whether the single file `sd` holds the tower of pipeline component `component`
/// (`text_encoder`, `text_encoder_2` or `text_encoder_3`).
pub fn has_single_file_text_encoder(sd: &StateDict, component: &str) -> bool {
    towers(component)
        .iter()
        .any(|t| sd.keys().any(|k| is_weight(t, k)))
}

/// The tower of pipeline component `component` (`text_encoder`, `text_encoder_2` or
/// `text_encoder_3`) in the single file `sd`, under transformers' names (see the module docs),
/// or `None` when the file has none. `num_layers` is the tower config's `num_hidden_layers`
/// (used for SD 2.x's surplus layer only). Nothing is read but OpenCLIP's `text_projection`.
///
/// # Errors
/// [`TextError::Model`] for a fused `in_proj` tensor whose rows are not three equal parts, or
/// an unreadable `text_projection`.
pub fn single_file_text_encoder(
    sd: &StateDict,
    component: &str,
    num_layers: usize,
) -> Result<Option<StateDict>, TextError> {
    let Some(t) = towers(component)
        .iter()
        .find(|t| sd.keys().any(|k| is_weight(t, k)))
    else {
        return Ok(None);
    };
    let strip = |k: &str| k.strip_prefix(t.prefix).map(str::to_string);
    if !t.open_clip {
        return Ok(Some(sd.renamed(strip)?));
    }
    let sd2 = t.prefix == SD2_PREFIX;
    let layer_of = |k: &str| {
        k.strip_prefix("transformer.resblocks.")?
            .split('.')
            .next()?
            .parse::<usize>()
            .ok()
    };
    let mut fused = Vec::new();
    let mut out = sd.renamed(|key| {
        let k = key.strip_prefix(t.prefix)?;
        if k == "logit_scale"
            || (sd2 && (k == "text_projection" || layer_of(k).is_some_and(|i| i >= num_layers)))
        {
            return None;
        }
        Some(match k {
            "token_embedding.weight" => "text_model.embeddings.token_embedding.weight".into(),
            "positional_embedding" => "text_model.embeddings.position_embedding.weight".into(),
            "text_projection" => "text_projection.weight".into(),
            _ => {
                if let Some(rest) = k.strip_prefix("ln_final.") {
                    format!("text_model.final_layer_norm.{rest}")
                } else if let Some(i) = layer_of(k) {
                    let rest = &k["transformer.resblocks.".len() + i.to_string().len() + 1..];
                    let layer = format!("text_model.encoder.layers.{i}");
                    match rest {
                        "attn.in_proj_weight" | "attn.in_proj_bias" => {
                            let name = format!("{layer}.in_proj.{}", &rest[13..]);
                            fused.push((
                                key.to_string(),
                                name.clone(),
                                layer,
                                rest[13..].to_string(),
                            ));
                            name
                        }
                        _ => {
                            let rest = [
                                ("ln_1.", "layer_norm1."),
                                ("ln_2.", "layer_norm2."),
                                ("attn.out_proj.", "self_attn.out_proj."),
                                ("mlp.c_fc.", "mlp.fc1."),
                                ("mlp.c_proj.", "mlp.fc2."),
                            ]
                            .iter()
                            .find_map(|(from, to)| {
                                rest.strip_prefix(from).map(|r| format!("{to}{r}"))
                            })
                            .unwrap_or_else(|| rest.to_string());
                            format!("{layer}.{rest}")
                        }
                    }
                } else {
                    // Unknown: kept under its OpenCLIP name, so the loader reports it.
                    key.to_string()
                }
            }
        })
    })?;
    for (key, name, layer, leaf) in fused {
        let rows = out
            .info(&name)
            .and_then(|i| i.shape.first().copied())
            .unwrap_or(0);
        if rows == 0 || rows % 3 != 0 {
            return Err(TextError::from(out.error(format!(
                "{key}: {rows} rows, expected 3 × the width (q, k, v)"
            ))));
        }
        let w = rows / 3;
        for (i, proj) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
            let rows = i * w..(i + 1) * w;
            out.select_rows(
                &name,
                format!("{layer}.self_attn.{proj}.{leaf}"),
                std::slice::from_ref(&rows),
            )?;
        }
        out.remove(&name);
    }
    if out.contains("text_projection.weight") {
        out.transpose("text_projection.weight")?;
    }
    Ok(Some(out))
}

/// Where a pipeline's tokenizers and text towers are read: a diffusers pipeline folder (configs,
/// tokenizers, and the towers' weights) and, optionally, an original single-file checkpoint whose
/// towers take the place of the folder's weights (diffusers' `from_single_file(file,
/// config=dir)`); a tower the file lacks comes from the folder.
#[derive(Debug, Clone, Copy)]
pub struct PipelineSource<'a> {
    /// The diffusers pipeline folder.
    pub dir: &'a std::path::Path,
    /// The weight variant of the folder's files (`fp16` → `model.fp16.safetensors`).
    pub variant: Option<&'a str>,
    /// An original single-file checkpoint (see [`single_file_text_encoder`]).
    pub single_file: Option<&'a StateDict>,
}

impl<'a> PipelineSource<'a> {
    /// The folder `dir` alone.
    pub fn folder(dir: &'a std::path::Path, variant: Option<&'a str>) -> Self {
        Self {
            dir,
            variant,
            single_file: None,
        }
    }

    /// The weights of tower `name` (`text_encoder`, …) whose config has `num_layers` layers:
    /// from the single file when it holds that tower, else `name/model[.variant].safetensors`.
    pub(crate) fn weights(&self, name: &str, num_layers: usize) -> Result<StateDict, TextError> {
        if let Some(sf) = self.single_file
            && let Some(sd) = single_file_text_encoder(sf, name, num_layers)?
        {
            return Ok(sd);
        }
        crate::sdxl_prompt::component_weights(self.dir, name, self.variant)
    }
}
