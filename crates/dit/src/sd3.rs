//! diffusers' `SD3Transformer2DModel` (`diffusers/models/transformers/transformer_sd3.py`;
//! Esser et al., *Scaling Rectified Flow Transformers for High-Resolution Image Synthesis*,
//! ICML 2024): the MM-DiT of Stable Diffusion 3 / 3.5 (`../shared/specs/dit.md` §1).
//!
//! Forward: [`PatchEmbed`] (patches + the cropped sin-cos table) → `temb` from the timestep
//! (f32 `1000·σ`, no rounding) and the pooled text embedding → `context_embedder` on the text
//! states → the joint blocks → `norm_out` (`AdaLayerNormContinuous`, `[scale, shift]`) →
//! `proj_out` (`D → p²·C`, channels ordered `(p, q, c)`) → unpatchify
//! (`nhwpqc → nchpwq`).
//!
//! Cost per call (SD3-medium, N = 1, `L` image + `S` text tokens): about
//! `2 · 2.03·10⁹ · (L + S)` FLOP in the linears plus `4 · 24 · (L + S)² · 1536` in attention —
//! 9.8 TFLOP at 1024² (4096 + 333 tokens). Attention memory follows
//! [`ultrares_nn::attention`]: on the CPU backends at most `3 · 4 · max(2²⁴, N·24·(L+S))` bytes
//! of scores at a time (192 MiB at 4096² through the F16 VAE: 16,384 + 333 tokens), never the
//! full `(L+S)²` matrix.

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::linear::linear;
use ultrares_nn::weights::{Loader, Visitor, model_weight_file};
use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::ada_norm::{AdaNorm, layer_norm, modulate};
use crate::config::Sd3TransformerConfig;
use crate::pos_embed::PatchEmbed;
use crate::sd3_block::JointTransformerBlock;
use crate::time_text::TimeTextEmbed;
use crate::{DitError, Result};

/// A named intermediate of [`Sd3Transformer2DModel::forward_traced`] (`[N, L, D]` tokens, or
/// `temb` as `[N, 1, D]`).
pub type Tap<B> = (String, Tensor<B, 3>);

/// `SD3Transformer2DModel` with diffusers' state-dict names (`pos_embed`, `time_text_embed`,
/// `context_embedder`, `transformer_blocks.i`, `norm_out`, `proj_out`).
#[derive(Module, Debug)]
pub struct Sd3Transformer2DModel<B: Backend> {
    /// Patch embedding and position table.
    pub pos_embed: PatchEmbed<B>,
    /// Timestep + pooled-text embedding.
    pub time_text_embed: TimeTextEmbed<B>,
    /// `joint_attention_dim → D`.
    pub context_embedder: Linear<B>,
    /// The joint blocks (the last one context-pre-only).
    pub transformer_blocks: Vec<JointTransformerBlock<B>>,
    /// `AdaLayerNormContinuous` (2 chunks).
    pub norm_out: AdaNorm<B>,
    /// `D → p²·out_channels`.
    pub proj_out: Linear<B>,
    patch: usize,
    in_channels: usize,
    out_channels: usize,
    joint_dim: usize,
    pooled_dim: usize,
}

impl Sd3TransformerConfig {
    /// The model with Burn's default (lazy) initialisation and the formula's position table;
    /// load weights with [`Sd3Transformer2DModel::load`].
    ///
    /// # Errors
    /// [`DitError::Input`] if [`validate`](Self::validate) fails.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Sd3Transformer2DModel<B>> {
        self.validate()?;
        let d = self.inner_dim();
        let n = self.num_layers;
        Ok(Sd3Transformer2DModel {
            pos_embed: PatchEmbed::new(
                self.in_channels,
                d,
                self.patch_size,
                self.pos_embed_max_size,
                self.sample_size,
                device,
            ),
            time_text_embed: TimeTextEmbed::new(d, self.pooled_projection_dim, false, device),
            context_embedder: LinearConfig::new(self.joint_attention_dim, d).init(device),
            transformer_blocks: (0..n)
                .map(|i| {
                    JointTransformerBlock::new(
                        d,
                        self.num_attention_heads,
                        i + 1 == n,
                        self.qk_norm,
                        self.dual_attention_layers.contains(&i),
                        device,
                    )
                })
                .collect(),
            norm_out: AdaNorm::new(d, d, 2, device),
            proj_out: LinearConfig::new(d, self.patch_size.pow(2) * self.out_channels).init(device),
            patch: self.patch_size,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            joint_dim: self.joint_attention_dim,
            pooled_dim: self.pooled_projection_dim,
        })
    }
}

impl<B: Backend> Sd3Transformer2DModel<B> {
    /// Visits every tensor by its diffusers state-dict name.
    pub fn walk(&mut self, v: &mut impl Visitor<B>) {
        self.pos_embed.walk(v, "pos_embed");
        self.time_text_embed.walk(v, "time_text_embed");
        v.linear("context_embedder", &mut self.context_embedder);
        for (i, b) in self.transformer_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("transformer_blocks.{i}"));
        }
        self.norm_out.walk(v, "norm_out");
        v.linear("proj_out", &mut self.proj_out);
    }

    /// The model of `cfg` with the weights of `sd` (diffusers names, the `pos_embed.pos_embed`
    /// table included) in `dtype` (f32, f16 or bf16), one tensor at a time; every missing,
    /// unexpected or mis-shaped key is listed in one error.
    ///
    /// # Errors
    /// [`DitError::Model`] listing the bad keys; [`DitError::Input`] for an invalid config.
    pub fn load(
        cfg: &Sd3TransformerConfig,
        sd: &StateDict,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        let mut model = cfg.init(device)?;
        let mut loader = Loader::new(sd, device).with_dtype(dtype);
        model.walk(&mut loader);
        loader.finish()?;
        Ok(model)
    }

    /// A diffusers `transformer/` folder: `config.json` and `diffusion_pytorch_model[.variant]
    /// .safetensors` (single or sharded) or `.bin`.
    ///
    /// # Errors
    /// As [`Sd3TransformerConfig::from_config_json`] and [`load`](Self::load).
    pub fn from_diffusers_dir(
        dir: &Path,
        variant: Option<&str>,
        dtype: DType,
        device: &B::Device,
    ) -> Result<(Sd3TransformerConfig, Self)> {
        let cfg =
            Sd3TransformerConfig::from_config_json(&ConfigJson::read(dir.join("config.json"))?)?;
        let file = weight_file(dir, variant)?;
        let model = Self::load(&cfg, &StateDict::read(&file)?, dtype, device)?;
        Ok((cfg, model))
    }

    /// The model's compute dtype (its linear weights').
    pub fn dtype(&self) -> DType {
        self.proj_out.weight.val().dtype()
    }

    /// Latent channels the model takes.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
}

/// The weight file of a diffusers model folder, or an error naming the folder and variant.
pub(crate) fn weight_file(dir: &Path, variant: Option<&str>) -> Result<std::path::PathBuf> {
    model_weight_file(dir, variant).ok_or_else(|| {
        DitError::from(ultrares_core::Error::Weights {
            source_name: dir.display().to_string(),
            message: format!(
                "no diffusion_pytorch_model{}.safetensors (or a sharded index, or .bin)",
                variant.map(|v| format!(".{v}")).unwrap_or_default()
            ),
        })
    })
}

impl<B: NnBackend> Sd3Transformer2DModel<B> {
    /// The flow (velocity) prediction for `hidden_states` at `timestep`.
    ///
    /// # Shapes
    /// - `hidden_states`: `[N, in_channels, H, W]`, `H` and `W` multiples of the patch size
    ///   with a grid no larger than `pos_embed_max_size`
    /// - `encoder_hidden_states`: `[N, S, joint_attention_dim]`
    /// - `pooled_projections`: `[N, pooled_projection_dim]`
    /// - `timestep`: `[N]`, `1000·σ` (f32, not rounded)
    /// - output: `[N, out_channels, H, W]` in the model's dtype
    ///
    /// # Errors
    /// [`DitError::Input`] naming the argument with a wrong shape or a too large latent.
    pub fn forward(
        &self,
        hidden_states: Tensor<B, 4>,
        encoder_hidden_states: Tensor<B, 3>,
        pooled_projections: Tensor<B, 2>,
        timestep: Tensor<B, 1>,
    ) -> Result<Tensor<B, 4>> {
        self.run(
            hidden_states,
            encoder_hidden_states,
            pooled_projections,
            timestep,
            None,
        )
    }

    /// As [`forward`](Self::forward), also returning the intermediates diffusers' forward hooks
    /// see: `pos`, `temb`, `ctx`, `block{i}_x`, `block{i}_c` (not for the last block),
    /// `norm_out`.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_traced(
        &self,
        hidden_states: Tensor<B, 4>,
        encoder_hidden_states: Tensor<B, 3>,
        pooled_projections: Tensor<B, 2>,
        timestep: Tensor<B, 1>,
    ) -> Result<(Tensor<B, 4>, Vec<Tap<B>>)> {
        let mut taps = Vec::new();
        let out = self.run(
            hidden_states,
            encoder_hidden_states,
            pooled_projections,
            timestep,
            Some(&mut taps),
        )?;
        Ok((out, taps))
    }

    fn run(
        &self,
        hidden_states: Tensor<B, 4>,
        encoder_hidden_states: Tensor<B, 3>,
        pooled: Tensor<B, 2>,
        timestep: Tensor<B, 1>,
        mut taps: Option<&mut Vec<Tap<B>>>,
    ) -> Result<Tensor<B, 4>> {
        let [n, c, height, width] = hidden_states.dims();
        if c != self.in_channels {
            return Err(DitError::input(
                "hidden_states",
                format!("[N, {}, H, W]", self.in_channels),
                format!("{:?}", hidden_states.dims()),
            ));
        }
        check_cond(
            n,
            &encoder_hidden_states,
            self.joint_dim,
            &pooled,
            self.pooled_dim,
            &timestep,
        )?;
        let mut tap = |name: String, t: &Tensor<B, 3>| {
            if let Some(taps) = taps.as_mut() {
                taps.push((name, t.clone()));
            }
        };
        let dtype = self.dtype();
        let mut x = self.pos_embed.forward(hidden_states.cast(dtype))?;
        tap("pos".into(), &x);
        let temb = self
            .time_text_embed
            .forward(timestep, None, pooled.cast(dtype));
        tap("temb".into(), &temb.clone().unsqueeze_dim(1));
        let mut ctx = linear(&self.context_embedder, encoder_hidden_states.cast(dtype));
        tap("ctx".into(), &ctx);
        for (i, block) in self.transformer_blocks.iter().enumerate() {
            let (nx, nc) = block.forward(x, ctx.clone(), temb.clone());
            x = nx;
            tap(format!("block{i}_x"), &x);
            if let Some(nc) = nc {
                tap(format!("block{i}_c"), &nc);
                ctx = nc;
            }
        }
        let m = self.norm_out.chunks(temb);
        let x = modulate(layer_norm(x), &m[1], &m[0]);
        tap("norm_out".into(), &x);
        let x = linear(&self.proj_out, x);
        let (p, co) = (self.patch, self.out_channels);
        let (h, w) = (height / p, width / p);
        Ok(x.reshape([n, h, w, p, p, co])
            .permute([0, 5, 1, 3, 2, 4])
            .reshape([n, co, height, width]))
    }
}

/// Checks the conditioning of a batch of `n`.
pub(crate) fn check_cond<B: Backend>(
    n: usize,
    encoder_hidden_states: &Tensor<B, 3>,
    joint_dim: usize,
    pooled: &Tensor<B, 2>,
    pooled_dim: usize,
    timestep: &Tensor<B, 1>,
) -> Result<()> {
    let [en, s, ed] = encoder_hidden_states.dims();
    if en != n || ed != joint_dim || s == 0 {
        return Err(DitError::input(
            "encoder_hidden_states",
            format!("[{n}, S ≥ 1, {joint_dim}]"),
            format!("{:?}", encoder_hidden_states.dims()),
        ));
    }
    if pooled.dims() != [n, pooled_dim] {
        return Err(DitError::input(
            "pooled_projections",
            format!("[{n}, {pooled_dim}]"),
            format!("{:?}", pooled.dims()),
        ));
    }
    if timestep.dims() != [n] {
        return Err(DitError::input(
            "timestep",
            format!("[{n}] (one per batch element)"),
            format!("{:?}", timestep.dims()),
        ));
    }
    Ok(())
}
