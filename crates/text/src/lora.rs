//! LoRA pairs merged into the CLIP text towers, as diffusers' `load_lora_weights` +
//! `fuse_lora(lora_scale=scale)` treat a pipeline's `text_encoder` and `text_encoder_2` (Hu et
//! al., *LoRA*, ICLR 2022): `W' = W + scale · (alpha / r) · (up · down)` on the attention
//! projections and MLP layers, through `ultrares_nn::lora`.
//!
//! Layouts, per tower ([`ClipLoraTower`]): kohya/A1111
//! (`lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight`, `.lora_up.weight`,
//! `.alpha`; `lora_te_…` in SD 1.5 files; `lora_te2_…` for the second tower) and diffusers/PEFT
//! (`text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight`, `.lora_B.weight`;
//! `text_encoder_2.…`; alpha = rank unless an `.alpha` tensor is given). Module paths as
//! transformers 4 writes them (`text_model.encoder.layers.…`) or as transformers 5 does
//! (`encoder.layers.…`). Tensors of the other
//! tower and of other models (`lora_unet_…`, `unet.…`, `transformer.…`) are skipped. Every pair of
//! the tower that matches no layer, or has another shape than its layer, is listed in one error
//! before any weight changes.

use std::collections::BTreeMap;

use burn::prelude::*;
use ultrares_nn::StateDict;
use ultrares_nn::lora::{
    LoraFile, LoraLayout, LoraMerge, LoraTarget, WeightShapes, check_targets, targets_by_name,
};

use crate::{ClipTextModel, TextError};

/// Which CLIP tower of a pipeline a LoRA file's pairs are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipLoraTower {
    /// `text_encoder` (SDXL's and SD3's CLIP ViT-L/14, SD 1.5's only tower): kohya `lora_te1_` or
    /// `lora_te_`, PEFT `text_encoder.`.
    First,
    /// `text_encoder_2` (SDXL's and SD3's OpenCLIP bigG): kohya `lora_te2_`, PEFT
    /// `text_encoder_2.`.
    Second,
}

impl ClipLoraTower {
    /// Where this tower's tensors are; the other tower's and other models' (`lora_unet_`,
    /// `unet.`, `lora_transformer_`, `transformer.`, SD3's T5 `lora_te3_`, `text_encoder_3.`)
    /// are skipped.
    fn layout(self) -> LoraLayout<'static> {
        match self {
            Self::First => LoraLayout {
                kohya: &["lora_te1_", "lora_te_"],
                peft: &["text_encoder."],
                others: &[
                    "lora_te2_",
                    "text_encoder_2.",
                    "lora_unet_",
                    "unet.",
                    "lora_transformer_",
                    "transformer.",
                    "lora_te3_",
                    "text_encoder_3.",
                ],
                peft_unprefixed: false,
            },
            Self::Second => LoraLayout {
                kohya: &["lora_te2_"],
                peft: &["text_encoder_2."],
                others: &[
                    "lora_te1_",
                    "lora_te_",
                    "text_encoder.",
                    "lora_unet_",
                    "unet.",
                    "lora_transformer_",
                    "transformer.",
                    "lora_te3_",
                    "text_encoder_3.",
                ],
                peft_unprefixed: false,
            },
        }
    }
}

/// A tower's pairs of one LoRA file, checked against the tower's layers
/// ([`ClipTextModel::lora_plan`]); [`ClipTextModel::apply_lora`] merges them.
#[derive(Debug, Clone)]
pub struct ClipLoraPlan {
    file: LoraFile,
    targets: BTreeMap<String, LoraTarget>,
}

impl ClipLoraPlan {
    /// How many layers the plan changes.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the file has no pairs for the tower.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl ClipLoraTower {
    /// How many pairs `sd` (a LoRA file) has for this tower, without a model to check them
    /// against (e.g. to refuse pairs for a tower a pipeline lacks).
    ///
    /// # Errors
    /// As [`ClipTextModel::lora_plan`] for a malformed file.
    pub fn pairs(self, sd: &StateDict) -> Result<usize, TextError> {
        Ok(LoraFile::from_state_dict(sd, &self.layout())?.pairs.len())
    }
}

impl<B: Backend> ClipTextModel<B> {
    /// The pairs of `sd` (a LoRA file) for `tower`, each resolved to a layer of this model and
    /// checked against its shape; nothing changes yet. See the module docs for the layouts.
    ///
    /// # Errors
    /// [`TextError::Model`] for LoHa/LoKr/DoRA tensors, a down without its up (or the reverse),
    /// ranks that disagree, and — listed together — pairs that match no layer of this tower or
    /// have another shape than it.
    pub fn lora_plan(
        &self,
        sd: &StateDict,
        tower: ClipLoraTower,
    ) -> Result<ClipLoraPlan, TextError> {
        let file = LoraFile::from_state_dict(sd, &tower.layout())?;
        let mut shapes = WeightShapes::default();
        if !file.pairs.is_empty() {
            self.clone().walk(&mut shapes);
        }
        // transformers 4 names (`text_model.encoder…`, kohya files) or transformers 5 ones.
        let targets = targets_by_name(&file, &shapes, |m| {
            m.strip_prefix("text_model.").map(String::from)
        });
        let what = match tower {
            ClipLoraTower::First => "text_encoder layer",
            ClipLoraTower::Second => "text_encoder_2 layer",
        };
        check_targets(&file, &targets, &shapes, what)?;
        Ok(ClipLoraPlan { file, targets })
    }

    /// Merges a plan of this model at `scale` (diffusers' `fuse_lora(lora_scale=scale)`).
    pub fn apply_lora(&mut self, plan: ClipLoraPlan, scale: f64) {
        if plan.is_empty() {
            return;
        }
        self.walk(&mut LoraMerge {
            file: &plan.file,
            targets: plan.targets,
            scale,
        });
    }

    /// [`ClipTextModel::lora_plan`] then [`ClipTextModel::apply_lora`]: the number of layers
    /// changed (0 when the file has no pairs for `tower`).
    ///
    /// # Errors
    /// As [`ClipTextModel::lora_plan`]; no weight changes then.
    pub fn merge_lora(
        &mut self,
        sd: &StateDict,
        tower: ClipLoraTower,
        scale: f64,
    ) -> Result<usize, TextError> {
        let plan = self.lora_plan(sd, tower)?;
        let n = plan.len();
        self.apply_lora(plan, scale);
        Ok(n)
    }
}
