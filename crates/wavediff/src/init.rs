//! The initialisations of the official code, for training from scratch: DDPM's `default_init`
//! (variance scaling, fan_avg, uniform; `score_sde/models/layers.py:102`) and `dense_layer.py`'s
//! `kaiming_uniform_` whose "fan_avg" mode falls through to fan_out (`_calculate_correct_fan`
//! returns `fan_out` for anything but `fan_in`). A scale of 0 means 10⁻¹⁰ in both. Biases start
//! at zero.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

/// Which initialiser a layer uses, with its scale.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// `layers.default_init(scale)`.
    Ddpm(f64),
    /// `dense_layer.dense` / `dense_layer.conv2d` with `init_scale`.
    Dense(f64),
}

impl Init {
    /// Half-width of the uniform distribution for a weight with `out`/`inp` channels and a
    /// `receptive`-element kernel.
    fn bound(self, out: usize, inp: usize, receptive: usize) -> f64 {
        let (scale, fan) = match self {
            Init::Ddpm(s) => (s, (out + inp) as f64 * receptive as f64 / 2.0),
            Init::Dense(s) => (s, ((out * receptive) as f64).max(1.0)),
        };
        let scale = if scale == 0.0 { 1e-10 } else { scale };
        (3.0 * scale / fan).sqrt()
    }

    fn initializer(self, out: usize, inp: usize, receptive: usize) -> Initializer {
        let b = self.bound(out, inp, receptive);
        Initializer::Uniform { min: -b, max: b }
    }

    /// A tensor of `shape` whose axes 0 and 1 are the fan axes (PyTorch layout) drawn from this
    /// initialiser.
    pub(crate) fn tensor<B: Backend, const D: usize>(
        self,
        shape: [usize; D],
        device: &B::Device,
    ) -> Tensor<B, D> {
        let receptive: usize = shape.iter().skip(2).product();
        let b = self.bound(shape[0], shape[1], receptive);
        Tensor::random(shape, Distribution::Uniform(-b, b), device)
    }

    /// `config` with this initialiser and a zero bias.
    pub(crate) fn conv<B: Backend>(self, config: Conv2dConfig, device: &B::Device) -> Conv2d<B> {
        let [cin, cout] = config.channels;
        let receptive = config.kernel_size[0] * config.kernel_size[1];
        let init = self.initializer(cout, cin / config.groups, receptive);
        let mut conv = config.with_initializer(init).init(device);
        conv.bias = conv
            .bias
            .map(|b| Param::from_tensor(Tensor::zeros(b.shape(), device)));
        conv
    }

    /// `nn.Linear(inp, out)` with this initialiser and a zero bias.
    pub(crate) fn linear<B: Backend>(
        self,
        inp: usize,
        out: usize,
        device: &B::Device,
    ) -> Linear<B> {
        let init = self.initializer(out, inp, 1);
        let mut linear = LinearConfig::new(inp, out)
            .with_initializer(init)
            .init(device);
        linear.bias = linear
            .bias
            .map(|b| Param::from_tensor(Tensor::zeros(b.shape(), device)));
        linear
    }
}
