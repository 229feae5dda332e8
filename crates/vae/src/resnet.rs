//! `ResnetBlock2D` as the VAE uses it (no time embedding, dropout 0, output scale 1):
//! `x' + conv2(SiLU(norm2(conv1(SiLU(norm1(x))))))`, `x'` = `conv_shortcut(x)` (1×1) when the
//! channel count changes. Source: `diffusers/models/resnet.py`.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::Result;
use ultrares_nn::conv::conv2d_nn;
use ultrares_nn::{GroupNorm, GroupNormConfig};

use crate::norm::{CtxNorm, NormCtx};

/// GroupNorm ε of every VAE norm layer (`resnet_eps = 1e-6`).
pub(crate) const EPS: f64 = 1e-6;

pub(crate) use ultrares_nn::conv::same_conv as conv;

/// A VAE GroupNorm (ε = [`EPS`]) over `channels` in `groups` groups.
pub(crate) fn group_norm<B: NnBackend>(
    groups: usize,
    channels: usize,
    device: &B::Device,
) -> GroupNorm<B> {
    GroupNormConfig::new(groups, channels)
        .with_epsilon(EPS)
        .init(device)
}

/// Visits a GroupNorm's `weight`/`bias`.
pub(crate) fn walk_norm<B: NnBackend>(v: &mut impl Visitor<B>, prefix: &str, n: &mut GroupNorm<B>) {
    v.param(&format!("{prefix}.weight"), &mut n.weight);
    v.param(&format!("{prefix}.bias"), &mut n.bias);
}

/// `ResnetBlock2D`: `[N, in, H, W] → [N, out, H, W]`.
#[derive(Module, Debug)]
pub struct ResnetBlock2d<B: Backend> {
    /// GroupNorm over the input.
    pub norm1: GroupNorm<B>,
    /// 3×3, `in → out`.
    pub conv1: Conv2d<B>,
    /// GroupNorm over `out` channels.
    pub norm2: GroupNorm<B>,
    /// 3×3, `out → out`.
    pub conv2: Conv2d<B>,
    /// 1×1 `in → out`, present when `in ≠ out`.
    pub conv_shortcut: Option<Conv2d<B>>,
}

impl<B: NnBackend> ResnetBlock2d<B> {
    /// A block `cin → cout` with `groups` GroupNorm groups.
    pub fn new(cin: usize, cout: usize, groups: usize, device: &B::Device) -> Self {
        Self {
            norm1: group_norm(groups, cin, device),
            conv1: conv(cin, cout, 3, device),
            norm2: group_norm(groups, cout, device),
            conv2: conv(cout, cout, 3, device),
            conv_shortcut: (cin != cout).then(|| conv(cin, cout, 1, device)),
        }
    }

    /// `[N, in, H, W] → [N, out, H, W]`.
    pub fn forward(&self, x: Tensor<B, 4>, ctx: &mut NormCtx) -> Result<Tensor<B, 4>> {
        let h = conv2d_nn(
            &self.conv1,
            self.norm1.forward_ctx_silu(x.clone(), ctx)?,
            ctx.gemm_band,
        );
        let h = conv2d_nn(
            &self.conv2,
            self.norm2.forward_ctx_silu(h, ctx)?,
            ctx.gemm_band,
        );
        let x = match &self.conv_shortcut {
            Some(c) => conv2d_nn(c, x, ctx.gemm_band),
            None => x,
        };
        Ok(x + h)
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        walk_norm(v, &format!("{prefix}.norm1"), &mut self.norm1);
        v.conv2d(&format!("{prefix}.conv1"), &mut self.conv1);
        walk_norm(v, &format!("{prefix}.norm2"), &mut self.norm2);
        v.conv2d(&format!("{prefix}.conv2"), &mut self.conv2);
        if let Some(c) = self.conv_shortcut.as_mut() {
            v.conv2d(&format!("{prefix}.conv_shortcut"), c);
        }
    }
}
