//! pytorch-fid's InceptionV3, the FID feature extractor (`pytorch_fid/inception.py`, 0.3.0):
//! torchvision's Inception-v3 with the TF-FID variant blocks (`FIDInceptionA/C/E_1/E_2`: average
//! pools that exclude padding, a max pool in the last block), bilinear resize to 299², inputs
//! `[0, 1] → [−1, 1]`, pool3 2048-d features and the 1008-way logits of its `fc`.
//!
//! Weights come from a file the caller gives — pytorch-fid's
//! `pt_inception-2015-12-05-6726825d.pth` or a safetensors conversion with the same keys
//! (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_var`, `fc.weight`, …); nothing
//! is downloaded. Batch norms always run in inference mode (running statistics), also under
//! `Autodiff`.

// Field names are the upstream state-dict names (`Conv2d_1a_3x3`, `Mixed_5b`, ...); the Module
// derive turns them into local variables too.
#![allow(non_snake_case)]

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use ultrares_nn::ops::{CastMapper, cast_to, to_f32};
use ultrares_nn::weights::{Loader, StateDict, Visitor};

use crate::Error;

/// Input side the network was trained at (pytorch-fid resizes every image to it).
pub const INCEPTION_SIZE: usize = 299;

/// `BasicConv2d`: convolution without bias, batch norm (ε = 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv2d<B: Backend> {
    /// `[out, in, kh, kw]`, no bias.
    pub conv: Conv2d<B>,
    /// Inference-mode batch norm.
    pub bn: BatchNorm<B>,
}

/// `prefix.name`, or `name` at the top level.
fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Visits `prefix.{name}` for each named branch of a block.
macro_rules! walk_branches {
    ($self:ident, $v:ident, $prefix:ident, $($name:ident),+) => {
        $( $self.$name.walk($v, &key($prefix, stringify!($name))); )+
    };
}

impl<B: Backend> BasicConv2d<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.conv2d(&format!("{prefix}.conv"), &mut self.conv);
        v.batch_norm(&format!("{prefix}.bn"), &mut self.bn);
    }

    fn new(
        device: &B::Device,
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
    ) -> Self {
        let [ph, pw] = padding;
        Self {
            conv: Conv2dConfig::new(channels, kernel)
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels[1])
                .with_epsilon(1e-3)
                .init(device),
        }
    }

    fn k1(device: &B::Device, cin: usize, cout: usize) -> Self {
        Self::new(device, [cin, cout], [1, 1], 1, [0, 0])
    }

    /// `[N, in, H, W] → [N, out, H', W']`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.conv.forward(x);
        let bn = &self.bn;
        let c = bn.gamma.dims()[0];
        // The folded batch norm in f32, applied in the activations' dtype.
        let scale = to_f32(bn.gamma.val()) / (to_f32(bn.running_var.value()) + bn.epsilon).sqrt();
        let shift = to_f32(bn.beta.val()) - to_f32(bn.running_mean.value()) * scale.clone();
        let dtype = x.dtype();
        let x = x * cast_to(scale, dtype).reshape([1, c, 1, 1])
            + cast_to(shift, dtype).reshape([1, c, 1, 1]);
        burn::tensor::activation::relu(x)
    }
}

/// 3×3 pooling with stride 1 and padding 1 (`count_include_pad=False` for the average).
fn pool3x3<B: Backend>(x: Tensor<B, 4>, max: bool) -> Tensor<B, 4> {
    if max {
        max_pool2d(x, [3, 3], [1, 1], [1, 1], [1, 1], false)
    } else {
        avg_pool2d(x, [3, 3], [1, 1], [1, 1], false, false)
    }
}

/// 3×3 max pooling with stride 2 (no padding).
fn max_pool_s2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    max_pool2d(x, [3, 3], [2, 2], [0, 0], [1, 1], false)
}

/// `FIDInceptionA` (Mixed_5b/c/d): `[N, in, 35, 35] → [N, 224 + pool_features, 35, 35]`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionA<B: Backend> {
    pub branch1x1: BasicConv2d<B>,
    pub branch5x5_1: BasicConv2d<B>,
    pub branch5x5_2: BasicConv2d<B>,
    pub branch3x3dbl_1: BasicConv2d<B>,
    pub branch3x3dbl_2: BasicConv2d<B>,
    pub branch3x3dbl_3: BasicConv2d<B>,
    pub branch_pool: BasicConv2d<B>,
}

impl<B: Backend> InceptionA<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_branches!(
            self,
            v,
            prefix,
            branch1x1,
            branch5x5_1,
            branch5x5_2,
            branch3x3dbl_1,
            branch3x3dbl_2,
            branch3x3dbl_3,
            branch_pool
        );
    }

    fn new(d: &B::Device, cin: usize, pool_features: usize) -> Self {
        Self {
            branch1x1: BasicConv2d::k1(d, cin, 64),
            branch5x5_1: BasicConv2d::k1(d, cin, 48),
            branch5x5_2: BasicConv2d::new(d, [48, 64], [5, 5], 1, [2, 2]),
            branch3x3dbl_1: BasicConv2d::k1(d, cin, 64),
            branch3x3dbl_2: BasicConv2d::new(d, [64, 96], [3, 3], 1, [1, 1]),
            branch3x3dbl_3: BasicConv2d::new(d, [96, 96], [3, 3], 1, [1, 1]),
            branch_pool: BasicConv2d::k1(d, cin, pool_features),
        }
    }

    /// See the type.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        let bp = self.branch_pool.forward(pool3x3(x, false));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}

/// torchvision `InceptionB` (Mixed_6a): `[N, 288, 35, 35] → [N, 768, 17, 17]`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionB<B: Backend> {
    pub branch3x3: BasicConv2d<B>,
    pub branch3x3dbl_1: BasicConv2d<B>,
    pub branch3x3dbl_2: BasicConv2d<B>,
    pub branch3x3dbl_3: BasicConv2d<B>,
}

impl<B: Backend> InceptionB<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_branches!(
            self,
            v,
            prefix,
            branch3x3,
            branch3x3dbl_1,
            branch3x3dbl_2,
            branch3x3dbl_3
        );
    }

    fn new(d: &B::Device, cin: usize) -> Self {
        Self {
            branch3x3: BasicConv2d::new(d, [cin, 384], [3, 3], 2, [0, 0]),
            branch3x3dbl_1: BasicConv2d::k1(d, cin, 64),
            branch3x3dbl_2: BasicConv2d::new(d, [64, 96], [3, 3], 1, [1, 1]),
            branch3x3dbl_3: BasicConv2d::new(d, [96, 96], [3, 3], 2, [0, 0]),
        }
    }

    /// See the type.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        Tensor::cat(vec![b3, bd, max_pool_s2(x)], 1)
    }
}

/// `FIDInceptionC` (Mixed_6b–e): `[N, 768, 17, 17] → [N, 768, 17, 17]`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionC<B: Backend> {
    pub branch1x1: BasicConv2d<B>,
    pub branch7x7_1: BasicConv2d<B>,
    pub branch7x7_2: BasicConv2d<B>,
    pub branch7x7_3: BasicConv2d<B>,
    pub branch7x7dbl_1: BasicConv2d<B>,
    pub branch7x7dbl_2: BasicConv2d<B>,
    pub branch7x7dbl_3: BasicConv2d<B>,
    pub branch7x7dbl_4: BasicConv2d<B>,
    pub branch7x7dbl_5: BasicConv2d<B>,
    pub branch_pool: BasicConv2d<B>,
}

impl<B: Backend> InceptionC<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_branches!(
            self,
            v,
            prefix,
            branch1x1,
            branch7x7_1,
            branch7x7_2,
            branch7x7_3,
            branch7x7dbl_1,
            branch7x7dbl_2,
            branch7x7dbl_3,
            branch7x7dbl_4,
            branch7x7dbl_5,
            branch_pool
        );
    }

    fn new(d: &B::Device, cin: usize, c7: usize) -> Self {
        let row = |a, b| BasicConv2d::new(d, [a, b], [1, 7], 1, [0, 3]);
        let col = |a, b| BasicConv2d::new(d, [a, b], [7, 1], 1, [3, 0]);
        Self {
            branch1x1: BasicConv2d::k1(d, cin, 192),
            branch7x7_1: BasicConv2d::k1(d, cin, c7),
            branch7x7_2: row(c7, c7),
            branch7x7_3: col(c7, 192),
            branch7x7dbl_1: BasicConv2d::k1(d, cin, c7),
            branch7x7dbl_2: col(c7, c7),
            branch7x7dbl_3: row(c7, c7),
            branch7x7dbl_4: col(c7, c7),
            branch7x7dbl_5: row(c7, 192),
            branch_pool: BasicConv2d::k1(d, cin, 192),
        }
    }

    /// See the type.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |t, m| m.forward(t));
        let bd = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |t, m| m.forward(t));
        let bp = self.branch_pool.forward(pool3x3(x, false));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}

/// torchvision `InceptionD` (Mixed_7a): `[N, 768, 17, 17] → [N, 1280, 8, 8]`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionD<B: Backend> {
    pub branch3x3_1: BasicConv2d<B>,
    pub branch3x3_2: BasicConv2d<B>,
    pub branch7x7x3_1: BasicConv2d<B>,
    pub branch7x7x3_2: BasicConv2d<B>,
    pub branch7x7x3_3: BasicConv2d<B>,
    pub branch7x7x3_4: BasicConv2d<B>,
}

impl<B: Backend> InceptionD<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_branches!(
            self,
            v,
            prefix,
            branch3x3_1,
            branch3x3_2,
            branch7x7x3_1,
            branch7x7x3_2,
            branch7x7x3_3,
            branch7x7x3_4
        );
    }

    fn new(d: &B::Device, cin: usize) -> Self {
        Self {
            branch3x3_1: BasicConv2d::k1(d, cin, 192),
            branch3x3_2: BasicConv2d::new(d, [192, 320], [3, 3], 2, [0, 0]),
            branch7x7x3_1: BasicConv2d::k1(d, cin, 192),
            branch7x7x3_2: BasicConv2d::new(d, [192, 192], [1, 7], 1, [0, 3]),
            branch7x7x3_3: BasicConv2d::new(d, [192, 192], [7, 1], 1, [3, 0]),
            branch7x7x3_4: BasicConv2d::new(d, [192, 192], [3, 3], 2, [0, 0]),
        }
    }

    /// See the type.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |t, m| m.forward(t));
        Tensor::cat(vec![b3, b7, max_pool_s2(x)], 1)
    }
}

/// `FIDInceptionE_1` (Mixed_7b, average pool) and `FIDInceptionE_2` (Mixed_7c, max pool):
/// `[N, in, 8, 8] → [N, 2048, 8, 8]`.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub struct InceptionE<B: Backend> {
    pub branch1x1: BasicConv2d<B>,
    pub branch3x3_1: BasicConv2d<B>,
    pub branch3x3_2a: BasicConv2d<B>,
    pub branch3x3_2b: BasicConv2d<B>,
    pub branch3x3dbl_1: BasicConv2d<B>,
    pub branch3x3dbl_2: BasicConv2d<B>,
    pub branch3x3dbl_3a: BasicConv2d<B>,
    pub branch3x3dbl_3b: BasicConv2d<B>,
    pub branch_pool: BasicConv2d<B>,
    /// `true` for `FIDInceptionE_2` (3×3 max pool before `branch_pool`).
    pub max_pool: bool,
}

impl<B: Backend> InceptionE<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_branches!(
            self,
            v,
            prefix,
            branch1x1,
            branch3x3_1,
            branch3x3_2a,
            branch3x3_2b,
            branch3x3dbl_1,
            branch3x3dbl_2,
            branch3x3dbl_3a,
            branch3x3dbl_3b,
            branch_pool
        );
    }

    fn new(d: &B::Device, cin: usize, max_pool: bool) -> Self {
        let row = |a, b| BasicConv2d::new(d, [a, b], [1, 3], 1, [0, 1]);
        let col = |a, b| BasicConv2d::new(d, [a, b], [3, 1], 1, [1, 0]);
        Self {
            branch1x1: BasicConv2d::k1(d, cin, 320),
            branch3x3_1: BasicConv2d::k1(d, cin, 384),
            branch3x3_2a: row(384, 384),
            branch3x3_2b: col(384, 384),
            branch3x3dbl_1: BasicConv2d::k1(d, cin, 448),
            branch3x3dbl_2: BasicConv2d::new(d, [448, 384], [3, 3], 1, [1, 1]),
            branch3x3dbl_3a: row(384, 384),
            branch3x3dbl_3b: col(384, 384),
            branch_pool: BasicConv2d::k1(d, cin, 192),
            max_pool,
        }
    }

    /// See the type.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let b1 = self.branch1x1.forward(x.clone());
        let t = self.branch3x3_1.forward(x.clone());
        let b3a = self.branch3x3_2a.forward(t.clone());
        let b3b = self.branch3x3_2b.forward(t);
        let t = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let bda = self.branch3x3dbl_3a.forward(t.clone());
        let bdb = self.branch3x3dbl_3b.forward(t);
        let bp = self.branch_pool.forward(pool3x3(x, self.max_pool));
        Tensor::cat(vec![b1, b3a, b3b, bda, bdb, bp], 1)
    }
}

/// Configuration of [`InceptionV3`].
#[derive(Config, Debug)]
pub struct InceptionV3Config {
    /// Classes of the final `fc` (1008 in the TF-FID graph pytorch-fid ships).
    #[config(default = 1008)]
    pub num_classes: usize,
}

impl InceptionV3Config {
    /// A network with burn's default initialisation (load weights with
    /// [`InceptionV3::load_file`] before use).
    pub fn init<B: Backend>(&self, device: &B::Device) -> InceptionV3<B> {
        let d = device;
        InceptionV3 {
            Conv2d_1a_3x3: BasicConv2d::new(d, [3, 32], [3, 3], 2, [0, 0]),
            Conv2d_2a_3x3: BasicConv2d::new(d, [32, 32], [3, 3], 1, [0, 0]),
            Conv2d_2b_3x3: BasicConv2d::new(d, [32, 64], [3, 3], 1, [1, 1]),
            Conv2d_3b_1x1: BasicConv2d::k1(d, 64, 80),
            Conv2d_4a_3x3: BasicConv2d::new(d, [80, 192], [3, 3], 1, [0, 0]),
            Mixed_5b: InceptionA::new(d, 192, 32),
            Mixed_5c: InceptionA::new(d, 256, 64),
            Mixed_5d: InceptionA::new(d, 288, 64),
            Mixed_6a: InceptionB::new(d, 288),
            Mixed_6b: InceptionC::new(d, 768, 128),
            Mixed_6c: InceptionC::new(d, 768, 160),
            Mixed_6d: InceptionC::new(d, 768, 160),
            Mixed_6e: InceptionC::new(d, 768, 192),
            Mixed_7a: InceptionD::new(d, 768),
            Mixed_7b: InceptionE::new(d, 1280, false),
            Mixed_7c: InceptionE::new(d, 2048, true),
            fc: LinearConfig::new(2048, self.num_classes).init(d),
        }
    }
}

/// pytorch-fid's FID InceptionV3 (field names = the state-dict names of
/// `pt_inception-2015-12-05-6726825d.pth`).
#[derive(Module, Debug)]
#[allow(non_snake_case, missing_docs)]
pub struct InceptionV3<B: Backend> {
    pub Conv2d_1a_3x3: BasicConv2d<B>,
    pub Conv2d_2a_3x3: BasicConv2d<B>,
    pub Conv2d_2b_3x3: BasicConv2d<B>,
    pub Conv2d_3b_1x1: BasicConv2d<B>,
    pub Conv2d_4a_3x3: BasicConv2d<B>,
    pub Mixed_5b: InceptionA<B>,
    pub Mixed_5c: InceptionA<B>,
    pub Mixed_5d: InceptionA<B>,
    pub Mixed_6a: InceptionB<B>,
    pub Mixed_6b: InceptionC<B>,
    pub Mixed_6c: InceptionC<B>,
    pub Mixed_6d: InceptionC<B>,
    pub Mixed_6e: InceptionC<B>,
    pub Mixed_7a: InceptionD<B>,
    pub Mixed_7b: InceptionE<B>,
    pub Mixed_7c: InceptionE<B>,
    /// `[2048] → [num_classes]` classifier (its logits feed the Inception Score).
    pub fc: Linear<B>,
}

impl<B: Backend> InceptionV3<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>) {
        let p = "";
        walk_branches!(
            self,
            v,
            p,
            Conv2d_1a_3x3,
            Conv2d_2a_3x3,
            Conv2d_2b_3x3,
            Conv2d_3b_1x1,
            Conv2d_4a_3x3,
            Mixed_5b,
            Mixed_5c,
            Mixed_5d,
            Mixed_6a,
            Mixed_6b,
            Mixed_6c,
            Mixed_6d,
            Mixed_6e,
            Mixed_7a,
            Mixed_7b,
            Mixed_7c
        );
        v.linear("fc", &mut self.fc);
    }

    /// Loads pytorch-fid's weights: a PyTorch `.pth`/`.pt` state dict or a `.safetensors` file
    /// with the same keys. Missing, unused (other than batch norms' `num_batches_tracked`) or
    /// mis-shaped tensors are an [`Error::Weights`].
    pub fn load_file(path: impl AsRef<Path>, device: &B::Device) -> crate::Result<Self> {
        let path = path.as_ref();
        let shown = path.display();
        if !path.is_file() {
            return Err(Error::Weights(format!("{shown}: no such file")));
        }
        let sd = StateDict::read(path).map_err(|e| Error::Weights(e.to_string()))?;
        let mut model = InceptionV3Config::new().init::<B>(device);
        let mut loader = Loader::new(&sd, device);
        model.walk(&mut loader);
        loader.finish().map_err(|e| Error::Weights(e.to_string()))?;
        Ok(model)
    }

    /// The model with its weights cast to `dtype` (f16/bf16 on GPU backends). [`Self::features`]
    /// then runs the network in `dtype` and returns f32 features; pytorch-fid and published FID
    /// figures use f32, so half-precision features shift FID slightly (measure before comparing).
    pub fn with_dtype(self, dtype: DType) -> Self {
        self.map(&mut CastMapper { dtype })
    }

    /// pool3 features `[N, 2048]` of images `[N, 3, H, W]` with values in `[0, 1]`, as
    /// pytorch-fid's `InceptionV3([3])` computes them: bilinear resize to 299² (PyTorch's
    /// `interpolate(align_corners=False)`, no antialiasing), `2x − 1`, the network, global
    /// average pool. The network runs in the weights' dtype ([`Self::with_dtype`]): the resize
    /// in f32, the average pool and the features in f32.
    pub fn features(&self, images: Tensor<B, 4>) -> crate::Result<Tensor<B, 2>> {
        let [n, c, h, w] = images.dims();
        if c != 3 || n == 0 || h == 0 || w == 0 {
            return Err(Error::Image(format!(
                "Inception input must be [N, 3, H, W] with N, H, W ≥ 1, got {:?}",
                [n, c, h, w]
            )));
        }
        let dtype = self.fc.weight.val().dtype();
        let x = resize_bilinear(to_f32(images), INCEPTION_SIZE, INCEPTION_SIZE) * 2.0 - 1.0;
        let x = cast_to(x, dtype);
        let x = [
            &self.Conv2d_1a_3x3,
            &self.Conv2d_2a_3x3,
            &self.Conv2d_2b_3x3,
        ]
        .iter()
        .fold(x, |t, m| m.forward(t));
        let x = max_pool_s2(x);
        let x = self.Conv2d_4a_3x3.forward(self.Conv2d_3b_1x1.forward(x));
        let x = max_pool_s2(x);
        let x = [&self.Mixed_5b, &self.Mixed_5c, &self.Mixed_5d]
            .iter()
            .fold(x, |t, m| m.forward(t));
        let x = self.Mixed_6a.forward(x);
        let x = [
            &self.Mixed_6b,
            &self.Mixed_6c,
            &self.Mixed_6d,
            &self.Mixed_6e,
        ]
        .iter()
        .fold(x, |t, m| m.forward(t));
        let x = self
            .Mixed_7c
            .forward(self.Mixed_7b.forward(self.Mixed_7a.forward(x)));
        let [n, c, _, _] = x.dims();
        Ok(to_f32(x).mean_dim(3).mean_dim(2).reshape([n, c]))
    }

    /// Logits `[N, num_classes]` of pool3 features (`fc`, with its bias), in f32 whatever the
    /// weights' dtype (a half-precision sum of 2048 products that largely cancel would lose
    /// ~15 units of its rounding; the layer is 2 M multiply-adds per image).
    pub fn logits(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        let y = to_f32(features).matmul(to_f32(self.fc.weight.val()));
        match &self.fc.bias {
            Some(b) => y + to_f32(b.val()).unsqueeze(),
            None => y,
        }
    }
}

/// PyTorch's `F.interpolate(x, (out_h, out_w), mode="bilinear", align_corners=False)` (no
/// antialiasing): per axis `src = (dst + ½)·in/out − ½`, clamped at 0, two taps. Separable
/// gathers, so a 4096² input costs two passes over it. Same size is the identity.
pub fn resize_bilinear<B: Backend>(x: Tensor<B, 4>, out_h: usize, out_w: usize) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let x = if h == out_h {
        x
    } else {
        resize_axis(x, 2, out_h)
    };
    if w == out_w {
        x
    } else {
        resize_axis(x, 3, out_w)
    }
}

fn resize_axis<B: Backend>(x: Tensor<B, 4>, dim: usize, out: usize) -> Tensor<B, 4> {
    let n_in = x.dims()[dim];
    let device = x.device();
    let scale = n_in as f32 / out as f32;
    let (mut i0, mut i1, mut l1) = (Vec::with_capacity(out), Vec::with_capacity(out), Vec::new());
    for o in 0..out {
        let src = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let a = (src as usize).min(n_in - 1);
        i0.push(a as i64);
        i1.push((a + 1).min(n_in - 1) as i64);
        l1.push(src - a as f32);
    }
    let mut shape = [1usize; 4];
    shape[dim] = out;
    let l0: Vec<f32> = l1.iter().map(|l| 1.0 - l).collect();
    let dtype = x.dtype();
    let weights =
        |v: Vec<f32>| Tensor::<B, 4>::from_data(TensorData::new(v, shape), (&device, dtype));
    let idx = |v: Vec<i64>| Tensor::<B, 1, Int>::from_data(TensorData::new(v, [out]), &device);
    let a = x.clone().select(dim, idx(i0));
    let b = x.select(dim, idx(i1));
    a * weights(l0) + b * weights(l1)
}
