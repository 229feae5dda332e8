//! The original Stable Diffusion names (LDM/SGM: `sd_xl_base_1.0.safetensors`,
//! `v1-5-pruned-emaonly.safetensors`, kohya LoRA files) of a UNet's tensors: the inverse of
//! diffusers' `convert_ldm_unet_checkpoint` (`diffusers/loaders/single_file_utils.py`), computed
//! from the model's structure, so any block layout maps.
//!
//! `conv_in` ↔ `input_blocks.0.0`; down block `b`, layer `j` ↔ `input_blocks.{s_b + j}.{0
//! resnet | 1 attention}`, its downsampler ↔ `input_blocks.{s_b + L_b}.0.op`; the mid block ↔
//! `middle_block.{0,1,2}`; up block `b`, layer `j` ↔ `output_blocks.{u_b + j}.{0 | 1}`, its
//! upsampler ↔ `output_blocks.{u_b + U_b − 1}.{2 with attentions | 1}.conv`; resnets' `norm1,
//! conv1, time_emb_proj, norm2, conv2, conv_shortcut` ↔ `in_layers.0, in_layers.2,
//! emb_layers.1, out_layers.0, out_layers.3, skip_connection`; the embeddings ↔ `time_embed.{0,2}`
//! and `label_emb.0.{0,2}`; `conv_norm_out`, `conv_out` ↔ `out.0`, `out.2`.

use std::collections::BTreeMap;

use burn::module::{Param, RunningState};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::StateDict;
use ultrares_nn::weights::Visitor;

use crate::config::UNet2DConditionConfig;
use crate::unet::UNet2DConditionModel;
use crate::{Result, UnetError};

/// Prefix of the UNet's tensors in an SD/SDXL single-file checkpoint.
pub const LDM_UNET_PREFIX: &str = "model.diffusion_model.";

/// Records every tensor key a model visits.
#[derive(Default)]
pub(crate) struct Keys(pub Vec<String>);

impl<B: Backend> Visitor<B> for Keys {
    fn param<const D: usize>(&mut self, key: &str, _: &mut Param<Tensor<B, D>>) {
        self.0.push(key.to_string());
    }
    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        self.0.push(format!("{prefix}.weight"));
        if linear.bias.is_some() {
            self.0.push(format!("{prefix}.bias"));
        }
    }
    fn running<const D: usize>(&mut self, key: &str, _: &mut RunningState<Tensor<B, D>>) {
        self.0.push(key.to_string());
    }
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

/// Block layout needed for the LDM numbering.
pub(crate) struct Layout {
    /// First `input_blocks` index and resnet count of each down block, whether it downsamples.
    down: Vec<(usize, usize)>,
    /// First `output_blocks` index and resnet count of each up block, whether it has attentions.
    up: Vec<(usize, usize, bool)>,
}

impl Layout {
    pub(crate) fn of<B: Backend>(m: &UNet2DConditionModel<B>) -> Self {
        let mut start = 1;
        let down = m
            .down_blocks
            .iter()
            .map(|b| {
                let s = start;
                start += b.resnets.len() + b.downsamplers.len();
                (s, b.resnets.len())
            })
            .collect();
        let mut start = 0;
        let up = m
            .up_blocks
            .iter()
            .map(|b| {
                let s = start;
                start += b.resnets.len();
                (s, b.resnets.len(), !b.attentions.is_empty())
            })
            .collect();
        Self { down, up }
    }

    /// The LDM module path of diffusers module path `name`, if it is one of the UNet's.
    pub(crate) fn module(&self, name: &str) -> Option<String> {
        const TOP: [(&str, &str); 7] = [
            ("conv_in", "input_blocks.0.0"),
            ("time_embedding.linear_1", "time_embed.0"),
            ("time_embedding.linear_2", "time_embed.2"),
            ("add_embedding.linear_1", "label_emb.0.0"),
            ("add_embedding.linear_2", "label_emb.0.2"),
            ("conv_norm_out", "out.0"),
            ("conv_out", "out.2"),
        ];
        for (d, l) in TOP {
            if name == d {
                return Some(l.to_string());
            }
        }
        let parts: Vec<&str> = name.split('.').collect();
        let resnet = |rest: &[&str]| -> Option<String> {
            let sub = match *rest.first()? {
                "norm1" => "in_layers.0",
                "conv1" => "in_layers.2",
                "time_emb_proj" => "emb_layers.1",
                "norm2" => "out_layers.0",
                "conv2" => "out_layers.3",
                "conv_shortcut" => "skip_connection",
                _ => return None,
            };
            Some(
                std::iter::once(sub)
                    .chain(rest[1..].iter().copied())
                    .collect::<Vec<_>>()
                    .join("."),
            )
        };
        let join = |head: String, rest: &[&str]| {
            std::iter::once(head.as_str())
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(".")
        };
        let index = |s: &str| s.parse::<usize>().ok();
        match parts.as_slice() {
            ["down_blocks", b, kind, j, rest @ ..] => {
                let (start, n) = *self.down.get(index(b)?)?;
                let j = index(j)?;
                match *kind {
                    "resnets" => Some(format!("input_blocks.{}.0.{}", start + j, resnet(rest)?)),
                    "attentions" => Some(join(format!("input_blocks.{}.1", start + j), rest)),
                    "downsamplers" if rest.first() == Some(&"conv") => {
                        Some(join(format!("input_blocks.{}.0.op", start + n), &rest[1..]))
                    }
                    _ => None,
                }
            }
            ["mid_block", kind, j, rest @ ..] => match (*kind, index(j)?) {
                ("resnets", j) if j < 2 => {
                    Some(format!("middle_block.{}.{}", 2 * j, resnet(rest)?))
                }
                ("attentions", 0) => Some(join("middle_block.1".into(), rest)),
                _ => None,
            },
            ["up_blocks", b, kind, j, rest @ ..] => {
                let (start, n, attn) = *self.up.get(index(b)?)?;
                let j = index(j)?;
                match *kind {
                    "resnets" => Some(format!("output_blocks.{}.0.{}", start + j, resnet(rest)?)),
                    "attentions" => Some(join(format!("output_blocks.{}.1", start + j), rest)),
                    "upsamplers" if rest.first() == Some(&"conv") => Some(join(
                        format!(
                            "output_blocks.{}.{}.conv",
                            start + n - 1,
                            if attn { 2 } else { 1 }
                        ),
                        &rest[1..],
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl<B: Backend> UNet2DConditionModel<B> {
    /// `(LDM key, diffusers key)` of every tensor, e.g.
    /// `("input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight",
    /// "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight")` (without
    /// [`LDM_UNET_PREFIX`]).
    pub fn ldm_names(&self) -> Vec<(String, String)> {
        let layout = Layout::of(self);
        let mut keys = Keys::default();
        self.clone().walk(&mut keys);
        keys.0
            .into_iter()
            .filter_map(|k| {
                let (module, leaf) = k.rsplit_once('.')?;
                Some((format!("{}.{leaf}", layout.module(module)?), k))
            })
            .collect()
    }

    /// The UNet of an SD/SDXL single-file checkpoint (`sd_xl_base_1.0.safetensors`: tensors
    /// under [`LDM_UNET_PREFIX`], renamed as diffusers' `from_single_file` does; the other
    /// components' tensors are ignored), in `dtype`.
    ///
    /// # Errors
    /// [`UnetError::Model`] listing missing, mis-shaped or unknown UNet keys.
    pub fn load_single_file(
        cfg: &UNet2DConditionConfig,
        sd: &StateDict,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        let map: BTreeMap<String, String> =
            cfg.init::<B>(device)?.ldm_names().into_iter().collect();
        if !sd.keys().any(|k| k.starts_with(LDM_UNET_PREFIX)) {
            return Err(UnetError::from(sd.error(format!(
                "no UNet tensors (keys starting with {LDM_UNET_PREFIX:?}): not an SD/SDXL single-file checkpoint"
            ))));
        }
        let renamed = sd.renamed(|k| {
            let rest = k.strip_prefix(LDM_UNET_PREFIX)?;
            Some(map.get(rest).cloned().unwrap_or_else(|| k.to_string()))
        })?;
        Self::load(cfg, &renamed, dtype, device)
    }
}
