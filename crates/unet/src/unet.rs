//! diffusers' `UNet2DConditionModel` (`diffusers/models/unets/unet_2d_condition.py`): the
//! denoiser of Stable Diffusion 1.x/2.x and SDXL (Ronneberger et al., *U-Net*, 2015; Rombach et
//! al., *Latent Diffusion Models*, CVPR 2022; Podell et al., *SDXL*, 2023 §2.1–2.2).
//!
//! Forward order (`unet_2d_condition.py:forward`): sinusoidal timestep embedding (f32, then the
//! model dtype) → `time_embedding`; with `text_time`, the pooled text embedding and the
//! sinusoids of the time ids (text first) → `add_embedding`, added; `conv_in`; down blocks
//! collecting skip connections (the `conv_in` output first); mid block; up blocks popping three
//! (`layers_per_block + 1`) skips each, upsampling to the next skip's size when the latent side
//! is not a multiple of `2^num_upsamplers`; `conv_norm_out` → SiLU → `conv_out`.
//!
//! Cost (SDXL base, batch 1): 1.59 TFLOP at a 64² latent, 6.76 at 128², 35.9 at 256²; attention
//! memory is bounded by [`ultrares_nn::attention`]'s chunked path on CPU backends
//! (`3 · 4 · max(2²⁴, N·heads·L)` bytes per call) and by the fused kernel on CubeCL.

use std::path::Path;

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_nn::activation::silu;
use ultrares_nn::conv::{conv2d_nn, same_conv};
use ultrares_nn::embedding::{TimestepEmbedding, TimestepEmbeddingConfig, Timesteps};
use ultrares_nn::sample::Upsample2dConfig;
use ultrares_nn::weights::{Loader, Visitor, model_weight_file};
use ultrares_nn::{ConfigJson, GroupNorm, GroupNormConfig, NnBackend, StateDict};

use crate::config::{BlockType, UNet2DConditionConfig};
use crate::down_block::DownBlock;
use crate::mid_block::MidBlock;
use crate::resnet::ResnetBlock2D;
use crate::transformer_2d::Transformer2DModel;
use crate::up_block::UpBlock;
use crate::{Result, UnetError};

/// SDXL's additional conditioning (`added_cond_kwargs`).
#[derive(Debug, Clone)]
pub struct AddedCond<B: Backend> {
    /// Pooled text embedding `[N, P]` (SDXL: bigG's `text_embeds`, 1280).
    pub text_embeds: Tensor<B, 2>,
    /// Micro-conditioning `[N, K]` in pixels (base: 6 ids `[orig_h, orig_w, crop_top,
    /// crop_left, tgt_h, tgt_w]`; refiner: 5 with the aesthetic score).
    pub time_ids: Tensor<B, 2>,
}

/// `UNet2DConditionModel` with diffusers' state-dict names (`conv_in`, `time_embedding`,
/// `add_embedding`, `down_blocks.i`, `mid_block`, `up_blocks.i`, `conv_norm_out`, `conv_out`).
#[derive(Module, Debug)]
pub struct UNet2DConditionModel<B: Backend> {
    /// `conv_in`: `in_channels → block_out_channels[0]`.
    pub conv_in: Conv2d<B>,
    /// `time_embedding`: `block_out_channels[0] → time_embedding_dim`.
    pub time_embedding: TimestepEmbedding<B>,
    /// `add_embedding` (`text_time` only): `projection_class_embeddings_input_dim →
    /// time_embedding_dim`.
    pub add_embedding: Option<TimestepEmbedding<B>>,
    /// `down_blocks.i`.
    pub down_blocks: Vec<DownBlock<B>>,
    /// `mid_block`.
    pub mid_block: Option<MidBlock<B>>,
    /// `up_blocks.i`.
    pub up_blocks: Vec<UpBlock<B>>,
    /// `conv_norm_out`.
    pub conv_norm_out: GroupNorm<B>,
    /// `conv_out`: `block_out_channels[0] → out_channels`.
    pub conv_out: Conv2d<B>,
    in_channels: usize,
    center_input_sample: bool,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    addition_time_embed_dim: usize,
    add_input_dim: usize,
    cross_attention_dim: Vec<usize>,
}

/// A named intermediate of [`UNet2DConditionModel::forward_traced`] (`emb` is `[N, D, 1, 1]`).
pub type Tap<B> = (String, Tensor<B, 4>);

impl<B: Backend> UNet2DConditionModel<B> {
    /// The modules of `cfg` (lazily initialised); see [`UNet2DConditionConfig::init`].
    pub(crate) fn new(cfg: &UNet2DConditionConfig, device: &B::Device) -> Self {
        let ch = &cfg.block_out_channels;
        let n = ch.len();
        let temb = cfg.time_embedding_dim;
        let groups = cfg.norm_num_groups;
        let resnet =
            |cin, cout| ResnetBlock2D::new(cin, cout, temb, groups, cfg.norm_eps, 1.0, device);
        let transformer = |c, i: usize, layers| {
            Transformer2DModel::new(
                c,
                cfg.num_attention_heads[i],
                layers,
                cfg.cross_attention_dim[i],
                groups,
                cfg.use_linear_projection,
                device,
            )
        };
        let mut down_blocks = Vec::with_capacity(n);
        let mut out = ch[0];
        for (i, &kind) in cfg.down_block_types.iter().enumerate() {
            let cin = out;
            out = ch[i];
            let layers = cfg.layers_per_block[i];
            down_blocks.push(DownBlock {
                resnets: (0..layers)
                    .map(|j| resnet(if j == 0 { cin } else { out }, out))
                    .collect(),
                attentions: match kind {
                    BlockType::CrossAttn => (0..layers)
                        .map(|_| transformer(out, i, cfg.transformer_layers_per_block[i]))
                        .collect(),
                    BlockType::Plain => Vec::new(),
                },
                downsamplers: if i + 1 < n {
                    vec![DownBlock::downsampler(out, cfg.downsample_padding, device)]
                } else {
                    Vec::new()
                },
            });
        }
        let last = ch[n - 1];
        let mid_block = cfg.mid_block.then(|| MidBlock {
            resnets: (0..2)
                .map(|_| {
                    ResnetBlock2D::new(
                        last,
                        last,
                        temb,
                        groups,
                        cfg.norm_eps,
                        cfg.mid_block_scale_factor,
                        device,
                    )
                })
                .collect(),
            attentions: vec![transformer(
                last,
                n - 1,
                cfg.transformer_layers_per_block[n - 1],
            )],
        });
        let mut up_blocks = Vec::with_capacity(n);
        let mut out = last;
        for (i, &kind) in cfg.up_block_types.iter().enumerate() {
            let r = n - 1 - i; // the down block this one mirrors
            let prev = out;
            out = ch[r];
            let skip_in = ch[r.saturating_sub(1)];
            let layers = cfg.layers_per_block[r] + 1;
            up_blocks.push(UpBlock {
                resnets: (0..layers)
                    .map(|j| {
                        let skip = if j + 1 == layers { skip_in } else { out };
                        let cin = if j == 0 { prev } else { out };
                        resnet(cin + skip, out)
                    })
                    .collect(),
                attentions: match kind {
                    BlockType::CrossAttn => (0..layers)
                        .map(|_| transformer(out, r, cfg.transformer_layers_per_block[r]))
                        .collect(),
                    BlockType::Plain => Vec::new(),
                },
                upsamplers: if i + 1 < n {
                    vec![Upsample2dConfig::new(out).init(device)]
                } else {
                    Vec::new()
                },
            });
        }
        let time = |cin| {
            TimestepEmbeddingConfig::new(cin, temb)
                .init(device)
                .expect("silu is a known activation")
        };
        Self {
            conv_in: same_conv(cfg.in_channels, ch[0], cfg.conv_in_kernel, device),
            time_embedding: time(ch[0]),
            add_embedding: cfg
                .addition_embed
                .map(|a| time(a.projection_class_embeddings_input_dim)),
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out: GroupNormConfig::new(groups, ch[0])
                .with_epsilon(cfg.norm_eps)
                .init(device),
            conv_out: same_conv(ch[0], cfg.out_channels, cfg.conv_out_kernel, device),
            in_channels: cfg.in_channels,
            center_input_sample: cfg.center_input_sample,
            flip_sin_to_cos: cfg.flip_sin_to_cos,
            freq_shift: cfg.freq_shift,
            addition_time_embed_dim: cfg.addition_embed.map_or(0, |a| a.addition_time_embed_dim),
            add_input_dim: cfg
                .addition_embed
                .map_or(0, |a| a.projection_class_embeddings_input_dim),
            cross_attention_dim: cfg.cross_attention_dim.clone(),
        }
    }

    /// Visits every tensor by its diffusers state-dict name.
    pub fn walk(&mut self, v: &mut impl Visitor<B>) {
        v.conv2d("conv_in", &mut self.conv_in);
        v.linear("time_embedding.linear_1", &mut self.time_embedding.linear_1);
        v.linear("time_embedding.linear_2", &mut self.time_embedding.linear_2);
        if let Some(a) = self.add_embedding.as_mut() {
            v.linear("add_embedding.linear_1", &mut a.linear_1);
            v.linear("add_embedding.linear_2", &mut a.linear_2);
        }
        for (i, b) in self.down_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("down_blocks.{i}"));
        }
        if let Some(m) = self.mid_block.as_mut() {
            m.walk(v, "mid_block");
        }
        for (i, b) in self.up_blocks.iter_mut().enumerate() {
            b.walk(v, &format!("up_blocks.{i}"));
        }
        v.group_norm("conv_norm_out", &mut self.conv_norm_out);
        v.conv2d("conv_out", &mut self.conv_out);
    }

    /// The model of `cfg` with the weights of `sd` (diffusers names), Linear and convolution
    /// weights in `dtype` (f32, f16 or bf16; norms stay f32), one tensor at a time. Every
    /// missing, unexpected, mis-shaped or unreadable key is listed in one error.
    ///
    /// # Errors
    /// [`UnetError::Model`] listing the bad keys; [`UnetError::Input`] for an invalid config.
    pub fn load(
        cfg: &UNet2DConditionConfig,
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

    /// A diffusers `unet/` folder: `config.json` and `diffusion_pytorch_model[.variant]
    /// .safetensors` (single or sharded) or `.bin`.
    ///
    /// # Errors
    /// As [`UNet2DConditionConfig::from_config_json`] and [`load`](Self::load); a missing weight
    /// file names the folder and the variant.
    pub fn from_diffusers_dir(
        dir: &Path,
        variant: Option<&str>,
        dtype: DType,
        device: &B::Device,
    ) -> Result<(UNet2DConditionConfig, Self)> {
        let cfg =
            UNet2DConditionConfig::from_config_json(&ConfigJson::read(dir.join("config.json"))?)?;
        let file = model_weight_file(dir, variant).ok_or_else(|| {
            UnetError::from(ultrares_core::Error::Weights {
                source_name: dir.display().to_string(),
                message: format!(
                    "no diffusion_pytorch_model{}.safetensors (or a sharded index, or .bin)",
                    variant.map(|v| format!(".{v}")).unwrap_or_default()
                ),
            })
        })?;
        let model = Self::load(&cfg, &StateDict::read(&file)?, dtype, device)?;
        Ok((cfg, model))
    }

    /// The dtype of the convolution weights (the model's compute dtype).
    pub fn dtype(&self) -> DType {
        self.conv_in.weight.val().dtype()
    }

    /// `in_channels`.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// `cross_attention_dim` of the first block (the text-state width the model expects).
    pub fn cross_attention_dim(&self) -> usize {
        self.cross_attention_dim[0]
    }

    /// Whether the model takes [`AddedCond`] (SDXL's `text_time`).
    pub fn takes_added_cond(&self) -> bool {
        self.add_embedding.is_some()
    }

    /// Pooled width + ids × `addition_time_embed_dim` that `add_embedding` expects (0 without).
    pub fn added_cond_dim(&self) -> (usize, usize) {
        (self.add_input_dim, self.addition_time_embed_dim)
    }
}

impl<B: NnBackend> UNet2DConditionModel<B> {
    /// The prediction for `sample` at `timesteps`.
    ///
    /// # Shapes
    /// - `sample`: `[N, in_channels, h, w]` (any `h, w ≥ 1`)
    /// - `timesteps`: `[N]` or `[1]` (broadcast), in the scheduler's units
    /// - `encoder_hidden_states`: `[N, S, cross_attention_dim]`
    /// - `added`: [`AddedCond`] with `[N, P]` and `[N, K]`, required iff the model has
    ///   `add_embedding`
    /// - output: `[N, out_channels, h, w]` in the model's dtype
    ///
    /// # Errors
    /// [`UnetError::Input`] naming the argument with a wrong shape, a missing or unexpected
    /// `added`, or non-finite values in the conditioning.
    pub fn forward(
        &self,
        sample: Tensor<B, 4>,
        timesteps: Tensor<B, 1>,
        encoder_hidden_states: Tensor<B, 3>,
        added: Option<AddedCond<B>>,
    ) -> Result<Tensor<B, 4>> {
        self.run(sample, timesteps, encoder_hidden_states, added, None)
    }

    /// As [`forward`](Self::forward), also returning the intermediates diffusers' forward hooks
    /// see: `emb` (time + added embedding), `conv_in`, `down_blocks.i`, `mid_block`,
    /// `up_blocks.i`, `out`.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_traced(
        &self,
        sample: Tensor<B, 4>,
        timesteps: Tensor<B, 1>,
        encoder_hidden_states: Tensor<B, 3>,
        added: Option<AddedCond<B>>,
    ) -> Result<(Tensor<B, 4>, Vec<Tap<B>>)> {
        let mut taps = Vec::new();
        let out = self.run(
            sample,
            timesteps,
            encoder_hidden_states,
            added,
            Some(&mut taps),
        )?;
        Ok((out, taps))
    }

    fn run(
        &self,
        sample: Tensor<B, 4>,
        timesteps: Tensor<B, 1>,
        context: Tensor<B, 3>,
        added: Option<AddedCond<B>>,
        mut taps: Option<&mut Vec<Tap<B>>>,
    ) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = sample.dims();
        let dtype = self.dtype();
        if c != self.in_channels || n == 0 || h == 0 || w == 0 {
            return Err(UnetError::input(
                "sample",
                format!("[N ≥ 1, {}, h ≥ 1, w ≥ 1]", self.in_channels),
                [n, c, h, w],
            ));
        }
        let t = match timesteps.dims()[0] {
            1 if n > 1 => timesteps.repeat_dim(0, n),
            m if m == n => timesteps,
            m => {
                return Err(UnetError::input(
                    "timesteps",
                    format!("[{n}] or [1] (one per sample)"),
                    [m],
                ));
            }
        };
        let [cn, _, cd] = context.dims();
        if cn != n || cd != self.cross_attention_dim() {
            return Err(UnetError::input(
                "encoder_hidden_states",
                format!("[{n}, S, {}]", self.cross_attention_dim()),
                context.dims(),
            ));
        }
        let mut record = |name: String, x: &Tensor<B, 4>| {
            if let Some(t) = taps.as_deref_mut() {
                t.push((name, x.clone()));
            }
        };
        let c0 = self.time_embedding.linear_1.weight.dims()[0];
        let t_emb = Timesteps {
            num_channels: c0,
            flip_sin_to_cos: self.flip_sin_to_cos,
            downscale_freq_shift: self.freq_shift,
            scale: 1.0,
            max_period: 10000.0,
        }
        .forward(t)
        .cast(dtype);
        let mut emb = self.time_embedding.forward(t_emb);
        match (&self.add_embedding, added) {
            (Some(add), Some(a)) => emb = emb + add.forward(self.added_input(a, n)?.cast(dtype)),
            (None, None) => {}
            (Some(_), None) => {
                return Err(UnetError::input(
                    "added_cond",
                    "text_embeds and time_ids (the model has addition_embed_type text_time)",
                    "none",
                ));
            }
            (None, Some(_)) => {
                return Err(UnetError::input(
                    "added_cond",
                    "none (the model has no add_embedding)",
                    "text_embeds and time_ids",
                ));
            }
        }
        let [_, d] = emb.dims();
        record("emb".into(), &emb.clone().reshape([n, d, 1, 1]));
        let temb_act = silu(emb);
        let context = context.cast(dtype);
        let band = B::conv_gemm_band();

        let mut x = sample.cast(dtype);
        if self.center_input_sample {
            x = x.mul_scalar(2.0).sub_scalar(1.0);
        }
        x = conv2d_nn(&self.conv_in, x, band);
        record("conv_in".into(), &x);
        let mut skips = vec![x.clone()];
        for (i, block) in self.down_blocks.iter().enumerate() {
            x = block.forward(x, &temb_act, &context, &mut skips);
            record(format!("down_blocks.{i}"), &x);
        }
        if let Some(mid) = &self.mid_block {
            x = mid.forward(x, &temb_act, &context);
            record("mid_block".into(), &x);
        }
        let up_factor = 1usize << self.up_blocks.len().saturating_sub(1);
        let odd = h % up_factor != 0 || w % up_factor != 0;
        for (i, block) in self.up_blocks.iter().enumerate() {
            let rest = skips.len().saturating_sub(block.resnets.len());
            let size = if odd && !block.upsamplers.is_empty() {
                rest.checked_sub(1).and_then(|k| skips.get(k)).map(|s| {
                    let [_, _, sh, sw] = s.dims();
                    [sh, sw]
                })
            } else {
                None
            };
            x = block.forward(x, &mut skips, &temb_act, &context, size);
            record(format!("up_blocks.{i}"), &x);
        }
        let x = conv2d_nn(&self.conv_out, self.conv_norm_out.forward_silu(x), band);
        record("out".into(), &x);
        Ok(x)
    }

    /// `cat([text_embeds, sinusoid(time_ids).reshape(N, −1)], −1)`, checked.
    fn added_input(&self, a: AddedCond<B>, n: usize) -> Result<Tensor<B, 2>> {
        let [tn, p] = a.text_embeds.dims();
        let [in_, k] = a.time_ids.dims();
        let dim = self.addition_time_embed_dim;
        if tn != n || in_ != n || p + k * dim != self.add_input_dim {
            return Err(UnetError::input(
                "added_cond",
                format!(
                    "text_embeds [{n}, P] and time_ids [{n}, K] with P + K·{dim} = {} \
                     (projection_class_embeddings_input_dim)",
                    self.add_input_dim
                ),
                format!("text_embeds [{tn}, {p}], time_ids [{in_}, {k}]"),
            ));
        }
        let ids = a.time_ids.cast(DType::F32).reshape([n * k]);
        let te = Timesteps {
            num_channels: dim,
            flip_sin_to_cos: self.flip_sin_to_cos,
            downscale_freq_shift: self.freq_shift,
            scale: 1.0,
            max_period: 10000.0,
        }
        .forward(ids)
        .reshape([n, k * dim]);
        Ok(Tensor::cat(vec![a.text_embeds.cast(DType::F32), te], 1))
    }
}
