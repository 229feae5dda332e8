//! The generators: WaveDiff's `WaveletNCSNpp` and DDGAN's `NCSNpp`
//! (`WaveDiff:score_sde/models/ncsnpp_generator_adagn.py`, spec `wavelet.md` §2.5), one
//! structure with the official module list `all_modules.{i}` and `z_transform.{i}` numbered as
//! the official constructor appends them.

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use ultrares_nn::activation::silu;
use ultrares_nn::conv::conv2d_nn;
use ultrares_nn::embedding::timestep_embedding;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::{CastMapper, concat};
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{GroupNorm, GroupNormConfig, StateDict};

use crate::attn_block::AttnBlock;
use crate::config::groups;
use crate::init::Init;
use crate::pyramid::PyramidDownsample;
use crate::resblock::{BlockSpec, HighBands, Resample, ResnetBlock, ddpm_conv};
use crate::{GeneratorConfig, NetType, Result, WaveDiffBackend, WaveDiffError, haar};

const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// One encoder level: `num_res_blocks` blocks (each followed by attention at the attention
/// resolutions), then, except at the last level, a down block and the input-pyramid
/// downsampler.
#[derive(Module, Debug)]
pub struct DownLevel<B: Backend> {
    /// Residual blocks.
    pub blocks: Vec<ResnetBlock<B>>,
    /// One attention block after each residual block, or none.
    pub attn: Vec<AttnBlock<B>>,
    /// The down block (`ResnetBlock(down=True)`).
    pub down: Option<ResnetBlock<B>>,
    /// The input-pyramid downsampler.
    pub pyramid: Option<PyramidDownsample<B>>,
}

/// One decoder level: `num_res_blocks + 1` blocks over `cat[h, skip]`, attention at the
/// attention resolutions, then, except at level 0, an up block.
#[derive(Module, Debug)]
pub struct UpLevel<B: Backend> {
    /// Residual blocks.
    pub blocks: Vec<ResnetBlock<B>>,
    /// Attention after the blocks.
    pub attn: Option<AttnBlock<B>>,
    /// The up block (`ResnetBlock(up=True)`).
    pub up: Option<ResnetBlock<B>>,
}

/// `WaveletNCSNpp` ([`NetType::Wavelet`]) or `NCSNpp` ([`NetType::Normal`]): predicts `x₀`
/// from `x_{t+1}`, the integer step `t` and the latent `z`.
///
/// State-dict names: `all_modules.0`/`.1` (time-embedding dense layers), `all_modules.2`
/// (input conv), then the encoder, the bottleneck (block, attention, block), the decoder, the
/// output GroupNorm and conv, in construction order; `z_transform.{1,3,5,…}` (the mapping
/// network's dense layers).
#[derive(Module, Debug)]
pub struct Ncsnpp<B: Backend> {
    /// `nf → 4nf`.
    pub temb_0: Linear<B>,
    /// `4nf → 4nf`.
    pub temb_1: Linear<B>,
    /// 3×3, `num_channels·p² → nf`.
    pub conv_in: Conv2d<B>,
    /// Encoder levels.
    pub down: Vec<DownLevel<B>>,
    /// First bottleneck block (`Res_mid1`).
    pub mid_0: ResnetBlock<B>,
    /// Bottleneck attention.
    pub mid_attn: AttnBlock<B>,
    /// Second bottleneck block (`Res_mid2`, applied twice by the wavelet generator).
    pub mid_1: ResnetBlock<B>,
    /// Decoder levels, from the deepest.
    pub up: Vec<UpLevel<B>>,
    /// Output GroupNorm (ε 10⁻⁶).
    pub norm_out: GroupNorm<B>,
    /// 3×3, `nf·ch_mult[0] → num_channels·p²` (initialised at scale 0).
    pub conv_out: Conv2d<B>,
    /// The z mapping network's dense layers (`nz → z_emb`, then `n_mlp` × `z_emb → z_emb`).
    pub z_transform: Vec<Linear<B>>,
    /// The configuration.
    #[module(skip)]
    pub config: GeneratorConfig,
}

impl<B: Backend> Ncsnpp<B> {
    /// Builds the network with the official initialisation.
    ///
    /// # Errors
    /// [`WaveDiffError::Config`] from [`GeneratorConfig::validate`].
    pub fn new(config: GeneratorConfig, device: &B::Device) -> Result<Self> {
        config.validate()?;
        let nf = config.nf;
        let wavelet = config.net_type == NetType::Wavelet;
        let res = config.all_resolutions();
        let levels = config.ch_mult.len();
        let block = |cin, cout, resample, hi_in| {
            ResnetBlock::new(
                BlockSpec {
                    cin,
                    cout,
                    temb_dim: 4 * nf,
                    zemb_dim: config.z_emb_dim,
                    resample,
                    wavelet,
                    hi_in,
                },
                device,
            )
        };
        let channels = config.channels();
        let mut hs_c = vec![nf];
        let mut hs_c2 = vec![];
        let mut in_ch = nf;
        let mut pyramid_ch = channels;
        let mut down = Vec::with_capacity(levels);
        for (i, &mult) in config.ch_mult.iter().enumerate() {
            let attn_here = config.attn_resolutions.contains(&res[i]);
            let mut blocks = vec![];
            let mut attn = vec![];
            for _ in 0..config.num_res_blocks {
                let out = nf * mult;
                blocks.push(block(in_ch, out, Resample::None, 0));
                in_ch = out;
                if attn_here {
                    attn.push(AttnBlock::new(in_ch, device));
                }
                hs_c.push(in_ch);
            }
            let (mut down_block, mut pyramid) = (None, None);
            if i + 1 < levels {
                hs_c2.push(in_ch);
                down_block = Some(block(in_ch, in_ch, Resample::Down, 0));
                pyramid = Some(PyramidDownsample::new(pyramid_ch, in_ch, wavelet, device));
                pyramid_ch = in_ch;
                hs_c.push(in_ch);
            }
            down.push(DownLevel {
                blocks,
                attn,
                down: down_block,
                pyramid,
            });
        }
        let mid_0 = block(in_ch, in_ch, Resample::None, 0);
        let mid_attn = AttnBlock::new(in_ch, device);
        let mid_1 = block(in_ch, in_ch, Resample::None, 0);
        let mut up = Vec::with_capacity(levels);
        for i in (0..levels).rev() {
            let out = nf * config.ch_mult[i];
            let blocks = (0..=config.num_res_blocks)
                .map(|_| {
                    let skip = hs_c.pop().unwrap_or(0);
                    let b = block(in_ch + skip, out, Resample::None, 0);
                    in_ch = out;
                    b
                })
                .collect();
            let attn = config
                .attn_resolutions
                .contains(&res[i])
                .then(|| AttnBlock::new(in_ch, device));
            let up_block = (i > 0).then(|| {
                let hi_in = if wavelet { hs_c2.pop().unwrap_or(0) } else { 0 };
                block(in_ch, in_ch, Resample::Up, hi_in)
            });
            up.push(UpLevel {
                blocks,
                attn,
                up: up_block,
            });
        }
        let mut z_transform = vec![Init::Dense(1.0).linear(config.nz, config.z_emb_dim, device)];
        for _ in 0..config.n_mlp {
            z_transform.push(Init::Dense(1.0).linear(config.z_emb_dim, config.z_emb_dim, device));
        }
        Ok(Self {
            temb_0: Init::Ddpm(1.0).linear(nf, 4 * nf, device),
            temb_1: Init::Ddpm(1.0).linear(4 * nf, 4 * nf, device),
            conv_in: ddpm_conv(channels, nf, 3, 1.0, device),
            down,
            mid_0,
            mid_attn,
            mid_1,
            up,
            norm_out: GroupNormConfig::new(groups(in_ch), in_ch)
                .with_epsilon(1e-6)
                .init(device),
            conv_out: ddpm_conv(in_ch, channels, 3, 0.0, device),
            z_transform,
            config,
        })
    }

    /// Visits every tensor under its official name (`prefix` is prepended, e.g. `"module."`).
    pub fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        let mut i = 0usize;
        let mut next = || {
            i += 1;
            format!("{prefix}all_modules.{}", i - 1)
        };
        v.linear(&next(), &mut self.temb_0);
        v.linear(&next(), &mut self.temb_1);
        v.conv2d(&next(), &mut self.conv_in);
        for level in &mut self.down {
            let mut attn = level.attn.iter_mut();
            for block in &mut level.blocks {
                block.walk(v, &next());
                if let Some(a) = attn.next() {
                    a.walk(v, &next());
                }
            }
            if let Some(d) = level.down.as_mut() {
                d.walk(v, &next());
            }
            if let Some(p) = level.pyramid.as_mut() {
                p.walk(v, &next());
            }
        }
        self.mid_0.walk(v, &next());
        self.mid_attn.walk(v, &next());
        self.mid_1.walk(v, &next());
        for level in &mut self.up {
            for block in &mut level.blocks {
                block.walk(v, &next());
            }
            if let Some(a) = level.attn.as_mut() {
                a.walk(v, &next());
            }
            if let Some(u) = level.up.as_mut() {
                u.walk(v, &next());
            }
        }
        v.group_norm(&next(), &mut self.norm_out);
        v.conv2d(&next(), &mut self.conv_out);
        for (j, l) in self.z_transform.iter_mut().enumerate() {
            v.linear(&format!("{prefix}z_transform.{}", 2 * j + 1), l);
        }
    }

    /// Loads every tensor from `sd` (keys as [`Ncsnpp::walk`] names them under `prefix`).
    ///
    /// # Errors
    /// [`WaveDiffError::Model`] listing every missing, mis-shaped and unexpected key.
    pub fn load(&mut self, sd: &StateDict, prefix: &str, device: &B::Device) -> Result<()> {
        let mut loader = Loader::new(sd, device);
        self.walk(&mut loader, prefix);
        Ok(loader.finish()?)
    }

    /// Converts every parameter to `dtype` (f32, f16 or bf16; norm statistics stay f32).
    pub fn with_dtype(self, dtype: burn::tensor::DType) -> Self {
        self.map(&mut CastMapper { dtype })
    }
}

/// `x / sqrt(mean_c x² + 1e-8)` (`PixelNorm` of the z mapping).
fn pixel_norm<B: Backend>(z: Tensor<B, 2>) -> Tensor<B, 2> {
    let ms = z.clone().powi_scalar(2).mean_dim(1);
    z / (ms + 1e-8).sqrt()
}

/// `"n c (h p1) (w p2) -> n (p1 p2 c) h w"`.
fn patchify<B: Backend>(x: Tensor<B, 4>, p: usize) -> Tensor<B, 4> {
    if p == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let x6: Tensor<B, 6> = x.reshape([n, c, h / p, p, w / p, p]);
    x6.permute([0, 3, 5, 1, 2, 4])
        .reshape([n, p * p * c, h / p, w / p])
}

/// `"n (c p1 p2) h w -> n c (h p1) (w p2)"` — the channel order differs from [`patchify`]'s,
/// as in the official code (it only matters for celeba_1024, `patch_size = 2`).
fn unpatchify<B: Backend>(x: Tensor<B, 4>, p: usize) -> Tensor<B, 4> {
    if p == 1 {
        return x;
    }
    let [n, cpp, h, w] = x.dims();
    let c = cpp / (p * p);
    let x6: Tensor<B, 6> = x.reshape([n, c, p, p, h, w]);
    x6.permute([0, 1, 4, 2, 5, 3]).reshape([n, c, h * p, w * p])
}

impl<B: WaveDiffBackend> Ncsnpp<B> {
    /// The z mapping network: `PixelNorm`, then dense + SiLU layers.
    ///
    /// # Shapes
    /// `[N, nz] → [N, z_emb_dim]`.
    pub fn map_z(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        self.z_transform
            .iter()
            .fold(pixel_norm(z), |h, l| silu(linear(l, h)))
    }

    /// The time embedding `dense(SiLU(dense(sinusoid(t, nf))))`.
    ///
    /// # Shapes
    /// `[N] → [N, 4·nf]`.
    pub fn embed_t(&self, t: Tensor<B, 1, Int>) -> Tensor<B, 2> {
        let emb = timestep_embedding(t.float(), self.config.nf, false, 1.0, 1.0, 10_000.0);
        let dtype = self.temb_0.weight.val().dtype();
        let emb = if emb.dtype() == dtype {
            emb
        } else {
            emb.cast(dtype)
        };
        linear(&self.temb_1, silu(linear(&self.temb_0, emb)))
    }

    /// `x₀' = G(x_{t+1}, t, z)`.
    ///
    /// # Shapes
    /// - `x`: `[N, num_channels, S, S]` with `S = current_resolution`
    /// - `t`: `[N]` integer steps; `z`: `[N, nz]`
    /// - output: `[N, num_channels, S, S]` in (−1, 1) (tanh) unless `not_use_tanh`
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] naming the argument for wrong shapes.
    pub fn forward(
        &self,
        x: Tensor<B, 4>,
        t: Tensor<B, 1, Int>,
        z: Tensor<B, 2>,
    ) -> Result<Tensor<B, 4>> {
        let cfg = &self.config;
        let [n, c, h, w] = x.dims();
        let s = cfg.image_size;
        if n == 0 || c != cfg.num_channels || h != s || w != s {
            return Err(WaveDiffError::input(
                "x",
                format!("[N ≥ 1, {}, {s}, {s}]", cfg.num_channels),
                [n, c, h, w],
            ));
        }
        if t.dims() != [n] {
            return Err(WaveDiffError::input("t", format!("[{n}]"), t.dims()));
        }
        if z.dims() != [n, cfg.nz] {
            return Err(WaveDiffError::input(
                "z",
                format!("[{n}, {}]", cfg.nz),
                z.dims(),
            ));
        }
        let wavelet = cfg.net_type == NetType::Wavelet;
        let band = B::conv_gemm_band();
        let x = patchify(x, cfg.patch_size);
        let zemb = self.map_z(z);
        let temb = silu(self.embed_t(t));
        let run = |b: &ResnetBlock<B>, h, skip| b.forward(h, temb.clone(), zemb.clone(), skip);

        let mut pyramid = x.clone();
        let mut h = conv2d_nn(&self.conv_in, x, band);
        let mut hs = vec![h.clone()];
        let mut skips: Vec<HighBands<B>> = vec![];
        for level in &self.down {
            for (k, block) in level.blocks.iter().enumerate() {
                h = run(block, h, None)?.0;
                if let Some(a) = level.attn.get(k) {
                    h = a.forward(h);
                }
                hs.push(h.clone());
            }
            if let (Some(d), Some(p)) = (&level.down, &level.pyramid) {
                let (down, high) = run(d, h, None)?;
                skips.extend(high);
                pyramid = (p.forward(pyramid)? + down).mul_scalar(SQRT_HALF);
                h = pyramid.clone();
                hs.push(h.clone());
            }
        }

        h = if wavelet {
            let [ll, lh, hl, hh] = haar::dwt(h)?;
            let ll = run(&self.mid_0, ll.mul_scalar(0.5), None)?.0;
            haar::idwt([ll.mul_scalar(2.0), lh, hl, hh])?
        } else {
            run(&self.mid_0, h, None)?.0
        };
        h = self.mid_attn.forward(h);
        h = run(&self.mid_1, h, None)?.0;
        if wavelet {
            let [ll, lh, hl, hh] = haar::dwt(h)?;
            let ll = run(&self.mid_1, ll.mul_scalar(0.5), None)?.0;
            h = haar::idwt([ll.mul_scalar(2.0), lh, hl, hh])?;
        }

        for level in &self.up {
            for block in &level.blocks {
                let skip = hs.pop().ok_or_else(|| {
                    WaveDiffError::config("ch_mult", &cfg.ch_mult, "a consistent skip stack")
                })?;
                h = run(block, concat(vec![h, skip], 1), None)?.0;
            }
            if let Some(a) = &level.attn {
                h = a.forward(h);
            }
            if let Some(u) = &level.up {
                h = run(u, h, if wavelet { skips.pop() } else { None })?.0;
            }
        }
        h = self.norm_out.forward_silu(h);
        h = conv2d_nn(&self.conv_out, h, band);
        let h = unpatchify(h, cfg.patch_size);
        Ok(if cfg.not_use_tanh { h } else { h.tanh() })
    }
}
