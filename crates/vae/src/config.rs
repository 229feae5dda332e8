//! [`AutoencoderKlConfig`]: diffusers' `AutoencoderKL` configuration, its presets, and
//! `config.json` parsing.

use burn::config::Config;
use serde_json::Value;
use ultrares_nn::ConfigJson;

use crate::{Error, Result};

/// The configuration of an [`AutoencoderKl`](crate::AutoencoderKl), field for field diffusers'
/// `AutoencoderKL.__init__` (`diffusers/models/autoencoders/autoencoder_kl.py`), plus
/// Diffusion-4K's encoder `stride` (`zhang0jhon/diffusion-4k:vae.py`).
///
/// Only `DownEncoderBlock2D`/`UpDecoderBlock2D` blocks and the SiLU activation exist in
/// Stable Diffusion VAEs; [`AutoencoderKlConfig::from_diffusers_json`] rejects anything else.
#[derive(Config, Debug, PartialEq)]
pub struct AutoencoderKlConfig {
    /// Channels of each encoder down block (reversed for the decoder's up blocks).
    pub block_out_channels: Vec<usize>,
    /// Image channels in.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Image channels out.
    #[config(default = 3)]
    pub out_channels: usize,
    /// ResNet blocks per encoder block (the decoder has one more per block).
    #[config(default = 2)]
    pub layers_per_block: usize,
    /// Latent channels `C` (4 for SD 1.5/SDXL, 16 for SD3/Flux).
    #[config(default = 4)]
    pub latent_channels: usize,
    /// GroupNorm groups.
    #[config(default = 32)]
    pub norm_num_groups: usize,
    /// The training image size; diffusers' tiling uses it as the tile size.
    #[config(default = 512)]
    pub sample_size: usize,
    /// `z_model = (z_vae − shift_factor) · scaling_factor`.
    #[config(default = 0.18215)]
    pub scaling_factor: f64,
    /// See `scaling_factor` (`None` = 0).
    #[config(default = "None")]
    pub shift_factor: Option<f64>,
    /// The model should run in f32 even when the pipeline runs in f16 (diffusers' flag; this
    /// crate always upcasts GroupNorm statistics and the attention softmax).
    #[config(default = true)]
    pub force_upcast: bool,
    /// Whether `quant_conv` (1×1, `2C → 2C`) follows the encoder.
    #[config(default = true)]
    pub use_quant_conv: bool,
    /// Whether `post_quant_conv` (1×1, `C → C`) precedes the decoder.
    #[config(default = true)]
    pub use_post_quant_conv: bool,
    /// Whether the mid blocks have their self-attention.
    #[config(default = true)]
    pub mid_block_add_attention: bool,
    /// Diffusion-4K's F16 VAE: the encoder's `conv_in` has this stride and the decoder upsamples
    /// (nearest) by it before `conv_out`. 1 for every standard VAE.
    #[config(default = 1)]
    pub stride: usize,
}

impl AutoencoderKlConfig {
    /// Stable Diffusion 1.5 (`stable-diffusion-v1-5/stable-diffusion-v1-5`, `vae/config.json`).
    pub fn sd15() -> Self {
        Self::new(vec![128, 256, 512, 512])
    }

    /// SDXL (`stabilityai/stable-diffusion-xl-base-1.0`, `vae/config.json`): SD 1.5's topology,
    /// `sample_size` 1024, `scaling_factor` 0.13025. `madebyollin/sdxl-vae-fp16-fix` has the same
    /// config with `force_upcast = false`.
    pub fn sdxl() -> Self {
        Self {
            sample_size: 1024,
            scaling_factor: 0.13025,
            ..Self::sd15()
        }
    }

    /// SD3 (`stabilityai/stable-diffusion-3-medium-diffusers`, `vae/config.json`): 16 latent
    /// channels, no quant convs, scaling 1.5305, shift 0.0609.
    pub fn sd3() -> Self {
        Self {
            latent_channels: 16,
            sample_size: 1024,
            scaling_factor: 1.5305,
            shift_factor: Some(0.0609),
            use_quant_conv: false,
            use_post_quant_conv: false,
            ..Self::sd15()
        }
    }

    /// Flux (`black-forest-labs/FLUX.1-dev`, `vae/config.json`): SD3's topology, scaling 0.3611,
    /// shift 0.1159.
    pub fn flux() -> Self {
        Self {
            scaling_factor: 0.3611,
            shift_factor: Some(0.1159),
            ..Self::sd3()
        }
    }

    /// Diffusion-4K's F16 variant of a VAE (`vae_stride = 2`): the same weights, encoder
    /// `conv_in` with stride 2, nearest ×2 before the decoder's `conv_out`.
    pub fn f16_partitioned(self) -> Self {
        Self { stride: 2, ..self }
    }

    /// Spatial factor between image and latent: `2^(blocks − 1) · stride` (8 for SD VAEs).
    pub fn downscale_factor(&self) -> usize {
        (1usize << self.block_out_channels.len().saturating_sub(1)) * self.stride
    }

    /// diffusers' `tile_latent_min_size`: `sample_size / 2^(blocks − 1)`.
    pub fn tile_latent_min_size(&self) -> usize {
        self.sample_size >> self.block_out_channels.len().saturating_sub(1)
    }

    /// Checks that the model can be built.
    ///
    /// # Errors
    /// [`Error::Config`] for no blocks, zero sizes, channels not divisible by `norm_num_groups`,
    /// a stride other than 1 or 2, or a non-finite/zero scaling factor.
    pub fn validate(&self) -> Result<()> {
        if self.block_out_channels.is_empty() || self.block_out_channels.len() > 8 {
            return Err(Error::config(
                "block_out_channels",
                "1 to 8 blocks",
                format!("{:?}", self.block_out_channels),
            ));
        }
        if self.norm_num_groups == 0 {
            return Err(Error::config("norm_num_groups", "≥ 1", 0));
        }
        for &c in &self.block_out_channels {
            if c == 0 || c % self.norm_num_groups != 0 {
                return Err(Error::config(
                    "block_out_channels",
                    format!(
                        "positive multiples of norm_num_groups ({})",
                        self.norm_num_groups
                    ),
                    format!("{:?}", self.block_out_channels),
                ));
            }
        }
        for (field, v) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("latent_channels", self.latent_channels),
            ("layers_per_block", self.layers_per_block),
        ] {
            if v == 0 {
                return Err(Error::config(field, "≥ 1", 0));
            }
        }
        if !(self.stride == 1 || self.stride == 2) {
            return Err(Error::config(
                "stride",
                "1 or 2 (Diffusion-4K's F16 VAE)",
                self.stride,
            ));
        }
        if !self.scaling_factor.is_finite() || self.scaling_factor == 0.0 {
            return Err(Error::config(
                "scaling_factor",
                "finite and non-zero",
                self.scaling_factor,
            ));
        }
        if self.shift_factor.is_some_and(|s| !s.is_finite()) {
            return Err(Error::config(
                "shift_factor",
                "finite",
                format!("{:?}", self.shift_factor),
            ));
        }
        Ok(())
    }

    /// Parses a diffusers `vae/config.json` (the `AutoencoderKL` class).
    ///
    /// Unknown keys are ignored (diffusers adds `_class_name`, `_diffusers_version`, …);
    /// `latents_mean`/`latents_std` (per-channel normalisation, not used by SD/SDXL/SD3/Flux) are
    /// rejected rather than silently ignored.
    ///
    /// # Errors
    /// [`Error::Config`] for a class other than `AutoencoderKL`, block types other than
    /// `DownEncoderBlock2D`/`UpDecoderBlock2D`, an activation other than SiLU, or an invalid
    /// value (see [`AutoencoderKlConfig::validate`]).
    pub fn from_diffusers_json(json: &Value) -> Result<Self> {
        match json {
            Value::Object(map) => {
                Self::from_config_json(&ConfigJson::from_map("config.json", map.clone()))
            }
            other => Err(Error::config("config.json", "a JSON object", other)),
        }
    }

    /// [`AutoencoderKlConfig::from_diffusers_json`] of a read config (errors name its file).
    ///
    /// # Errors
    /// As [`AutoencoderKlConfig::from_diffusers_json`].
    pub fn from_config_json(config: &ConfigJson) -> Result<Self> {
        config.check_class(&["AutoencoderKL"])?;
        let blocks = config
            .opt_usize_list("block_out_channels", None)?
            .unwrap_or_else(|| vec![64]);
        for (key, want) in [
            ("down_block_types", "DownEncoderBlock2D"),
            ("up_block_types", "UpDecoderBlock2D"),
        ] {
            if let Some(types) = config.opt_str_list(key)?
                && (types.len() != blocks.len() || types.iter().any(|t| t != want))
            {
                return Err(config
                    .error(
                        key,
                        format!("{} × \"{want}\"", blocks.len()),
                        format!("{types:?}"),
                    )
                    .into());
            }
        }
        if let Some(act) = config.opt_str("act_fn")?
            && act != "silu"
        {
            return Err(config
                .error("act_fn", "\"silu\"", format!("{act:?}"))
                .into());
        }
        for key in ["latents_mean", "latents_std"] {
            if let Some(v) = config.get(key) {
                return Err(config
                    .error(
                        key,
                        "null (per-channel latent statistics are not supported)",
                        v.to_string(),
                    )
                    .into());
            }
        }
        // diffusers' defaults for absent keys (AutoencoderKL.__init__).
        let mut cfg = Self::new(blocks);
        cfg.layers_per_block = 1;
        cfg.sample_size = 32;
        let set = |field: &mut usize, key: &str| -> Result<()> {
            if let Some(v) = config.opt_usize(key)? {
                *field = v;
            }
            Ok(())
        };
        set(&mut cfg.in_channels, "in_channels")?;
        set(&mut cfg.out_channels, "out_channels")?;
        set(&mut cfg.layers_per_block, "layers_per_block")?;
        set(&mut cfg.latent_channels, "latent_channels")?;
        set(&mut cfg.norm_num_groups, "norm_num_groups")?;
        set(&mut cfg.stride, "stride")?;
        // `sample_size` may be one integer or `[h, w]` (the first is used, as upstream).
        if let Some(v) = config
            .opt_usize_list("sample_size", Some(1))
            .or_else(|_| config.opt_usize_list("sample_size", None))?
        {
            cfg.sample_size = v.first().copied().ok_or_else(|| {
                config.error("sample_size", "an integer or a non-empty list", "[]")
            })?;
        }
        if let Some(v) = config.opt_f64("scaling_factor")? {
            cfg.scaling_factor = v;
        }
        cfg.shift_factor = config.opt_f64("shift_factor")?;
        let set = |field: &mut bool, key: &str| -> Result<()> {
            if let Some(v) = config.opt_bool(key)? {
                *field = v;
            }
            Ok(())
        };
        set(&mut cfg.force_upcast, "force_upcast")?;
        set(&mut cfg.use_quant_conv, "use_quant_conv")?;
        set(&mut cfg.use_post_quant_conv, "use_post_quant_conv")?;
        set(&mut cfg.mid_block_add_attention, "mid_block_add_attention")?;
        cfg.validate()?;
        Ok(cfg)
    }
}
