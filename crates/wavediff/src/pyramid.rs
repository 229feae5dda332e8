//! The input-pyramid downsampler of NCSN++'s "residual" progressive input: WaveDiff's
//! `WaveletDownsample` (a 3×3 convolution over the four Haar bands, all halved; spec
//! `wavelet.md` §2.5 module 1) or DDGAN's `Downsample(fir=True, with_conv=True)` (StyleGAN2's
//! `conv_downsample_2d`: FIR blur, then a stride-2 3×3 convolution).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use ultrares_nn::conv::{conv2d_nn, same_conv_config};
use ultrares_nn::ops::concat;
use ultrares_nn::weights::Visitor;

use crate::init::Init;
use crate::{Result, WaveDiffBackend, fir, haar};

/// State-dict names `weight`, `bias` (wavelet) or `Conv2d_0.weight`, `Conv2d_0.bias` (FIR).
#[derive(Module, Debug)]
pub struct PyramidDownsample<B: Backend> {
    /// Wavelet: 3×3, `4·in → out`, stride 1; FIR: 3×3, `in → out`, stride 2, no padding.
    pub conv: Conv2d<B>,
    /// Which of the two.
    pub wavelet: bool,
}

impl<B: Backend> PyramidDownsample<B> {
    /// `in → out` channels.
    pub fn new(cin: usize, cout: usize, wavelet: bool, device: &B::Device) -> Self {
        let config = if wavelet {
            same_conv_config(4 * cin, cout, 3)
        } else {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Valid)
        };
        Self {
            conv: Init::Ddpm(1.0).conv(config, device),
            wavelet,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        if self.wavelet {
            v.conv2d(prefix, &mut self.conv);
        } else {
            v.conv2d(&format!("{prefix}.Conv2d_0"), &mut self.conv);
        }
    }
}

impl<B: WaveDiffBackend> PyramidDownsample<B> {
    /// # Shapes
    /// `[N, in, H, W] → [N, out, H/2, W/2]`.
    ///
    /// # Errors
    /// Odd sizes (wavelet).
    pub fn forward(&self, x: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let band = B::conv_gemm_band();
        if self.wavelet {
            let bands = haar::dwt(x)?;
            Ok(conv2d_nn(
                &self.conv,
                concat(bands.to_vec(), 1).mul_scalar(0.5),
                band,
            ))
        } else {
            Ok(conv2d_nn(&self.conv, fir::blur_for_conv_down(x), band))
        }
    }
}
