//! SwinIR as LSRNA uses it: a Swin-transformer feature extractor (`upsampler = 'none'`).
//!
//! Liang et al., "SwinIR: Image Restoration Using Swin Transformer", ICCVW 2021
//! (`JingyunLiang/SwinIR:models/network_swinir.py`), in the variant of `3587jjh/LSRNA:lsr/swinir.py`:
//! no mean normalisation, and with `upsampler = 'none'` a `conv_before_upsample` (embed → 64,
//! LeakyReLU 0.01) produces LIIF's 64 feature channels. The input is reflect-padded at the bottom
//! and right to a multiple of the window and the output cropped back. The shifted-window
//! attention masks are computed for the actual (padded) input size on every call.
//!
//! Shapes: `[N, in_chans, h, w] → [N, 64, h, w]`.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, leaky_relu};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::ops::PadMode;
use burn::tensor::{Int, TensorData};

use crate::{Error, Result};
use ultrares_nn::NnBackend;
use ultrares_nn::attention::attention;
use ultrares_nn::conv::same_conv as conv;
use ultrares_nn::ops::{cast_to, to_f32};
use ultrares_nn::weights::Visitor;

/// SwinIR hyper-parameters; the defaults are LSRNA's SwinIR-light
/// (`3587jjh/LSRNA:lsr/swinir-liif-latent-sdxl.yaml` with the class defaults of `lsr/swinir.py`).
#[derive(Config, Debug)]
pub struct SwinIrConfig {
    /// Training patch size. Only used for upstream's rule that a block whose `img_size` is not
    /// larger than the window uses no shift and a window of `img_size`.
    #[config(default = 32)]
    pub img_size: usize,
    /// Input channels (4 for SD latents, 3 for RGB).
    #[config(default = 4)]
    pub in_chans: usize,
    /// Token width.
    #[config(default = 60)]
    pub embed_dim: usize,
    /// Swin blocks per residual group (RSTB).
    #[config(default = "vec![6, 6, 6, 6]")]
    pub depths: Vec<usize>,
    /// Attention heads per residual group.
    #[config(default = "vec![6, 6, 6, 6]")]
    pub num_heads: Vec<usize>,
    /// Attention window side.
    #[config(default = 8)]
    pub window_size: usize,
    /// MLP hidden width / embed_dim.
    #[config(default = 2.0)]
    pub mlp_ratio: f64,
    /// Bias in the qkv projection.
    #[config(default = true)]
    pub qkv_bias: bool,
    /// LayerNorm after the patch embedding.
    #[config(default = true)]
    pub patch_norm: bool,
}

/// Output channels of the `upsampler = 'none'` head (`num_feat` upstream, fixed).
pub const NUM_FEAT: usize = 64;

impl SwinIrConfig {
    /// Checks the hyper-parameters.
    ///
    /// # Errors
    /// [`Error::Argument`] for zero sizes, mismatched `depths`/`num_heads`, or heads that do not
    /// divide `embed_dim`.
    pub fn validate(&self) -> Result<()> {
        if self.depths.is_empty() || self.depths.len() != self.num_heads.len() {
            return Err(Error::argument(
                "depths, num_heads",
                "non-empty lists of equal length",
                format!("{:?}, {:?}", self.depths, self.num_heads),
            ));
        }
        if let Some(h) = self
            .num_heads
            .iter()
            .find(|&&h| h == 0 || !self.embed_dim.is_multiple_of(h))
        {
            return Err(Error::argument(
                "num_heads",
                format!("divisors of embed_dim {}", self.embed_dim),
                h,
            ));
        }
        for (arg, v) in [
            ("in_chans", self.in_chans),
            ("embed_dim", self.embed_dim),
            ("window_size", self.window_size),
            ("img_size", self.img_size),
        ] {
            if v == 0 {
                return Err(Error::argument(arg, "≥ 1", v));
            }
        }
        if self.mlp_ratio.is_nan() || self.mlp_ratio <= 0.0 {
            return Err(Error::argument("mlp_ratio", "> 0", self.mlp_ratio));
        }
        Ok(())
    }

    /// The window side and cyclic shift the blocks use (upstream: no shift and a window of
    /// `img_size` when `img_size ≤ window_size`).
    pub fn window_and_shift(&self) -> (usize, usize) {
        if self.img_size <= self.window_size {
            (self.img_size, 0)
        } else {
            (self.window_size, self.window_size / 2)
        }
    }

    /// A SwinIR with default-initialised weights.
    ///
    /// # Errors
    /// See [`SwinIrConfig::validate`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<SwinIr<B>> {
        self.validate()?;
        let c = self.embed_dim;
        let (ws, shift) = self.window_and_shift();
        let hidden = (c as f64 * self.mlp_ratio) as usize;
        let layers =
            self.depths
                .iter()
                .zip(&self.num_heads)
                .map(|(&depth, &heads)| Rstb {
                    residual_group: BasicLayer {
                        blocks: (0..depth)
                            .map(|j| SwinBlock {
                                norm1: LayerNormConfig::new(c).init(device),
                                attn: WindowAttention {
                                    relative_position_bias_table: Param::from_tensor(
                                        Tensor::zeros([(2 * ws - 1) * (2 * ws - 1), heads], device),
                                    ),
                                    qkv: LinearConfig::new(c, 3 * c)
                                        .with_bias(self.qkv_bias)
                                        .init(device),
                                    proj: LinearConfig::new(c, c).init(device),
                                    num_heads: heads,
                                },
                                norm2: LayerNormConfig::new(c).init(device),
                                mlp: SwinMlp {
                                    fc1: LinearConfig::new(c, hidden).init(device),
                                    fc2: LinearConfig::new(hidden, c).init(device),
                                },
                                shift_size: if j % 2 == 1 { shift } else { 0 },
                            })
                            .collect(),
                    },
                    conv: conv(c, c, 3, device),
                })
                .collect();
        Ok(SwinIr {
            conv_first: conv(self.in_chans, c, 3, device),
            patch_embed: PatchEmbed {
                norm: self
                    .patch_norm
                    .then(|| LayerNormConfig::new(c).init(device)),
            },
            layers,
            norm: LayerNormConfig::new(c).init(device),
            conv_after_body: conv(c, c, 3, device),
            conv_before_upsample: conv(c, NUM_FEAT, 3, device),
            window_size: ws,
        })
    }
}

/// `patch_embed`: flattening to tokens (patch size 1) and the optional LayerNorm.
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    /// `patch_embed.norm` (present when `patch_norm`).
    pub norm: Option<LayerNorm<B>>,
}

/// Window multi-head self-attention with a learned relative-position bias.
#[derive(Module, Debug)]
pub struct WindowAttention<B: Backend> {
    /// `[(2·ws − 1)², heads]`.
    pub relative_position_bias_table: Param<Tensor<B, 2>>,
    /// `dim → 3·dim`.
    pub qkv: Linear<B>,
    /// `dim → dim`.
    pub proj: Linear<B>,
    /// Heads.
    pub num_heads: usize,
}

/// The Swin MLP: `fc1 → GELU (erf) → fc2`.
#[derive(Module, Debug)]
pub struct SwinMlp<B: Backend> {
    /// `dim → hidden`.
    pub fc1: Linear<B>,
    /// `hidden → dim`.
    pub fc2: Linear<B>,
}

/// `x + W-MSA(LN(x))`, then `x + MLP(LN(x))`; odd blocks shift the windows cyclically.
#[derive(Module, Debug)]
pub struct SwinBlock<B: Backend> {
    /// Pre-attention norm.
    pub norm1: LayerNorm<B>,
    /// Window attention.
    pub attn: WindowAttention<B>,
    /// Pre-MLP norm.
    pub norm2: LayerNorm<B>,
    /// MLP.
    pub mlp: SwinMlp<B>,
    /// Cyclic shift (0 or window/2).
    pub shift_size: usize,
}

/// The Swin blocks of one residual group.
#[derive(Module, Debug)]
pub struct BasicLayer<B: Backend> {
    /// The blocks.
    pub blocks: Vec<SwinBlock<B>>,
}

/// Residual Swin Transformer Block: blocks, a 3×3 conv, plus the group input.
#[derive(Module, Debug)]
pub struct Rstb<B: Backend> {
    /// `residual_group.blocks.*`.
    pub residual_group: BasicLayer<B>,
    /// The closing 3×3 convolution (`resi_connection = '1conv'`).
    pub conv: Conv2d<B>,
}

/// SwinIR feature extractor (see the module docs).
#[derive(Module, Debug)]
pub struct SwinIr<B: Backend> {
    /// `in_chans → embed_dim`, 3×3.
    pub conv_first: Conv2d<B>,
    /// Token LayerNorm.
    pub patch_embed: PatchEmbed<B>,
    /// Residual groups.
    pub layers: Vec<Rstb<B>>,
    /// Final token LayerNorm.
    pub norm: LayerNorm<B>,
    /// `embed_dim → embed_dim`, 3×3, plus the shallow features.
    pub conv_after_body: Conv2d<B>,
    /// `conv_before_upsample.0`: `embed_dim → 64`, 3×3, then LeakyReLU(0.01).
    pub conv_before_upsample: Conv2d<B>,
    /// Effective attention window side.
    pub window_size: usize,
}

/// Swin's relative-position index `[ws², ws²]`, row-major, into the `(2ws − 1)²` table.
pub fn relative_position_index(ws: usize) -> Vec<i64> {
    let n = ws * ws;
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let dy = (i / ws) as i64 - (j / ws) as i64 + ws as i64 - 1;
            let dx = (i % ws) as i64 - (j % ws) as i64 + ws as i64 - 1;
            out.push(dy * (2 * ws as i64 - 1) + dx);
        }
    }
    out
}

/// The shifted-window attention mask `[nW, ws², ws²]` for an `h × w` (multiple of `ws`) map:
/// 0 within a region, −100 across the regions `[0, −ws)`, `[−ws, −shift)`, `[−shift, end)` of
/// each axis (SwinIR's `calculate_mask`).
pub fn shifted_window_mask(h: usize, w: usize, ws: usize, shift: usize) -> Vec<f32> {
    let region = |v: usize, len: usize| {
        if v + ws < len {
            0
        } else if v + shift < len {
            1
        } else {
            2
        }
    };
    let n = ws * ws;
    let mut out = Vec::with_capacity(h / ws * (w / ws) * n * n);
    for wy in 0..h / ws {
        for wx in 0..w / ws {
            let ids: Vec<usize> = (0..n)
                .map(|i| region(wy * ws + i / ws, h) * 3 + region(wx * ws + i % ws, w))
                .collect();
            for &a in &ids {
                out.extend(ids.iter().map(|&b| if a == b { 0.0 } else { -100.0 }));
            }
        }
    }
    out
}

fn window_partition<B: Backend>(x: Tensor<B, 4>, ws: usize) -> Tensor<B, 3> {
    let [b, h, w, c] = x.dims();
    x.reshape([b, h / ws, ws, w / ws, ws, c])
        .permute([0, 1, 3, 2, 4, 5])
        .reshape([b * (h / ws) * (w / ws), ws * ws, c])
}

fn window_reverse<B: Backend>(
    x: Tensor<B, 3>,
    ws: usize,
    b: usize,
    h: usize,
    w: usize,
) -> Tensor<B, 4> {
    let c = x.dims()[2];
    x.reshape([b, h / ws, w / ws, ws, ws, c])
        .permute([0, 1, 3, 2, 4, 5])
        .reshape([b, h, w, c])
}

impl<B: NnBackend> WindowAttention<B> {
    /// `x` `[B·nW, N, C]` → `[B·nW, N, C]`; `bias` `[heads, N, N]`; `mask` `[nW, N, N]` for
    /// shifted windows.
    ///
    /// `softmax(q·kᵀ/√d + bias + mask)·v` through [`ultrares_nn::attention::attention`]: the
    /// bias (plus the mask, as one `[1, nW·heads, N, N]` table with the windows joined to the
    /// heads) broadcasts over the images instead of being expanded to every window.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        bias: Tensor<B, 3>,
        mask: Option<&Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let [bw, n, c] = x.dims();
        let nh = self.num_heads;
        let hd = c / nh;
        // Windows per image in the attention batch: all of them with a mask, else one.
        let nw = mask.map_or(1, |m| m.dims()[0]);
        let qkv = self
            .qkv
            .forward(x)
            .reshape([bw, n, 3, nh, hd])
            .permute([2, 0, 3, 1, 4]);
        let mut parts = qkv
            .chunk(3, 0)
            .into_iter()
            .map(|t| t.reshape([bw / nw, nw * nh, n, hd]));
        let (Some(q), Some(k), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
            unreachable!("chunk(3) of a dimension of size 3 gives 3 parts")
        };
        let bias =
            match mask {
                Some(mask) => (bias.unsqueeze::<4>() + mask.clone().reshape([nw, 1, n, n]))
                    .reshape([1, nw * nh, n, n]),
                None => bias.unsqueeze::<4>(),
            };
        let out = attention(q, k, v, None, Some(bias), AttentionModuleOptions::default())
            .reshape([bw, nh, n, hd])
            .swap_dims(1, 2)
            .reshape([bw, n, c]);
        self.proj.forward(out)
    }

    /// The bias `[heads, N, N]` gathered from the table.
    fn bias(&self, index: &Tensor<B, 1, Int>, n: usize) -> Tensor<B, 3> {
        let heads = self.num_heads;
        self.relative_position_bias_table
            .val()
            .select(0, index.clone())
            .reshape([n, n, heads])
            .permute([2, 0, 1])
    }
}

impl<B: NnBackend> SwinBlock<B> {
    fn forward(
        &self,
        x: Tensor<B, 3>,
        size: [usize; 2],
        ws: usize,
        index: &Tensor<B, 1, Int>,
        mask: &Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        let [b, l, c] = x.dims();
        let [h, w] = size;
        let s = self.shift_size as i64;
        let mut y = self.norm1.forward(x.clone()).reshape([b, h, w, c]);
        // Burn 0.21's `roll(k)` is `cat(x[k..], x[..k])`, i.e. PyTorch's `roll(−k)`: this is
        // upstream's `torch.roll(x, (−shift, −shift), (1, 2))`.
        if s > 0 {
            y = y.roll(&[s, s], &[1, 2]);
        }
        let bias = self.attn.bias(index, ws * ws);
        let windows = self
            .attn
            .forward(window_partition(y, ws), bias, (s > 0).then_some(mask));
        let mut y = window_reverse(windows, ws, b, h, w);
        if s > 0 {
            y = y.roll(&[-s, -s], &[1, 2]);
        }
        let x = x + y.reshape([b, l, c]);
        let m = self
            .mlp
            .fc2
            .forward(gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone()))));
        x + m
    }
}

impl<B: NnBackend> SwinIr<B> {
    /// Features `[N, 64, h, w]` of `x` `[N, in_chans, h, w]`.
    ///
    /// # Errors
    /// [`Error::Core`] (shape) for a wrong channel count or an input too small for the reflect
    /// padding to a multiple of the window (PyTorch rejects those too: the pad must be smaller
    /// than the side).
    pub fn forward(&self, x: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let [b, cin, h, w] = x.dims();
        let ws = self.window_size;
        let pad = |v: usize| (ws - v % ws) % ws;
        let (ph, pw) = (pad(h), pad(w));
        if cin != self.in_chans() || b == 0 || h == 0 || w == 0 || ph >= h || pw >= w {
            return Err(ultrares_core::Error::shape(
                "input",
                format!(
                    "[N, {}, h, w] with N ≥ 1 and each side either a multiple of {ws} or larger \
                     than its reflect padding to one",
                    self.in_chans()
                ),
                &[b, cin, h, w],
            )
            .into());
        }
        let x = if ph + pw > 0 {
            // In f32: Burn 0.21's reflect padding allocates its output in the backend's default
            // float dtype and fails on f16/bf16 inputs. The input is small (a few channels).
            let dtype = x.dtype();
            cast_to(to_f32(x).pad([(0, ph), (0, pw)], PadMode::Reflect), dtype)
        } else {
            x
        };
        let (hp, wp) = (h + ph, w + pw);
        let device = x.device();
        let x0 = self.conv_first.forward(x);
        let c = x0.dims()[1];
        let mut t = x0.clone().reshape([b, c, hp * wp]).swap_dims(1, 2);
        if let Some(norm) = &self.patch_embed.norm {
            t = norm.forward(t);
        }
        let n = ws * ws;
        let index = Tensor::<B, 1, Int>::from_data(
            TensorData::new(relative_position_index(ws), [n * n]),
            &device,
        );
        let shift = self
            .layers
            .iter()
            .flat_map(|l| l.residual_group.blocks.iter())
            .map(|blk| blk.shift_size)
            .max()
            .unwrap_or(0);
        let mask = Tensor::<B, 3>::from_data(
            TensorData::new(
                shifted_window_mask(hp, wp, ws, shift),
                [hp / ws * (wp / ws), n, n],
            ),
            (&device, x0.dtype()),
        );
        for layer in &self.layers {
            let mut y = t.clone();
            for blk in &layer.residual_group.blocks {
                y = blk.forward(y, [hp, wp], ws, &index, &mask);
            }
            let y = y.swap_dims(1, 2).reshape([b, c, hp, wp]);
            t = layer
                .conv
                .forward(y)
                .reshape([b, c, hp * wp])
                .swap_dims(1, 2)
                + t;
        }
        let f = self.norm.forward(t).swap_dims(1, 2).reshape([b, c, hp, wp]);
        let x1 = self.conv_after_body.forward(f) + x0;
        let feat = leaky_relu(self.conv_before_upsample.forward(x1), 0.01);
        Ok(if ph + pw > 0 {
            feat.slice([0..b, 0..NUM_FEAT, 0..h, 0..w])
        } else {
            feat
        })
    }
}

impl<B: Backend> SwinIr<B> {
    /// Input channels.
    pub fn in_chans(&self) -> usize {
        self.conv_first.weight.dims()[1]
    }

    pub(crate) fn walk(&mut self, loader: &mut impl Visitor<B>, prefix: &str) {
        loader.conv2d(&format!("{prefix}.conv_first"), &mut self.conv_first);
        if let Some(norm) = self.patch_embed.norm.as_mut() {
            loader.layer_norm(&format!("{prefix}.patch_embed.norm"), norm);
        }
        let index = relative_position_index(self.window_size);
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (j, blk) in layer.residual_group.blocks.iter_mut().enumerate() {
                let p = format!("{prefix}.layers.{i}.residual_group.blocks.{j}");
                loader.layer_norm(&format!("{p}.norm1"), &mut blk.norm1);
                loader.param(
                    &format!("{p}.attn.relative_position_bias_table"),
                    &mut blk.attn.relative_position_bias_table,
                );
                loader.buffer(&format!("{p}.attn.relative_position_index"), Some(&index));
                loader.linear(&format!("{p}.attn.qkv"), &mut blk.attn.qkv);
                loader.linear(&format!("{p}.attn.proj"), &mut blk.attn.proj);
                loader.layer_norm(&format!("{p}.norm2"), &mut blk.norm2);
                loader.linear(&format!("{p}.mlp.fc1"), &mut blk.mlp.fc1);
                loader.linear(&format!("{p}.mlp.fc2"), &mut blk.mlp.fc2);
                // Valid only for the training size; recomputed for every input instead.
                loader.buffer(&format!("{p}.attn_mask"), None);
            }
            loader.conv2d(&format!("{prefix}.layers.{i}.conv"), &mut layer.conv);
        }
        loader.layer_norm(&format!("{prefix}.norm"), &mut self.norm);
        loader.conv2d(
            &format!("{prefix}.conv_after_body"),
            &mut self.conv_after_body,
        );
        loader.conv2d(
            &format!("{prefix}.conv_before_upsample.0"),
            &mut self.conv_before_upsample,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_index_matches_swin() {
        // ws = 2: offsets (dy, dx) ∈ {−1, 0, 1}², table side 3.
        let idx = relative_position_index(2);
        assert_eq!(idx[0], 4); // i = j: centre of the 3×3 table
        assert_eq!(idx[1], 3); // j one column right of i: dx = −1
        assert_eq!(idx[2], 1); // j one row below: dy = −1
        assert_eq!(*idx.iter().max().unwrap_or(&0), 8);
    }

    #[test]
    fn mask_separates_wrapped_regions() {
        // 16×16 map, window 8, shift 4: the first window is one region, the last has four.
        let m = shifted_window_mask(16, 16, 8, 4);
        let n = 64;
        assert!(m[..n * n].iter().all(|&v| v == 0.0));
        let last = &m[3 * n * n..];
        let distinct = last.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(distinct, 4 * 16 * 16); // four 4×4 regions of 16 tokens
    }
}
