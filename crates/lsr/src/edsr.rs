//! LIIF's EDSR-baseline encoder (`yinboc/liif:models/edsr.py`, `make_edsr_baseline` with
//! `no_upsampling=True`; from Lim et al., "Enhanced Deep Residual Networks", CVPRW 2017).

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use ultrares_nn::conv::same_conv as conv;
use ultrares_nn::weights::Visitor;

/// EDSR without its upsampling tail: a feature extractor `[N, 3, h, w] → [N, n_feats, h, w]`.
#[derive(Config, Debug)]
pub struct EdsrConfig {
    /// Residual blocks (16 for the baseline).
    #[config(default = 16)]
    pub n_resblocks: usize,
    /// Feature channels (64 for the baseline).
    #[config(default = 64)]
    pub n_feats: usize,
    /// Residual scaling (1 for the baseline).
    #[config(default = 1.0)]
    pub res_scale: f64,
    /// Input channels (`n_colors`, 3).
    #[config(default = 3)]
    pub n_colors: usize,
}

impl EdsrConfig {
    /// The EDSR-baseline feature extractor with default-initialised weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Edsr<B> {
        let f = self.n_feats;
        Edsr {
            sub_mean: conv(3, 3, 1, device),
            add_mean: conv(3, 3, 1, device),
            head: conv(self.n_colors, f, 3, device),
            body: (0..self.n_resblocks)
                .map(|_| ResBlock {
                    conv1: conv(f, f, 3, device),
                    conv2: conv(f, f, 3, device),
                })
                .collect(),
            body_last: conv(f, f, 3, device),
            res_scale: self.res_scale,
        }
    }
}

/// `conv → ReLU → conv`, scaled, plus the input (`body.N.body.{0,2}` upstream).
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    /// `body.0`.
    pub conv1: Conv2d<B>,
    /// `body.2`.
    pub conv2: Conv2d<B>,
}

/// The EDSR feature extractor.
///
/// State-dict names: `head.0`, `body.{i}.body.{0,2}` for the residual blocks, `body.{n}` for
/// `body_last`, and `sub_mean`/`add_mean`, which the upstream forward never applies (LIIF feeds
/// `(x − 0.5)/0.5` directly) but whose weights are in every checkpoint.
#[derive(Module, Debug)]
pub struct Edsr<B: Backend> {
    /// The RGB mean shift (unused in the forward pass, as upstream).
    pub sub_mean: Conv2d<B>,
    /// The inverse mean shift (unused in the forward pass, as upstream).
    pub add_mean: Conv2d<B>,
    /// `head.0`: `n_colors → n_feats`.
    pub head: Conv2d<B>,
    /// The residual blocks.
    pub body: Vec<ResBlock<B>>,
    /// The convolution closing the body (`body.{n_resblocks}`).
    pub body_last: Conv2d<B>,
    /// Residual scaling.
    pub res_scale: f64,
}

impl<B: Backend> Edsr<B> {
    /// Features `[N, n_feats, h, w]` of `x` `[N, n_colors, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.head.forward(x);
        let mut res = x.clone();
        for block in &self.body {
            let r = block.conv2.forward(relu(block.conv1.forward(res.clone())));
            res = if self.res_scale == 1.0 {
                r
            } else {
                r * self.res_scale
            } + res;
        }
        self.body_last.forward(res) + x
    }

    /// Output channels.
    pub fn out_dim(&self) -> usize {
        self.head.weight.dims()[0]
    }

    /// Input channels.
    pub fn in_chans(&self) -> usize {
        self.head.weight.dims()[1]
    }

    pub(crate) fn walk(&mut self, loader: &mut impl Visitor<B>, prefix: &str) {
        loader.conv2d(&format!("{prefix}.sub_mean"), &mut self.sub_mean);
        loader.conv2d(&format!("{prefix}.add_mean"), &mut self.add_mean);
        loader.conv2d(&format!("{prefix}.head.0"), &mut self.head);
        for (i, block) in self.body.iter_mut().enumerate() {
            loader.conv2d(&format!("{prefix}.body.{i}.body.0"), &mut block.conv1);
            loader.conv2d(&format!("{prefix}.body.{i}.body.2"), &mut block.conv2);
        }
        let n = self.body.len();
        loader.conv2d(&format!("{prefix}.body.{n}"), &mut self.body_last);
    }
}
