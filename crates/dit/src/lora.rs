//! LoRA files merged into SD3/SD3.5 and Flux transformers (diffusers' `load_lora_weights` +
//! `fuse_lora`), through `ultrares_nn::lora`: `W' = W + scale · (alpha / r) · (up · down)`.
//!
//! Layouts, resolved per module:
//! * diffusers/PEFT (`transformer.<diffusers path>.lora_A.weight` / `.lora_B.weight`, as
//!   diffusers' training scripts and ai-toolkit save them), with or without the prefix;
//! * kohya with diffusers paths (`lora_transformer_<path with underscores>.lora_down.weight`);
//! * the original layouts (kohya sd-scripts: `lora_unet_double_blocks_0_img_attn_qkv`,
//!   `lora_unet_joint_blocks_0_x_block_attn_qkv`; ComfyUI: `diffusion_model.double_blocks.0…
//!   .lora_A.weight`): a fused layer's `up` rows go to the layers diffusers splits it into
//!   (`qkv` → q, k, v; Flux's `linear1` → q, k, v, `proj_mlp`), the down factor shared — the
//!   same products diffusers' `_convert_kohya_flux_lora_to_diffusers` forms — through the
//!   single-file mapping table ([`crate::sd3_from_original`]).
//!
//! Text-encoder tensors (`text_encoder…`, `lora_te…`) are listed by
//! [`DitLora::text_encoder_keys`], not merged. Every module that matches no transformer layer, and
//! every mis-shaped one, is listed in one error before any weight changes.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use ultrares_nn::StateDict;
use ultrares_nn::lora::{LoraFile, LoraLayout, LoraMerge, LoraTarget, WeightShapes, check_targets};

use crate::config::{FluxTransformerConfig, Sd3TransformerConfig};
use crate::single_file::{Entry, flux_table, sd3_table};
use crate::{DitError, FluxTransformer2DModel, Result, Sd3Transformer2DModel};

const LAYOUT: LoraLayout<'static> = LoraLayout {
    kohya: &["lora_unet_", "lora_transformer_"],
    peft: &["transformer.", "model.diffusion_model.", "diffusion_model."],
    others: &["text_encoder", "lora_te"],
    peft_unprefixed: true,
};

/// A LoRA file's transformer modules (see the module docs).
#[derive(Debug, Clone)]
pub struct DitLora {
    file: LoraFile,
}

impl DitLora {
    /// Reads a `.safetensors` LoRA file.
    ///
    /// # Errors
    /// As [`DitLora::from_state_dict`], and unreadable files.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_state_dict(&StateDict::read(path.as_ref())?)
    }

    /// The LoRA pairs of `sd`.
    ///
    /// # Errors
    /// [`DitError::Model`] for LoHa/LoKr/DoRA tensors, unpaired or rank-mismatched factors, or
    /// no transformer pair at all.
    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let file = LoraFile::from_state_dict(sd, &LAYOUT)?;
        if file.pairs.is_empty() {
            return Err(DitError::from(file.error("no transformer LoRA pairs")));
        }
        Ok(Self { file })
    }

    /// Text-encoder tensors the file also holds (not merged).
    pub fn text_encoder_keys(&self) -> &[String] {
        &self.file.others
    }

    /// Transformer module pairs in the file.
    pub fn len(&self) -> usize {
        self.file.pairs.len()
    }

    /// Whether the file has no pairs (never true for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.file.pairs.is_empty()
    }

    /// Merges every pair into the SD3 model of `cfg` at `scale`.
    ///
    /// # Errors
    /// [`DitError::Model`] listing unmatched or mis-shaped modules (nothing changes then).
    pub fn merge_into_sd3<B: Backend>(
        &self,
        model: &mut Sd3Transformer2DModel<B>,
        cfg: &Sd3TransformerConfig,
        scale: f64,
    ) -> Result<()> {
        let mut shapes = WeightShapes::default();
        model.clone().walk(&mut shapes);
        let targets = self.targets(&shapes, &sd3_table(cfg))?;
        model.walk(&mut LoraMerge {
            file: &self.file,
            targets,
            scale,
        });
        Ok(())
    }

    /// Merges every pair into the Flux model of `cfg` at `scale`.
    ///
    /// # Errors
    /// [`DitError::Model`] listing unmatched or mis-shaped modules (nothing changes then).
    pub fn merge_into_flux<B: Backend>(
        &self,
        model: &mut FluxTransformer2DModel<B>,
        cfg: &FluxTransformerConfig,
        scale: f64,
    ) -> Result<()> {
        let mut shapes = WeightShapes::default();
        model.clone().walk(&mut shapes);
        let targets = self.targets(&shapes, &flux_table(cfg))?;
        model.walk(&mut LoraMerge {
            file: &self.file,
            targets,
            scale,
        });
        Ok(())
    }

    /// Each layer's pair: by its diffusers path (dots or underscores), or through the original
    /// layout's table (whole layers and row ranges of fused ones).
    fn targets(
        &self,
        shapes: &WeightShapes,
        table: &[Entry],
    ) -> Result<BTreeMap<String, LoraTarget>> {
        let find = |name: &str| {
            [name.to_string(), name.replace('.', "_")]
                .into_iter()
                .find(|n| self.file.pairs.contains_key(n))
        };
        let mut targets = BTreeMap::new();
        for key in shapes.0.keys() {
            if let Some(module) = key.strip_suffix(".weight")
                && let Some(pair) = find(module)
            {
                targets.insert(module.to_string(), LoraTarget { pair, rows: None });
            }
        }
        for e in table.iter().filter(|e| e.linear) {
            if let Some(pair) = find(&e.from) {
                for (to, rows) in &e.to {
                    targets.insert(
                        to.clone(),
                        LoraTarget {
                            pair: pair.clone(),
                            rows: rows.clone(),
                        },
                    );
                }
            }
        }
        check_targets(&self.file, &targets, shapes, "transformer layer")?;
        Ok(targets)
    }
}
