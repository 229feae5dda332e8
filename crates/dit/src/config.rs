//! The configurations of [`crate::Sd3Transformer2DModel`] and [`crate::FluxTransformer2DModel`]
//! with diffusers' field names, read from `transformer/config.json` or built from presets
//! (`../shared/specs/dit.md` §1.1 and §2.1; diffusers `transformer_sd3.py`, `transformer_flux.py`).

use ultrares_nn::ConfigJson;

use crate::{DitError, Result};

/// `SD3Transformer2DModel`'s config (SD3-medium, SD3.5-medium/large).
#[derive(Debug, Clone, PartialEq)]
pub struct Sd3TransformerConfig {
    /// `sample_size` (latent side the model was trained at; informational).
    pub sample_size: usize,
    /// `patch_size` `p`: tokens are `p×p` latent patches.
    pub patch_size: usize,
    /// `in_channels` (latent channels).
    pub in_channels: usize,
    /// `out_channels`.
    pub out_channels: usize,
    /// `num_layers` (joint blocks).
    pub num_layers: usize,
    /// `attention_head_dim`.
    pub attention_head_dim: usize,
    /// `num_attention_heads`; the inner width is `heads · head_dim`.
    pub num_attention_heads: usize,
    /// `joint_attention_dim` (text-state width, 4096).
    pub joint_attention_dim: usize,
    /// `caption_projection_dim` (must equal the inner width).
    pub caption_projection_dim: usize,
    /// `pooled_projection_dim` (2048).
    pub pooled_projection_dim: usize,
    /// `pos_embed_max_size`: side of the stored sin-cos table the patch grid is cropped from.
    pub pos_embed_max_size: usize,
    /// `dual_attention_layers` (SD3.5-medium: 0…12): blocks with a second self-attention.
    pub dual_attention_layers: Vec<usize>,
    /// `qk_norm == "rms_norm"` (SD3.5).
    pub qk_norm: bool,
}

impl Sd3TransformerConfig {
    /// SD3-medium (2B; `stabilityai/stable-diffusion-3-medium-diffusers`).
    pub fn sd3_medium() -> Self {
        Self {
            sample_size: 128,
            patch_size: 2,
            in_channels: 16,
            out_channels: 16,
            num_layers: 24,
            attention_head_dim: 64,
            num_attention_heads: 24,
            joint_attention_dim: 4096,
            caption_projection_dim: 1536,
            pooled_projection_dim: 2048,
            pos_embed_max_size: 192,
            dual_attention_layers: Vec::new(),
            qk_norm: false,
        }
    }

    /// SD3.5-medium (MMDiT-X: dual attention in blocks 0…12, qk RMSNorm, a 384² table).
    pub fn sd35_medium() -> Self {
        Self {
            pos_embed_max_size: 384,
            dual_attention_layers: (0..13).collect(),
            qk_norm: true,
            ..Self::sd3_medium()
        }
    }

    /// SD3.5-large (38 blocks of 38 heads, qk RMSNorm).
    pub fn sd35_large() -> Self {
        Self {
            num_layers: 38,
            num_attention_heads: 38,
            caption_projection_dim: 2432,
            qk_norm: true,
            ..Self::sd3_medium()
        }
    }

    /// The inner width `heads · head_dim`.
    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }

    /// Reads a diffusers `transformer/config.json` of class `SD3Transformer2DModel`; unknown
    /// keys are ignored, missing ones take diffusers' defaults.
    ///
    /// # Errors
    /// [`DitError::Model`] for another class or a mistyped key; [`DitError::Unsupported`] for
    /// `pos_embed_max_size: null` (the interpolated table of old configs) or another `qk_norm`;
    /// [`DitError::Input`] for inconsistent sizes.
    pub fn from_config_json(c: &ConfigJson) -> Result<Self> {
        c.check_class(&["SD3Transformer2DModel"])?;
        let u = |k: &str, d: usize| -> Result<usize> { Ok(c.opt_usize(k)?.unwrap_or(d)) };
        // `has` sees an explicit null, which diffusers reads as "no stored table".
        if c.has("pos_embed_max_size") && c.get("pos_embed_max_size").is_none() {
            return Err(DitError::unsupported(
                "pos_embed_max_size",
                "null",
                "a stored table size (SD3: 192, SD3.5-medium: 384)",
            ));
        }
        let pos_embed_max_size = u("pos_embed_max_size", 96)?;
        let qk_norm = match c.opt_str("qk_norm")? {
            None => false,
            Some("rms_norm") => true,
            Some(other) => {
                return Err(DitError::unsupported(
                    "qk_norm",
                    other,
                    "\"rms_norm\" or null",
                ));
            }
        };
        let in_channels = u("in_channels", 16)?;
        let cfg = Self {
            sample_size: u("sample_size", 128)?,
            patch_size: u("patch_size", 2)?,
            in_channels,
            out_channels: u("out_channels", in_channels)?,
            num_layers: u("num_layers", 18)?,
            attention_head_dim: u("attention_head_dim", 64)?,
            num_attention_heads: u("num_attention_heads", 18)?,
            joint_attention_dim: u("joint_attention_dim", 4096)?,
            caption_projection_dim: u("caption_projection_dim", 1152)?,
            pooled_projection_dim: u("pooled_projection_dim", 2048)?,
            pos_embed_max_size,
            dual_attention_layers: c
                .opt_usize_list("dual_attention_layers", None)?
                .unwrap_or_default(),
            qk_norm,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the sizes are consistent.
    ///
    /// # Errors
    /// [`DitError::Input`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("patch_size", self.patch_size),
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("num_layers", self.num_layers),
            ("attention_head_dim", self.attention_head_dim),
            ("num_attention_heads", self.num_attention_heads),
            ("joint_attention_dim", self.joint_attention_dim),
            ("pooled_projection_dim", self.pooled_projection_dim),
            ("pos_embed_max_size", self.pos_embed_max_size),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(DitError::input(field, "a positive size", 0));
            }
        }
        if self.caption_projection_dim != self.inner_dim() {
            return Err(DitError::input(
                "caption_projection_dim",
                format!(
                    "num_attention_heads · attention_head_dim = {} (the joint attention's added \
                     projections take that width)",
                    self.inner_dim()
                ),
                self.caption_projection_dim,
            ));
        }
        if !self.inner_dim().is_multiple_of(4) {
            return Err(DitError::input(
                "num_attention_heads · attention_head_dim",
                "a multiple of 4 (the 2-D sin-cos position table)",
                self.inner_dim(),
            ));
        }
        if let Some(&l) = self
            .dual_attention_layers
            .iter()
            .find(|&&l| l >= self.num_layers)
        {
            return Err(DitError::input(
                "dual_attention_layers",
                format!("block indices below num_layers = {}", self.num_layers),
                l,
            ));
        }
        Ok(())
    }
}

/// `FluxTransformer2DModel`'s config (FLUX.1-dev and -schnell).
#[derive(Debug, Clone, PartialEq)]
pub struct FluxTransformerConfig {
    /// `in_channels` of the packed latent (16 latent channels × 2×2 = 64).
    pub in_channels: usize,
    /// `out_channels` (`None`: `in_channels`).
    pub out_channels: usize,
    /// `num_layers` (double-stream blocks, 19).
    pub num_layers: usize,
    /// `num_single_layers` (single-stream blocks, 38).
    pub num_single_layers: usize,
    /// `attention_head_dim` (128).
    pub attention_head_dim: usize,
    /// `num_attention_heads` (24); the inner width is `heads · head_dim`.
    pub num_attention_heads: usize,
    /// `joint_attention_dim` (T5 width, 4096).
    pub joint_attention_dim: usize,
    /// `pooled_projection_dim` (CLIP-L pooled, 768).
    pub pooled_projection_dim: usize,
    /// `guidance_embeds` (dev: true; schnell: false).
    pub guidance_embeds: bool,
    /// `axes_dims_rope` (16, 56, 56): RoPE widths of the (t, h, w) id axes, summing to the head
    /// width.
    pub axes_dims_rope: Vec<usize>,
}

impl FluxTransformerConfig {
    /// FLUX.1-dev (12B, guidance-distilled).
    pub fn flux_dev() -> Self {
        Self {
            in_channels: 64,
            out_channels: 64,
            num_layers: 19,
            num_single_layers: 38,
            attention_head_dim: 128,
            num_attention_heads: 24,
            joint_attention_dim: 4096,
            pooled_projection_dim: 768,
            guidance_embeds: true,
            axes_dims_rope: vec![16, 56, 56],
        }
    }

    /// FLUX.1-schnell (no guidance embedding).
    pub fn flux_schnell() -> Self {
        Self {
            guidance_embeds: false,
            ..Self::flux_dev()
        }
    }

    /// The inner width `heads · head_dim`.
    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }

    /// Reads a diffusers `transformer/config.json` of class `FluxTransformer2DModel`; unknown
    /// keys are ignored, missing ones take diffusers' defaults.
    ///
    /// # Errors
    /// [`DitError::Model`] for another class or a mistyped key; [`DitError::Unsupported`] for
    /// `patch_size ≠ 1`; [`DitError::Input`] for inconsistent sizes.
    pub fn from_config_json(c: &ConfigJson) -> Result<Self> {
        c.check_class(&["FluxTransformer2DModel"])?;
        let u = |k: &str, d: usize| -> Result<usize> { Ok(c.opt_usize(k)?.unwrap_or(d)) };
        let patch = u("patch_size", 1)?;
        if patch != 1 {
            return Err(DitError::unsupported(
                "patch_size",
                patch,
                "1 (Flux packs 2×2 latent patches into channels instead)",
            ));
        }
        let in_channels = u("in_channels", 64)?;
        let out_channels = u("out_channels", in_channels)?;
        let cfg = Self {
            in_channels,
            out_channels,
            num_layers: u("num_layers", 19)?,
            num_single_layers: u("num_single_layers", 38)?,
            attention_head_dim: u("attention_head_dim", 128)?,
            num_attention_heads: u("num_attention_heads", 24)?,
            joint_attention_dim: u("joint_attention_dim", 4096)?,
            pooled_projection_dim: u("pooled_projection_dim", 768)?,
            guidance_embeds: c.opt_bool("guidance_embeds")?.unwrap_or(false),
            axes_dims_rope: c
                .opt_usize_list("axes_dims_rope", None)?
                .unwrap_or_else(|| vec![16, 56, 56]),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the sizes are consistent.
    ///
    /// # Errors
    /// [`DitError::Input`] naming the field.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("attention_head_dim", self.attention_head_dim),
            ("num_attention_heads", self.num_attention_heads),
            ("joint_attention_dim", self.joint_attention_dim),
            ("pooled_projection_dim", self.pooled_projection_dim),
        ] {
            if v == 0 {
                return Err(DitError::input(field, "a positive size", 0));
            }
        }
        let sum: usize = self.axes_dims_rope.iter().sum();
        if self.axes_dims_rope.len() != 3
            || sum != self.attention_head_dim
            || self.axes_dims_rope.iter().any(|d| d % 2 == 1)
        {
            return Err(DitError::input(
                "axes_dims_rope",
                format!(
                    "three even widths summing to attention_head_dim = {}",
                    self.attention_head_dim
                ),
                format!("{:?}", self.axes_dims_rope),
            ));
        }
        Ok(())
    }
}
