//! diffusers' `ResnetBlock2D` with a time embedding (`diffusers/models/resnet.py`,
//! `time_embedding_norm="default"`): `h = conv1(SiLU(norm1(x))) + time_emb_proj(SiLU(temb))`,
//! `out = (shortcut(x) + conv2(SiLU(norm2(h)))) / output_scale_factor` (He et al., *Deep Residual
//! Learning*, 2016; Ho et al., *DDPM*, 2020, appendix B).

use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::conv::{conv2d_nn, same_conv};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{GroupNorm, GroupNormConfig, NnBackend};

/// `ResnetBlock2D`: state-dict names `norm1`, `conv1`, `time_emb_proj`, `norm2`, `conv2`,
/// `conv_shortcut` (1×1, only when the channel count changes).
#[derive(Module, Debug)]
pub struct ResnetBlock2D<B: Backend> {
    /// GroupNorm over the input channels.
    pub norm1: GroupNorm<B>,
    /// 3×3, `in → out`.
    pub conv1: Conv2d<B>,
    /// `temb_channels → out`.
    pub time_emb_proj: Linear<B>,
    /// GroupNorm over the output channels.
    pub norm2: GroupNorm<B>,
    /// 3×3, `out → out`.
    pub conv2: Conv2d<B>,
    /// 1×1, `in → out`, iff `in ≠ out`.
    pub conv_shortcut: Option<Conv2d<B>>,
    /// `output_scale_factor` (1 except a mid block with `mid_block_scale_factor`).
    pub output_scale_factor: f64,
}

impl<B: Backend> ResnetBlock2D<B> {
    /// A block `cin → cout` with `groups` GroupNorm groups (ε `eps`) and a `temb`-wide time
    /// embedding.
    pub fn new(
        cin: usize,
        cout: usize,
        temb: usize,
        groups: usize,
        eps: f64,
        output_scale_factor: f64,
        device: &B::Device,
    ) -> Self {
        let norm = |c| {
            GroupNormConfig::new(groups, c)
                .with_epsilon(eps)
                .init(device)
        };
        Self {
            norm1: norm(cin),
            conv1: same_conv(cin, cout, 3, device),
            time_emb_proj: LinearConfig::new(temb, cout).init(device),
            norm2: norm(cout),
            conv2: same_conv(cout, cout, 3, device),
            conv_shortcut: (cin != cout).then(|| same_conv(cin, cout, 1, device)),
            output_scale_factor,
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.group_norm(&format!("{prefix}.norm1"), &mut self.norm1);
        v.conv2d(&format!("{prefix}.conv1"), &mut self.conv1);
        v.linear(&format!("{prefix}.time_emb_proj"), &mut self.time_emb_proj);
        v.group_norm(&format!("{prefix}.norm2"), &mut self.norm2);
        v.conv2d(&format!("{prefix}.conv2"), &mut self.conv2);
        if let Some(c) = self.conv_shortcut.as_mut() {
            v.conv2d(&format!("{prefix}.conv_shortcut"), c);
        }
    }
}

impl<B: NnBackend> ResnetBlock2D<B> {
    /// # Shapes
    /// - `x`: `[N, in, H, W]`
    /// - `temb_act`: `SiLU(temb)`, `[N, temb_channels]` (computed once per UNet call)
    /// - output: `[N, out, H, W]`
    pub fn forward(&self, x: Tensor<B, 4>, temb_act: Tensor<B, 2>) -> Tensor<B, 4> {
        let band = B::conv_gemm_band();
        let h = conv2d_nn(&self.conv1, self.norm1.forward_silu(x.clone()), band);
        let t = linear(&self.time_emb_proj, temb_act);
        let [n, c] = t.dims();
        let h = h + t.reshape([n, c, 1, 1]);
        let h = conv2d_nn(&self.conv2, self.norm2.forward_silu(h), band);
        let skip = match &self.conv_shortcut {
            Some(conv) => conv2d_nn(conv, x, band),
            None => x,
        };
        let out = skip + h;
        if self.output_scale_factor == 1.0 {
            out
        } else {
            out.div_scalar(self.output_scale_factor)
        }
    }
}
