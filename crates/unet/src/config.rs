//! [`UNet2DConditionConfig`]: diffusers' `UNet2DConditionModel` configuration
//! (`diffusers/models/unets/unet_2d_condition.py`), read from a `unet/config.json` or built from
//! the presets (SDXL base 1.0, SDXL refiner 1.0, SD 1.5, SD 2.1).
//!
//! diffusers' naming trap: without `num_attention_heads`, `attention_head_dim` is the number of
//! heads per block, not their width (`unet_2d_condition.py`: "num_attention_heads =
//! num_attention_heads or attention_head_dim"); each block's head width is then
//! `block_out_channels[i] / heads[i]`.

use burn::prelude::*;
use ultrares_nn::ConfigJson;

use crate::unet::UNet2DConditionModel;
use crate::{Result, UnetError};

/// A down or up block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockType {
    /// `DownBlock2D` / `UpBlock2D`: resnets only.
    Plain,
    /// `CrossAttnDownBlock2D` / `CrossAttnUpBlock2D`: a `Transformer2DModel` after each resnet.
    CrossAttn,
}

impl BlockType {
    fn parse(name: &str, down: bool) -> Option<Self> {
        match (name, down) {
            ("DownBlock2D", true) | ("UpBlock2D", false) => Some(Self::Plain),
            ("CrossAttnDownBlock2D", true) | ("CrossAttnUpBlock2D", false) => Some(Self::CrossAttn),
            _ => None,
        }
    }
}

/// SDXL's `addition_embed_type: "text_time"`: the pooled text embedding and the sinusoidal
/// embeddings of the micro-conditioning ids, concatenated (text first), through
/// `add_embedding` and added to the time embedding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextTimeEmbedding {
    /// `addition_time_embed_dim`: width of each time id's sinusoid (256 in SDXL).
    pub addition_time_embed_dim: usize,
    /// `projection_class_embeddings_input_dim`: pooled width + ids × `addition_time_embed_dim`
    /// (SDXL base: 1280 + 6·256 = 2816; refiner: 1280 + 5·256 = 2560).
    pub projection_class_embeddings_input_dim: usize,
}

/// Configuration of [`UNet2DConditionModel`]; field names follow `config.json`, lists are per
/// down block (in down order).
#[derive(Debug, Clone, PartialEq)]
pub struct UNet2DConditionConfig {
    /// `sample_size`: the default latent side.
    pub sample_size: usize,
    /// `in_channels`.
    pub in_channels: usize,
    /// `out_channels`.
    pub out_channels: usize,
    /// `center_input_sample`: `2·x − 1` first.
    pub center_input_sample: bool,
    /// `flip_sin_to_cos` of both timestep sinusoids.
    pub flip_sin_to_cos: bool,
    /// `freq_shift` of both timestep sinusoids.
    pub freq_shift: f64,
    /// `down_block_types`.
    pub down_block_types: Vec<BlockType>,
    /// `up_block_types` (in up order).
    pub up_block_types: Vec<BlockType>,
    /// `mid_block_type`: `UNetMidBlock2DCrossAttn` (true) or none.
    pub mid_block: bool,
    /// `block_out_channels`.
    pub block_out_channels: Vec<usize>,
    /// `layers_per_block` (resnets per down block; up blocks have one more).
    pub layers_per_block: Vec<usize>,
    /// `downsample_padding`.
    pub downsample_padding: usize,
    /// `mid_block_scale_factor`: the mid resnets' output scale.
    pub mid_block_scale_factor: f64,
    /// `norm_num_groups`.
    pub norm_num_groups: usize,
    /// `norm_eps` (resnets and `conv_norm_out`; the transformers' GroupNorm uses 1e-6).
    pub norm_eps: f64,
    /// `cross_attention_dim` per block.
    pub cross_attention_dim: Vec<usize>,
    /// `transformer_layers_per_block` (the mid block uses the last).
    pub transformer_layers_per_block: Vec<usize>,
    /// Heads per block (`num_attention_heads`, else `attention_head_dim`: see the module docs).
    pub num_attention_heads: Vec<usize>,
    /// `use_linear_projection`: `proj_in`/`proj_out` are Linear (SD 2.x, SDXL) or 1×1 convs.
    pub use_linear_projection: bool,
    /// `addition_embed_type: "text_time"` and its sizes.
    pub addition_embed: Option<TextTimeEmbedding>,
    /// `time_embedding_dim` (default `4 · block_out_channels[0]`).
    pub time_embedding_dim: usize,
    /// `conv_in_kernel`.
    pub conv_in_kernel: usize,
    /// `conv_out_kernel`.
    pub conv_out_kernel: usize,
}

impl UNet2DConditionConfig {
    /// SDXL base 1.0 (`stabilityai/stable-diffusion-xl-base-1.0/unet/config.json`):
    /// 2,567,463,684 parameters.
    pub fn sdxl_base() -> Self {
        use BlockType::*;
        Self {
            sample_size: 128,
            down_block_types: vec![Plain, CrossAttn, CrossAttn],
            up_block_types: vec![CrossAttn, CrossAttn, Plain],
            block_out_channels: vec![320, 640, 1280],
            layers_per_block: vec![2; 3],
            cross_attention_dim: vec![2048; 3],
            transformer_layers_per_block: vec![1, 2, 10],
            num_attention_heads: vec![5, 10, 20],
            use_linear_projection: true,
            addition_embed: Some(TextTimeEmbedding {
                addition_time_embed_dim: 256,
                projection_class_embeddings_input_dim: 2816,
            }),
            ..Self::sd15()
        }
    }

    /// SDXL refiner 1.0: four levels, time ids with the aesthetic score (5 ids), only the bigG
    /// text tower (cross-attention 1280); 2,259,526,660 parameters.
    pub fn sdxl_refiner() -> Self {
        use BlockType::*;
        Self {
            down_block_types: vec![Plain, CrossAttn, CrossAttn, Plain],
            up_block_types: vec![Plain, CrossAttn, CrossAttn, Plain],
            block_out_channels: vec![384, 768, 1536, 1536],
            layers_per_block: vec![2; 4],
            cross_attention_dim: vec![1280; 4],
            transformer_layers_per_block: vec![4; 4],
            num_attention_heads: vec![6, 12, 24, 24],
            addition_embed: Some(TextTimeEmbedding {
                addition_time_embed_dim: 256,
                projection_class_embeddings_input_dim: 2560,
            }),
            time_embedding_dim: 1536,
            ..Self::sdxl_base()
        }
    }

    /// Stable Diffusion 1.5 (`unet/config.json` of `stable-diffusion-v1-5`): 859,520,964
    /// parameters.
    pub fn sd15() -> Self {
        use BlockType::*;
        Self {
            sample_size: 64,
            in_channels: 4,
            out_channels: 4,
            center_input_sample: false,
            flip_sin_to_cos: true,
            freq_shift: 0.0,
            down_block_types: vec![CrossAttn, CrossAttn, CrossAttn, Plain],
            up_block_types: vec![Plain, CrossAttn, CrossAttn, CrossAttn],
            mid_block: true,
            block_out_channels: vec![320, 640, 1280, 1280],
            layers_per_block: vec![2; 4],
            downsample_padding: 1,
            mid_block_scale_factor: 1.0,
            norm_num_groups: 32,
            norm_eps: 1e-5,
            cross_attention_dim: vec![768; 4],
            transformer_layers_per_block: vec![1; 4],
            num_attention_heads: vec![8; 4],
            use_linear_projection: false,
            addition_embed: None,
            time_embedding_dim: 1280,
            conv_in_kernel: 3,
            conv_out_kernel: 3,
        }
    }

    /// Stable Diffusion 2.1: as 1.5 with heads of width 64, linear projections and
    /// cross-attention 1024.
    pub fn sd21() -> Self {
        Self {
            sample_size: 96,
            cross_attention_dim: vec![1024; 4],
            num_attention_heads: vec![5, 10, 20, 20],
            use_linear_projection: true,
            ..Self::sd15()
        }
    }

    /// Reads a diffusers `unet/config.json`. Unknown keys are ignored; the class must be
    /// `UNet2DConditionModel`; options this crate does not implement (class embeddings,
    /// `encoder_hid_proj`, other addition embeddings, scale-shift time conditioning, GLIGEN,
    /// dual or cross-only attention, LCM's `time_cond_proj_dim`, other activations) are errors
    /// naming the field.
    ///
    /// # Errors
    /// [`UnetError::Model`] for a missing or mistyped key, [`UnetError::Unsupported`] for an
    /// unimplemented option, [`UnetError::Input`] for inconsistent sizes.
    pub fn from_config_json(c: &ConfigJson) -> Result<Self> {
        c.check_class(&["UNet2DConditionModel"])?;
        let expect = |field: &str, ok: bool, value: String, supported: &str| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(UnetError::unsupported(field, value, supported))
            }
        };
        let none = |field: &str| -> Result<()> {
            match c.get(field) {
                None => Ok(()),
                Some(v) => Err(UnetError::unsupported(field, v, "null")),
            }
        };
        for field in [
            "class_embed_type",
            "num_class_embeds",
            "encoder_hid_dim",
            "encoder_hid_dim_type",
            "time_cond_proj_dim",
            "timestep_post_act",
            "time_embedding_act_fn",
            "cross_attention_norm",
            "reverse_transformer_layers_per_block",
        ] {
            none(field)?;
        }
        let s = |field: &str, default: &str| -> Result<String> {
            Ok(c.opt_str(field)?.unwrap_or(default).to_string())
        };
        let b = |field: &str, default: bool| -> Result<bool> {
            Ok(c.opt_bool(field)?.unwrap_or(default))
        };
        for (field, default, ok) in [
            ("act_fn", "silu", "silu"),
            ("resnet_time_scale_shift", "default", "default"),
            ("attention_type", "default", "default"),
            ("time_embedding_type", "positional", "positional"),
        ] {
            let v = s(field, default)?;
            expect(field, v == ok, v, &format!("{ok:?}"))?;
        }
        for field in [
            "only_cross_attention",
            "dual_cross_attention",
            "resnet_skip_time_act",
            "mid_block_only_cross_attention",
        ] {
            expect(field, !b(field, false)?, "true".into(), "false")?;
        }
        let scale = c.opt_f64("resnet_out_scale_factor")?.unwrap_or(1.0);
        expect(
            "resnet_out_scale_factor",
            scale == 1.0,
            scale.to_string(),
            "1.0",
        )?;

        let block_out_channels = c
            .opt_usize_list("block_out_channels", None)?
            .unwrap_or_else(|| vec![320, 640, 1280, 1280]);
        let n = block_out_channels.len();
        let types = |field: &str, down: bool, default: &[&str]| -> Result<Vec<BlockType>> {
            let names = c
                .opt_str_list(field)?
                .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
            if names.len() != n {
                return Err(c
                    .error(
                        field,
                        format!("{n} block types (one per block_out_channels)"),
                        format!("{}", names.len()),
                    )
                    .into());
            }
            names
                .iter()
                .map(|name| {
                    BlockType::parse(name, down).ok_or_else(|| {
                        let ok = if down {
                            "DownBlock2D or CrossAttnDownBlock2D"
                        } else {
                            "UpBlock2D or CrossAttnUpBlock2D"
                        };
                        UnetError::unsupported(field, name, ok)
                    })
                })
                .collect()
        };
        let down_block_types = types(
            "down_block_types",
            true,
            &[
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ],
        )?;
        let up_block_types = types(
            "up_block_types",
            false,
            &[
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ],
        )?;
        let mid_block = match c.get("mid_block_type") {
            None if c.has("mid_block_type") => false,
            None => true,
            Some(v) => {
                let name = v.as_str().unwrap_or_default();
                expect(
                    "mid_block_type",
                    name == "UNetMidBlock2DCrossAttn",
                    v.to_string(),
                    "\"UNetMidBlock2DCrossAttn\" or null",
                )?;
                true
            }
        };
        let list = |field: &str, default: usize| -> Result<Vec<usize>> {
            Ok(c.opt_usize_list(field, Some(n))?
                .unwrap_or_else(|| vec![default; n]))
        };
        let heads = match c.opt_usize_list("num_attention_heads", Some(n))? {
            Some(h) => h,
            None => list("attention_head_dim", 8)?,
        };
        let addition_embed = match c.opt_str("addition_embed_type")? {
            None => None,
            Some("text_time") => Some(TextTimeEmbedding {
                addition_time_embed_dim: c.usize("addition_time_embed_dim")?,
                projection_class_embeddings_input_dim: c
                    .usize("projection_class_embeddings_input_dim")?,
            }),
            Some(other) => {
                return Err(UnetError::unsupported(
                    "addition_embed_type",
                    other,
                    "\"text_time\" or null",
                ));
            }
        };
        let cfg = Self {
            sample_size: c.opt_usize("sample_size")?.unwrap_or(64),
            in_channels: c.opt_usize("in_channels")?.unwrap_or(4),
            out_channels: c.opt_usize("out_channels")?.unwrap_or(4),
            center_input_sample: b("center_input_sample", false)?,
            flip_sin_to_cos: b("flip_sin_to_cos", true)?,
            freq_shift: c.opt_f64("freq_shift")?.unwrap_or(0.0),
            down_block_types,
            up_block_types,
            mid_block,
            time_embedding_dim: c
                .opt_usize("time_embedding_dim")?
                .unwrap_or(4 * block_out_channels[0]),
            block_out_channels,
            layers_per_block: list("layers_per_block", 2)?,
            downsample_padding: c.opt_usize("downsample_padding")?.unwrap_or(1),
            mid_block_scale_factor: c.opt_f64("mid_block_scale_factor")?.unwrap_or(1.0),
            norm_num_groups: c.opt_usize("norm_num_groups")?.unwrap_or(32),
            norm_eps: c.opt_f64("norm_eps")?.unwrap_or(1e-5),
            cross_attention_dim: list("cross_attention_dim", 1280)?,
            transformer_layers_per_block: list("transformer_layers_per_block", 1)?,
            num_attention_heads: heads,
            use_linear_projection: b("use_linear_projection", false)?,
            addition_embed,
            conv_in_kernel: c.opt_usize("conv_in_kernel")?.unwrap_or(3),
            conv_out_kernel: c.opt_usize("conv_out_kernel")?.unwrap_or(3),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the sizes fit together (the module constructors would otherwise panic).
    ///
    /// # Errors
    /// [`UnetError::Input`] naming the field and the expectation.
    pub fn validate(&self) -> Result<()> {
        let n = self.block_out_channels.len();
        let bad = |argument: &'static str, expected: String, got: String| {
            Err(UnetError::Input {
                argument,
                expected,
                got,
            })
        };
        if n == 0 || self.block_out_channels.contains(&0) {
            return bad(
                "block_out_channels",
                "at least one block, no zero widths".into(),
                format!("{:?}", self.block_out_channels),
            );
        }
        let lens = [
            ("down_block_types", self.down_block_types.len()),
            ("up_block_types", self.up_block_types.len()),
            ("layers_per_block", self.layers_per_block.len()),
            ("cross_attention_dim", self.cross_attention_dim.len()),
            (
                "transformer_layers_per_block",
                self.transformer_layers_per_block.len(),
            ),
            ("num_attention_heads", self.num_attention_heads.len()),
        ];
        for (name, len) in lens {
            if len != n {
                return bad(
                    name,
                    format!("{n} entries (one per block)"),
                    len.to_string(),
                );
            }
        }
        let g = self.norm_num_groups;
        for &c in &self.block_out_channels {
            if g == 0 || c % g != 0 {
                return bad(
                    "norm_num_groups",
                    format!("a divisor of every block_out_channels ({c})"),
                    g.to_string(),
                );
            }
        }
        for (i, (&c, &h)) in self
            .block_out_channels
            .iter()
            .zip(&self.num_attention_heads)
            .enumerate()
        {
            if h == 0 || c % h != 0 {
                return bad(
                    "num_attention_heads",
                    format!("a divisor of block_out_channels[{i}] = {c}"),
                    h.to_string(),
                );
            }
        }
        if self.layers_per_block.contains(&0) {
            return bad(
                "layers_per_block",
                "at least 1".into(),
                format!("{:?}", self.layers_per_block),
            );
        }
        for (name, k) in [
            ("conv_in_kernel", self.conv_in_kernel),
            ("conv_out_kernel", self.conv_out_kernel),
        ] {
            if k % 2 == 0 {
                return bad(
                    if name == "conv_in_kernel" {
                        "conv_in_kernel"
                    } else {
                        "conv_out_kernel"
                    },
                    "an odd kernel size".into(),
                    k.to_string(),
                );
            }
        }
        Ok(())
    }

    /// Number of up-samplers (`len(block_out_channels) − 1`): latent sides that are not
    /// multiples of `2^num_upsamplers` go through diffusers' `upsample_size` path.
    pub fn num_upsamplers(&self) -> usize {
        self.block_out_channels.len() - 1
    }

    /// The model with Burn's default (lazy) initialisation; load weights with
    /// [`UNet2DConditionModel::load`].
    ///
    /// # Errors
    /// [`UnetError::Input`] if [`validate`](Self::validate) fails.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<UNet2DConditionModel<B>> {
        self.validate()?;
        Ok(UNet2DConditionModel::new(self, device))
    }
}
