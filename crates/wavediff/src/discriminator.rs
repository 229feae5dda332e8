//! DDGAN's time-dependent discriminators `Discriminator_small` and `Discriminator_large`
//! (`WaveDiff:score_sde/models/discriminator.py`, spec `wavelet.md` §2.6): `D(x_t, t, x_{t+1})`
//! on the concatenated pair, FIR-downsampling residual blocks conditioned on `t`, StyleGAN's
//! minibatch standard deviation, a spatial sum and a linear head.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use ultrares_nn::conv::conv2d_nn;
use ultrares_nn::embedding::timestep_embedding;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::{CastMapper, concat};
use ultrares_nn::weights::{Loader, Visitor};
use ultrares_nn::{NnBackend, StateDict};

use crate::init::Init;
use crate::{DiscriminatorConfig, DiscriminatorKind, Result, WaveDiffError, fir};

const SLOPE: f64 = 0.2;
const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

fn conv<B: Backend>(
    cin: usize,
    cout: usize,
    k: usize,
    init_scale: f64,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    let config = Conv2dConfig::new([cin, cout], [k, k])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_bias(bias);
    Init::Dense(init_scale).conv(config, device)
}

/// `DownConvBlock`: state-dict names `conv1.0`, `conv2.0`, `dense_t1`, `skip.0` (no bias).
#[derive(Module, Debug)]
pub struct DownConvBlock<B: Backend> {
    /// 3×3, `in → out`.
    pub conv1: Conv2d<B>,
    /// 3×3, `out → out` (initialised at scale 0).
    pub conv2: Conv2d<B>,
    /// `t_emb_dim → out`.
    pub dense_t1: Linear<B>,
    /// 1×1 shortcut without bias.
    pub skip: Conv2d<B>,
    /// FIR ÷2 between the convolutions.
    pub downsample: bool,
}

impl<B: Backend> DownConvBlock<B> {
    fn new(cin: usize, cout: usize, t_emb: usize, downsample: bool, device: &B::Device) -> Self {
        Self {
            conv1: conv(cin, cout, 3, 1.0, true, device),
            conv2: conv(cout, cout, 3, 0.0, true, device),
            dense_t1: Init::Dense(1.0).linear(t_emb, cout, device),
            skip: conv(cin, cout, 1, 1.0, false, device),
            downsample,
        }
    }

    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.conv2d(&format!("{prefix}.conv1.0"), &mut self.conv1);
        v.conv2d(&format!("{prefix}.conv2.0"), &mut self.conv2);
        v.linear(&format!("{prefix}.dense_t1"), &mut self.dense_t1);
        v.conv2d(&format!("{prefix}.skip.0"), &mut self.skip);
    }
}

impl<B: NnBackend> DownConvBlock<B> {
    /// # Shapes
    /// `[N, in, H, W]`, `t_emb` `[N, t_emb_dim]` → `[N, out, H', W']`.
    pub fn forward(&self, input: Tensor<B, 4>, t_emb: Tensor<B, 2>) -> Tensor<B, 4> {
        let band = B::conv_gemm_band();
        let mut out = conv2d_nn(&self.conv1, leaky_relu(input.clone(), SLOPE), band);
        let [n, c, _, _] = out.dims();
        out = leaky_relu(
            out + linear(&self.dense_t1, t_emb).reshape([n, c, 1, 1]),
            SLOPE,
        );
        let mut input = input;
        if self.downsample {
            out = fir::downsample_2d(out);
            input = fir::downsample_2d(input);
        }
        let out = conv2d_nn(&self.conv2, out, band);
        (out + conv2d_nn(&self.skip, input, band)).mul_scalar(SQRT_HALF)
    }
}

/// `Discriminator_small`/`Discriminator_large`: state-dict names `t_embed.main.0`,
/// `t_embed.main.2`, `start_conv`, `conv1`…`conv{num_layers}`, `final_conv`, `end_linear`.
#[derive(Module, Debug)]
pub struct Discriminator<B: Backend> {
    /// `t_emb_dim → t_emb_dim`.
    pub t_embed_0: Linear<B>,
    /// `t_emb_dim → t_emb_dim`.
    pub t_embed_1: Linear<B>,
    /// 1×1, `2·nc → 2·ngf`.
    pub start_conv: Conv2d<B>,
    /// `conv1`, `conv2`, …
    pub blocks: Vec<DownConvBlock<B>>,
    /// 3×3, `8·ngf + 1 → 8·ngf`.
    pub final_conv: Conv2d<B>,
    /// `8·ngf → 1`.
    pub end_linear: Linear<B>,
    /// The configuration.
    #[module(skip)]
    pub config: DiscriminatorConfig,
}

impl<B: Backend> Discriminator<B> {
    /// Builds the discriminator with the official initialisation.
    ///
    /// # Errors
    /// [`WaveDiffError::Config`] from [`DiscriminatorConfig::validate`].
    pub fn new(config: DiscriminatorConfig, device: &B::Device) -> Result<Self> {
        config.validate()?;
        let (ngf, te) = (config.ngf, config.t_emb_dim);
        let mut widths = match config.kind {
            DiscriminatorKind::Small => vec![(2 * ngf, 2 * ngf, false), (2 * ngf, 4 * ngf, true)],
            DiscriminatorKind::Large => vec![(2 * ngf, 4 * ngf, true), (4 * ngf, 8 * ngf, true)],
        };
        let third_in = widths[1].1;
        widths.push((third_in, 8 * ngf, true));
        while widths.len() < config.num_layers {
            widths.push((8 * ngf, 8 * ngf, true));
        }
        let final_scale = match config.kind {
            DiscriminatorKind::Small => 0.0,
            DiscriminatorKind::Large => 1.0,
        };
        Ok(Self {
            t_embed_0: Init::Dense(1.0).linear(te, te, device),
            t_embed_1: Init::Dense(1.0).linear(te, te, device),
            start_conv: conv(2 * config.num_channels, 2 * ngf, 1, 1.0, true, device),
            blocks: widths
                .into_iter()
                .map(|(i, o, d)| DownConvBlock::new(i, o, te, d, device))
                .collect(),
            final_conv: conv(8 * ngf + 1, 8 * ngf, 3, final_scale, true, device),
            end_linear: Init::Dense(1.0).linear(8 * ngf, 1, device),
            config,
        })
    }

    /// Visits every tensor under its official name (`prefix` is prepended).
    pub fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}t_embed.main.0"), &mut self.t_embed_0);
        v.linear(&format!("{prefix}t_embed.main.2"), &mut self.t_embed_1);
        v.conv2d(&format!("{prefix}start_conv"), &mut self.start_conv);
        for (i, b) in self.blocks.iter_mut().enumerate() {
            b.walk(v, &format!("{prefix}conv{}", i + 1));
        }
        v.conv2d(&format!("{prefix}final_conv"), &mut self.final_conv);
        v.linear(&format!("{prefix}end_linear"), &mut self.end_linear);
    }

    /// Loads every tensor from `sd` (keys as [`Discriminator::walk`] names them).
    ///
    /// # Errors
    /// [`WaveDiffError::Model`] listing every missing, mis-shaped and unexpected key.
    pub fn load(&mut self, sd: &StateDict, prefix: &str, device: &B::Device) -> Result<()> {
        let mut loader = Loader::new(sd, device);
        self.walk(&mut loader, prefix);
        Ok(loader.finish()?)
    }

    /// Converts every parameter to `dtype`.
    pub fn with_dtype(self, dtype: burn::tensor::DType) -> Self {
        self.map(&mut CastMapper { dtype })
    }
}

/// StyleGAN's minibatch standard deviation (group `min(N, 4)`, one feature), appended as a
/// channel: sample `b` gets the statistic of the group `{b mod M + k·M}` with `M = N / G`.
fn minibatch_std<B: Backend>(out: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
    let [n, c, h, w] = out.dims();
    let g = n.min(4);
    if !n.is_multiple_of(g) {
        return Err(WaveDiffError::input(
            "x",
            "a batch size that is at most 4 or a multiple of 4 (minibatch standard deviation groups)",
            n,
        ));
    }
    let m = n / g;
    let x = out.clone().reshape([g, m, c * h * w]);
    let mean = x.clone().mean_dim(0);
    let var = (x - mean).powi_scalar(2).mean_dim(0);
    let std = (var + 1e-8).sqrt().mean_dim(2); // [1, M, 1]
    let std = std
        .repeat_dim(0, g)
        .reshape([n, 1, 1, 1])
        .expand([n, 1, h, w]);
    Ok(concat(vec![out, std], 1))
}

impl<B: NnBackend> Discriminator<B> {
    /// `D(x, t, x_cond)`: the logit that `x` is a real `x_t` given `x_cond = x_{t+1}`.
    ///
    /// # Shapes
    /// - `x`, `x_cond`: `[N, nc, S, S]`, `S` divisible by `2^downsamplings`
    /// - `t`: `[N]` integer steps
    /// - output: `[N, 1]`
    ///
    /// # Errors
    /// [`WaveDiffError::Input`] naming the argument for wrong shapes or a batch the minibatch
    /// statistic cannot group.
    pub fn forward(
        &self,
        x: Tensor<B, 4>,
        t: Tensor<B, 1, Int>,
        x_cond: Tensor<B, 4>,
    ) -> Result<Tensor<B, 2>> {
        let cfg = &self.config;
        let [n, c, h, w] = x.dims();
        let f = 1usize << cfg.downsamplings();
        if n == 0 || c != cfg.num_channels || h == 0 || w == 0 || h % f != 0 || w % f != 0 {
            return Err(WaveDiffError::input(
                "x",
                format!(
                    "[N ≥ 1, {}, H, W] with H and W multiples of {f}",
                    cfg.num_channels
                ),
                [n, c, h, w],
            ));
        }
        if x_cond.dims() != [n, c, h, w] {
            return Err(WaveDiffError::input(
                "x_cond",
                format!("the shape of x, {:?}", [n, c, h, w]),
                x_cond.dims(),
            ));
        }
        if t.dims() != [n] {
            return Err(WaveDiffError::input("t", format!("[{n}]"), t.dims()));
        }
        let band = B::conv_gemm_band();
        let dtype = self.t_embed_0.weight.val().dtype();
        let emb = timestep_embedding(t.float(), cfg.t_emb_dim, false, 1.0, 1.0, 10_000.0);
        let emb = if emb.dtype() == dtype {
            emb
        } else {
            emb.cast(dtype)
        };
        let t_emb = leaky_relu(
            linear(
                &self.t_embed_1,
                leaky_relu(linear(&self.t_embed_0, emb), SLOPE),
            ),
            SLOPE,
        );
        let mut h = conv2d_nn(&self.start_conv, concat(vec![x, x_cond], 1), band);
        for b in &self.blocks {
            h = b.forward(h, t_emb.clone());
        }
        let h = minibatch_std(h)?;
        let h = leaky_relu(conv2d_nn(&self.final_conv, h, band), SLOPE);
        let [n, c, _, _] = h.dims();
        let pooled = h.sum_dim(3).sum_dim(2).reshape([n, c]);
        Ok(linear(&self.end_linear, pooled))
    }
}
