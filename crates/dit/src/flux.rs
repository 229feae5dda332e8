//! diffusers' `FluxTransformer2DModel` (`diffusers/models/transformers/transformer_flux.py`;
//! Black Forest Labs, FLUX.1, 2024): 19 double-stream and 38 single-stream blocks over packed
//! latents with 3-axis RoPE (`../shared/specs/dit.md` §2).
//!
//! Forward: `x_embedder` on the packed latent; `timestep.to(dtype)·1000` and
//! `guidance.to(dtype)·1000` — in bf16 both round twice (0.998 → 996, guidance 3.5 → 3504), as
//! diffusers does — into `temb` with the pooled CLIP embedding; `context_embedder` on the T5
//! states; RoPE over `cat(txt_ids, img_ids)`; the double blocks; the single blocks on
//! `cat(text, image)`; the image tokens through `norm_out` (`[scale, shift]`) and `proj_out`.
//!
//! Cost per call (Flux-dev, N = 1, `L` image + `S` text tokens): about
//! `2 · 11.9·10⁹ · (L + S)` FLOP in the linears plus `4 · 57 · (L + S)² · 3072` in attention.
//! Attention memory on the CPU backends: at most `3 · 4 · max(2²⁴, N·24·(L+S))` bytes of scores
//! at a time ([`ultrares_nn::attention`]).

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::linear::linear;
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{ConfigJson, NnBackend, StateDict};

use crate::ada_norm::{AdaNorm, layer_norm, modulate};
use crate::config::FluxTransformerConfig;
use crate::flux_block::FluxTransformerBlock;
use crate::flux_single_block::FluxSingleTransformerBlock;
use crate::rope::Rope;
use crate::sd3::{Tap, check_cond, weight_file};
use crate::time_text::TimeTextEmbed;
use crate::{DitError, Result};

/// RoPE θ of FLUX.1.
pub const FLUX_ROPE_THETA: f64 = 10000.0;

/// `FluxTransformer2DModel` with diffusers' state-dict names (`x_embedder`, `time_text_embed`,
/// `context_embedder`, `transformer_blocks.i`, `single_transformer_blocks.i`, `norm_out`,
/// `proj_out`).
#[derive(Module, Debug)]
pub struct FluxTransformer2DModel<B: Backend> {
    /// `in_channels → D`.
    pub x_embedder: Linear<B>,
    /// Timestep (+ guidance) + pooled-text embedding.
    pub time_text_embed: TimeTextEmbed<B>,
    /// `joint_attention_dim → D`.
    pub context_embedder: Linear<B>,
    /// Double-stream blocks.
    pub transformer_blocks: Vec<FluxTransformerBlock<B>>,
    /// Single-stream blocks.
    pub single_transformer_blocks: Vec<FluxSingleTransformerBlock<B>>,
    /// `AdaLayerNormContinuous` (2 chunks).
    pub norm_out: AdaNorm<B>,
    /// `D → out_channels`.
    pub proj_out: Linear<B>,
    in_channels: usize,
    joint_dim: usize,
    pooled_dim: usize,
    axes_dims_rope: Vec<usize>,
}

impl FluxTransformerConfig {
    /// The model with Burn's default (lazy) initialisation; load weights with
    /// [`FluxTransformer2DModel::load`].
    ///
    /// # Errors
    /// [`DitError::Input`] if [`validate`](Self::validate) fails.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<FluxTransformer2DModel<B>> {
        self.validate()?;
        let d = self.inner_dim();
        let heads = self.num_attention_heads;
        Ok(FluxTransformer2DModel {
            x_embedder: LinearConfig::new(self.in_channels, d).init(device),
            time_text_embed: TimeTextEmbed::new(
                d,
                self.pooled_projection_dim,
                self.guidance_embeds,
                device,
            ),
            context_embedder: LinearConfig::new(self.joint_attention_dim, d).init(device),
            transformer_blocks: (0..self.num_layers)
                .map(|_| FluxTransformerBlock::new(d, heads, device))
                .collect(),
            single_transformer_blocks: (0..self.num_single_layers)
                .map(|_| FluxSingleTransformerBlock::new(d, heads, device))
                .collect(),
            norm_out: AdaNorm::new(d, d, 2, device),
            proj_out: LinearConfig::new(d, self.out_channels).init(device),
            in_channels: self.in_channels,
            joint_dim: self.joint_attention_dim,
            pooled_dim: self.pooled_projection_dim,
            axes_dims_rope: self.axes_dims_rope.clone(),
        })
    }
}

impl<B: Backend> FluxTransformer2DModel<B> {
    /// Visits every tensor by its diffusers state-dict name.
    pub fn walk(&mut self, v: &mut impl Visitor<B>) {
        v.linear("x_embedder", &mut self.x_embedder);
        self.time_text_embed.walk(v, "time_text_embed");
        v.linear("context_embedder", &mut self.context_embedder);
        for (i, b) in self.transformer_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("transformer_blocks.{i}"));
        }
        for (i, b) in self.single_transformer_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("single_transformer_blocks.{i}"));
        }
        self.norm_out.walk(v, "norm_out");
        v.linear("proj_out", &mut self.proj_out);
    }

    /// The model of `cfg` with the weights of `sd` (diffusers names) in `dtype`, one tensor at a
    /// time; every missing, unexpected or mis-shaped key is listed in one error.
    ///
    /// # Errors
    /// [`DitError::Model`] listing the bad keys; [`DitError::Input`] for an invalid config.
    pub fn load(
        cfg: &FluxTransformerConfig,
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

    /// A diffusers `transformer/` folder.
    ///
    /// # Errors
    /// As [`FluxTransformerConfig::from_config_json`] and [`load`](Self::load).
    pub fn from_diffusers_dir(
        dir: &Path,
        variant: Option<&str>,
        dtype: DType,
        device: &B::Device,
    ) -> Result<(FluxTransformerConfig, Self)> {
        let cfg =
            FluxTransformerConfig::from_config_json(&ConfigJson::read(dir.join("config.json"))?)?;
        let file = weight_file(dir, variant)?;
        let model = Self::load(&cfg, &StateDict::read(&file)?, dtype, device)?;
        Ok((cfg, model))
    }

    /// The model's compute dtype.
    pub fn dtype(&self) -> DType {
        self.proj_out.weight.val().dtype()
    }

    /// Whether the model takes a guidance value (Flux-dev).
    pub fn guidance_embeds(&self) -> bool {
        self.time_text_embed.guidance_embedder.is_some()
    }

    /// Channels of a packed token (`4 ·` latent channels).
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
}

/// Flux's `t.to(dtype) · 1000`: the value rounded to `dtype`, multiplied in `dtype` (bf16 rounds
/// twice), returned in f32 as the sinusoidal embedding reads it.
pub fn scale_timestep<B: Backend>(t: Tensor<B, 1>, dtype: DType) -> Tensor<B, 1> {
    let t = if t.dtype() == dtype { t } else { t.cast(dtype) };
    t.mul_scalar(1000.0).cast(DType::F32)
}

impl<B: NnBackend> FluxTransformer2DModel<B> {
    /// The flow prediction for the packed latent `hidden_states`.
    ///
    /// # Shapes
    /// - `hidden_states`: `[N, L, in_channels]` ([`crate::pack_latents`])
    /// - `encoder_hidden_states`: `[N, S, joint_attention_dim]` (T5)
    /// - `pooled_projections`: `[N, pooled_projection_dim]` (CLIP-L pooled)
    /// - `timestep`: `[N]`, `σ` (diffusers' pipelines pass `t/1000`)
    /// - `img_ids`: `[L, 3]`, `txt_ids`: `[S, 3]`
    /// - `guidance`: `[N]` (e.g. 3.5), required iff the model has `guidance_embeds`
    /// - output: `[N, L, out_channels]` in the model's dtype
    ///
    /// # Errors
    /// [`DitError::Input`] naming the argument with a wrong shape, or a missing/unexpected
    /// guidance.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        hidden_states: Tensor<B, 3>,
        encoder_hidden_states: Tensor<B, 3>,
        pooled_projections: Tensor<B, 2>,
        timestep: Tensor<B, 1>,
        img_ids: Tensor<B, 2>,
        txt_ids: Tensor<B, 2>,
        guidance: Option<Tensor<B, 1>>,
    ) -> Result<Tensor<B, 3>> {
        let cond = FluxCond {
            encoder_hidden_states,
            pooled_projections,
            timestep,
            img_ids,
            txt_ids,
            guidance,
        };
        self.run(hidden_states, cond, None)
    }

    /// As [`forward`](Self::forward), also returning the intermediates diffusers' forward hooks
    /// see: `x`, `temb`, `ctx`, `double{i}_x`, `double{i}_c`, `single{i}_x`, `single{i}_c`,
    /// `norm_out`.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_traced(
        &self,
        hidden_states: Tensor<B, 3>,
        encoder_hidden_states: Tensor<B, 3>,
        pooled_projections: Tensor<B, 2>,
        timestep: Tensor<B, 1>,
        img_ids: Tensor<B, 2>,
        txt_ids: Tensor<B, 2>,
        guidance: Option<Tensor<B, 1>>,
    ) -> Result<(Tensor<B, 3>, Vec<Tap<B>>)> {
        let cond = FluxCond {
            encoder_hidden_states,
            pooled_projections,
            timestep,
            img_ids,
            txt_ids,
            guidance,
        };
        let mut taps = Vec::new();
        let out = self.run(hidden_states, cond, Some(&mut taps))?;
        Ok((out, taps))
    }

    fn run(
        &self,
        hidden_states: Tensor<B, 3>,
        cond: FluxCond<B>,
        mut taps: Option<&mut Vec<Tap<B>>>,
    ) -> Result<Tensor<B, 3>> {
        let [n, l, c] = hidden_states.dims();
        if c != self.in_channels {
            return Err(DitError::input(
                "hidden_states",
                format!("[N, L, {}] (packed latents)", self.in_channels),
                format!("{:?}", hidden_states.dims()),
            ));
        }
        check_cond(
            n,
            &cond.encoder_hidden_states,
            self.joint_dim,
            &cond.pooled_projections,
            self.pooled_dim,
            &cond.timestep,
        )?;
        let s = cond.encoder_hidden_states.dims()[1];
        let axes = self.axes_dims_rope.len();
        for (name, ids, len) in [("img_ids", &cond.img_ids, l), ("txt_ids", &cond.txt_ids, s)] {
            if ids.dims() != [len, axes] {
                return Err(DitError::input(
                    name,
                    format!("[{len}, {axes}] (one id row per token)"),
                    format!("{:?}", ids.dims()),
                ));
            }
        }
        let guidance = match (self.guidance_embeds(), cond.guidance) {
            (true, Some(g)) if g.dims() == [n] => Some(g),
            (true, g) => {
                return Err(DitError::input(
                    "guidance",
                    format!("[{n}] (this model embeds the guidance scale)"),
                    g.map_or("nothing".into(), |g| format!("{:?}", g.dims())),
                ));
            }
            (false, Some(_)) => {
                return Err(DitError::input(
                    "guidance",
                    "nothing (this model has no guidance embedding)",
                    "a guidance tensor",
                ));
            }
            (false, None) => None,
        };
        let tracing = taps.is_some();
        let mut tap = |name: String, t: &Tensor<B, 3>| {
            if let Some(taps) = taps.as_mut() {
                taps.push((name, t.clone()));
            }
        };
        let dtype = self.dtype();
        let mut x = linear(&self.x_embedder, hidden_states.cast(dtype));
        tap("x".into(), &x);
        let timestep = scale_timestep(cond.timestep, dtype);
        let guidance = guidance.map(|g| scale_timestep(g, dtype));
        let temb =
            self.time_text_embed
                .forward(timestep, guidance, cond.pooled_projections.cast(dtype));
        tap("temb".into(), &temb.clone().unsqueeze_dim(1));
        let mut ctx = linear(
            &self.context_embedder,
            cond.encoder_hidden_states.cast(dtype),
        );
        tap("ctx".into(), &ctx);
        let ids = Tensor::cat(vec![cond.txt_ids, cond.img_ids], 0);
        let rope = Rope::new(ids, &self.axes_dims_rope, FLUX_ROPE_THETA)?;
        for (i, block) in self.transformer_blocks.iter().enumerate() {
            let (nx, nc) = block.forward(x, ctx, temb.clone(), &rope);
            tap(format!("double{i}_x"), &nx);
            tap(format!("double{i}_c"), &nc);
            (x, ctx) = (nx, nc);
        }
        let d = x.dims()[2];
        let mut joint = Tensor::cat(vec![ctx, x], 1);
        for (i, block) in self.single_transformer_blocks.iter().enumerate() {
            joint = block.forward(joint, temb.clone(), &rope);
            if tracing {
                tap(
                    format!("single{i}_x"),
                    &joint.clone().slice([0..n, s..s + l, 0..d]),
                );
                tap(
                    format!("single{i}_c"),
                    &joint.clone().slice([0..n, 0..s, 0..d]),
                );
            }
        }
        let x = joint.slice([0..n, s..s + l, 0..d]);
        let m = self.norm_out.chunks(temb);
        let x = modulate(layer_norm(x), &m[1], &m[0]);
        tap("norm_out".into(), &x);
        Ok(linear(&self.proj_out, x))
    }
}

/// The conditioning of one Flux call.
struct FluxCond<B: Backend> {
    encoder_hidden_states: Tensor<B, 3>,
    pooled_projections: Tensor<B, 2>,
    timestep: Tensor<B, 1>,
    img_ids: Tensor<B, 2>,
    txt_ids: Tensor<B, 2>,
    guidance: Option<Tensor<B, 1>>,
}
