//! NCSN++'s BigGAN residual blocks with adaptive GroupNorm: DDGAN's
//! `ResnetBlockBigGANpp_Adagn` (FIR up/down sampling) and WaveDiff's
//! `WaveletResnetBlockBigGANpp_Adagn` (Haar down/up sampling that hands the high-frequency bands
//! of the encoder to the decoder; spec `wavelet.md` §2.5, `score_sde/models/layerspp.py`).

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use ultrares_nn::conv::{conv2d_nn, same_conv_config};
use ultrares_nn::linear::linear;
use ultrares_nn::ops::concat;
use ultrares_nn::weights::Visitor;

use crate::adagn::AdaptiveGroupNorm;
use crate::init::Init;
use crate::{Result, WaveDiffBackend, WaveDiffError, fir, haar};

const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// What a block does to the resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resample {
    /// Same size.
    #[default]
    None,
    /// ×2.
    Up,
    /// ÷2.
    Down,
}

/// The high-frequency bands `(LH, HL, HH)` a wavelet down block keeps for the decoder.
pub type HighBands<B> = [Tensor<B, 4>; 3];

/// A residual block: state-dict names `GroupNorm_0`, `Conv_0`, `Dense_0`, `GroupNorm_1`,
/// `Conv_1`, `Conv_2` (1×1 shortcut when the channels or the size change) and, for a wavelet up
/// block, `convH_0` (grouped 3×3 over the three skipped high bands).
#[derive(Module, Debug)]
pub struct ResnetBlock<B: Backend> {
    /// Adaptive GroupNorm of the input.
    pub group_norm_0: AdaptiveGroupNorm<B>,
    /// 3×3, `in → out`.
    pub conv_0: Conv2d<B>,
    /// `4·nf → out`: the time embedding.
    pub dense_0: Linear<B>,
    /// Adaptive GroupNorm of the hidden state.
    pub group_norm_1: AdaptiveGroupNorm<B>,
    /// 3×3, `out → out` (initialised at scale 0).
    pub conv_1: Conv2d<B>,
    /// 1×1 shortcut.
    pub conv_2: Option<Conv2d<B>>,
    /// Wavelet up blocks: 3×3 with 3 groups, `3·hi_in → 3·out`.
    pub conv_h_0: Option<Conv2d<B>>,
    /// Up, down or neither.
    #[module(skip)]
    pub resample: Resample,
    /// Haar (`WaveletResnetBlockBigGANpp_Adagn`) rather than FIR resampling.
    pub wavelet: bool,
}

/// What a [`ResnetBlock`] is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockSpec {
    pub cin: usize,
    pub cout: usize,
    pub temb_dim: usize,
    pub zemb_dim: usize,
    pub resample: Resample,
    pub wavelet: bool,
    /// Channels of the skipped high bands (wavelet up blocks).
    pub hi_in: usize,
}

/// DDPM's `conv3x3`/`conv1x1` (`default_init(init_scale)`, zero bias).
pub(crate) fn ddpm_conv<B: Backend>(
    cin: usize,
    cout: usize,
    k: usize,
    init_scale: f64,
    device: &B::Device,
) -> Conv2d<B> {
    Init::Ddpm(init_scale).conv(same_conv_config(cin, cout, k), device)
}

impl<B: Backend> ResnetBlock<B> {
    pub(crate) fn new(s: BlockSpec, device: &B::Device) -> Self {
        let shortcut = s.cin != s.cout || s.resample != Resample::None;
        let conv_h_0 = (s.wavelet && s.resample == Resample::Up).then(|| {
            Init::Ddpm(1.0).conv(
                same_conv_config(3 * s.hi_in, 3 * s.cout, 3).with_groups(3),
                device,
            )
        });
        Self {
            group_norm_0: AdaptiveGroupNorm::new(s.cin, s.zemb_dim, device),
            conv_0: ddpm_conv(s.cin, s.cout, 3, 1.0, device),
            dense_0: Init::Ddpm(1.0).linear(s.temb_dim, s.cout, device),
            group_norm_1: AdaptiveGroupNorm::new(s.cout, s.zemb_dim, device),
            conv_1: ddpm_conv(s.cout, s.cout, 3, 0.0, device),
            conv_2: shortcut.then(|| ddpm_conv(s.cin, s.cout, 1, 1.0, device)),
            conv_h_0,
            resample: s.resample,
            wavelet: s.wavelet,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        self.group_norm_0.walk(v, &format!("{prefix}.GroupNorm_0"));
        v.conv2d(&format!("{prefix}.Conv_0"), &mut self.conv_0);
        v.linear(&format!("{prefix}.Dense_0"), &mut self.dense_0);
        self.group_norm_1.walk(v, &format!("{prefix}.GroupNorm_1"));
        v.conv2d(&format!("{prefix}.Conv_1"), &mut self.conv_1);
        if let Some(c) = self.conv_2.as_mut() {
            v.conv2d(&format!("{prefix}.Conv_2"), c);
        }
        if let Some(c) = self.conv_h_0.as_mut() {
            v.conv2d(&format!("{prefix}.convH_0"), c);
        }
    }
}

impl<B: WaveDiffBackend> ResnetBlock<B> {
    /// # Shapes
    /// - `x`: `[N, in, H, W]`
    /// - `temb_act`: `SiLU(temb)`, `[N, 4·nf]`; `zemb`: `[N, z_emb_dim]`
    /// - `skip`: a wavelet up block's bands from the matching down block, each
    ///   `[N, hi_in, H, W]`
    /// - output: `[N, out, H', W']` (`H' = 2H`, `H/2` or `H`) and, for a wavelet down block,
    ///   the high bands of its hidden state, each `[N, out, H/2, W/2]`
    ///
    /// # Errors
    /// A wavelet up block without `skip`, or bands of the wrong shape.
    pub fn forward(
        &self,
        x: Tensor<B, 4>,
        temb_act: Tensor<B, 2>,
        zemb: Tensor<B, 2>,
        skip: Option<HighBands<B>>,
    ) -> Result<(Tensor<B, 4>, Option<HighBands<B>>)> {
        let band = B::conv_gemm_band();
        let mut h = self.group_norm_0.forward_silu(x.clone(), zemb.clone());
        let mut x = x;
        let mut high = None;
        if self.wavelet {
            h = conv2d_nn(&self.conv_0, h, band);
            if let Some(c) = &self.conv_2 {
                x = conv2d_nn(c, x, band);
            }
            match self.resample {
                Resample::Up => {
                    let (Some(conv_h), Some(skip)) = (&self.conv_h_0, skip) else {
                        return Err(WaveDiffError::input(
                            "skip",
                            "the high bands of the matching down block",
                            "none",
                        ));
                    };
                    let d = h.dims()[1];
                    let s = conv2d_nn(conv_h, concat(skip.to_vec(), 1).mul_scalar(0.5), band);
                    let s = s.mul_scalar(2.0);
                    let bands = || [0, 1, 2].map(|i| s.clone().narrow(1, i * d, d));
                    let [lh, hl, hh] = bands();
                    h = haar::idwt([h.mul_scalar(2.0), lh, hl, hh])?;
                    let [lh, hl, hh] = bands();
                    x = haar::idwt([x.mul_scalar(2.0), lh, hl, hh])?;
                }
                Resample::Down => {
                    let [ll, lh, hl, hh] = haar::dwt(h)?;
                    high = Some([lh, hl, hh]);
                    h = ll.mul_scalar(0.5);
                    let [xll, ..] = haar::dwt(x)?;
                    x = xll.mul_scalar(0.5);
                }
                Resample::None => {}
            }
        } else {
            match self.resample {
                Resample::Up => {
                    h = fir::upsample_2d(h);
                    x = fir::upsample_2d(x);
                }
                Resample::Down => {
                    h = fir::downsample_2d(h);
                    x = fir::downsample_2d(x);
                }
                Resample::None => {}
            }
            h = conv2d_nn(&self.conv_0, h, band);
            if let Some(c) = &self.conv_2 {
                x = conv2d_nn(c, x, band);
            }
        }
        let [n, c, _, _] = h.dims();
        h = h + linear(&self.dense_0, temb_act).reshape([n, c, 1, 1]);
        h = self.group_norm_1.forward_silu(h, zemb);
        h = conv2d_nn(&self.conv_1, h, band);
        Ok(((x + h).mul_scalar(SQRT_HALF), high))
    }
}
