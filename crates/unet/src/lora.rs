//! LoRA files merged into a UNet's weights (diffusers' `load_lora_weights` + `fuse_lora`; Hu et
//! al., *LoRA*, ICLR 2022): `W' = W + scale · (alpha / r) · (up · down)`, convolution factors
//! flattened (`up [O, r, 1, 1]`, `down [r, I, kh, kw]`: LoCon), through `ultrares_nn::lora`.
//!
//! Layouts: kohya/A1111 (`lora_unet_<module>.lora_down.weight`, `.lora_up.weight`, `.alpha`;
//! SDXL files name modules as the original SGM UNet, `input_blocks_4_1_transformer_blocks_0_attn1_to_q`,
//! SD 1.5 files often as diffusers, `down_blocks_0_attentions_0_…`; both resolve) and
//! diffusers/PEFT (`unet.<module>.lora_A.weight`, `.lora_B.weight`, alpha = rank unless an
//! `.alpha` tensor is given). Text-encoder tensors (`lora_te1_…`, `lora_te2_…`, `text_encoder…`)
//! are reported by [`Lora::text_encoder_keys`] and merged by ultrares-text's
//! `ClipTextModel::merge_lora`. LoHa/LoKr and DoRA files are
//! refused. Every LoRA module that matches no UNet layer is listed in one error, before any
//! weight changes.

use std::path::Path;

use burn::prelude::*;
use ultrares_nn::StateDict;
use ultrares_nn::lora::{
    LoraFile, LoraLayout, LoraMerge, WeightShapes, check_targets, targets_by_name,
};

use crate::ldm::Layout;
use crate::unet::UNet2DConditionModel;
use crate::{Result, UnetError};

/// Where UNet LoRA tensors are in a file.
const LAYOUT: LoraLayout<'static> = LoraLayout {
    kohya: &["lora_unet_"],
    peft: &["unet."],
    others: &["lora_te", "text_encoder"],
    peft_unprefixed: true,
};

/// A LoRA file's UNet modules (see the module docs).
#[derive(Debug, Clone)]
pub struct Lora {
    file: LoraFile,
}

impl Lora {
    /// Reads a `.safetensors` LoRA file.
    ///
    /// # Errors
    /// As [`Lora::from_state_dict`], and unreadable files.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_state_dict(&StateDict::read(path.as_ref())?)
    }

    /// The LoRA pairs of `sd`.
    ///
    /// # Errors
    /// [`UnetError::Model`] for LoHa/LoKr/DoRA tensors, a down without its up (or the
    /// reverse), ranks that disagree, or no UNet pair at all.
    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let file = LoraFile::from_state_dict(sd, &LAYOUT)?;
        if file.pairs.is_empty() && file.others.is_empty() {
            return Err(UnetError::from(file.error("no LoRA pairs")));
        }
        Ok(Self { file })
    }

    /// Text-encoder tensors the file also holds (not merged by [`Lora::merge_into`]).
    pub fn text_encoder_keys(&self) -> &[String] {
        &self.file.others
    }

    /// UNet module pairs in the file.
    pub fn len(&self) -> usize {
        self.file.pairs.len()
    }

    /// Whether the file has no UNet pairs (text-encoder pairs only).
    pub fn is_empty(&self) -> bool {
        self.file.pairs.is_empty()
    }

    /// Merges every pair into `unet` at `scale` (diffusers' `fuse_lora(lora_scale=scale)`).
    /// Nothing changes if a pair matches no layer or has another shape than its layer.
    ///
    /// # Errors
    /// [`UnetError::Model`] listing the unmatched or mis-shaped modules.
    pub fn merge_into<B: Backend>(
        &self,
        unet: &mut UNet2DConditionModel<B>,
        scale: f64,
    ) -> Result<()> {
        let layout = Layout::of(unet);
        let mut shapes = WeightShapes::default();
        unet.clone().walk(&mut shapes);
        // Each UNet module's LoRA, by diffusers name, SGM name or their underscore forms.
        let targets = targets_by_name(&self.file, &shapes, |m| layout.module(m));
        check_targets(&self.file, &targets, &shapes, "UNet layer")?;
        unet.walk(&mut LoraMerge {
            file: &self.file,
            targets,
            scale,
        });
        Ok(())
    }
}
