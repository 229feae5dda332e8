//! diffusers' `FluxSingleTransformerBlock` (`transformer_flux.py`): the single-stream block of
//! FLUX.1 over the concatenated `[text, image]` sequence — `AdaLayerNormZeroSingle`
//! (`[shift, scale, gate]`), attention (qk RMSNorm, RoPE, no output projection) in parallel with
//! a tanh-GELU MLP, `x += gate · proj_out([attn | mlp])` (Dehghani et al., *Scaling Vision
//! Transformers to 22B*, 2023, parallel layers).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::activation::gelu_tanh;
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;

use crate::ada_norm::{AdaNorm, layer_norm, modulate};
use crate::attention::{JointAttention, JointAttentionConfig};
use crate::flux_block::clip_f16;
use crate::rope::Rope;

/// `single_transformer_blocks.i`: state-dict names `norm`, `proj_mlp`, `attn`, `proj_out`.
#[derive(Module, Debug)]
pub struct FluxSingleTransformerBlock<B: Backend> {
    /// Modulation (3 chunks).
    pub norm: AdaNorm<B>,
    /// `D → 4·D`.
    pub proj_mlp: Linear<B>,
    /// Self-attention with qk RMSNorm, without output projection.
    pub attn: JointAttention<B>,
    /// `5·D → D`.
    pub proj_out: Linear<B>,
}

impl<B: Backend> FluxSingleTransformerBlock<B> {
    /// A block of width `dim` with `heads` heads.
    pub fn new(dim: usize, heads: usize, device: &B::Device) -> Self {
        Self {
            norm: AdaNorm::new(dim, dim, 3, device),
            proj_mlp: LinearConfig::new(dim, 4 * dim).init(device),
            attn: JointAttentionConfig {
                dim,
                heads,
                qk_norm: true,
                context: false,
                context_out: false,
                out: false,
            }
            .init(device),
            proj_out: LinearConfig::new(5 * dim, dim).init(device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        self.norm.walk(v, &format!("{prefix}.norm"));
        v.linear(&format!("{prefix}.proj_mlp"), &mut self.proj_mlp);
        self.attn.walk(v, &format!("{prefix}.attn"));
        v.linear(&format!("{prefix}.proj_out"), &mut self.proj_out);
    }
}

impl<B: NnBackend> FluxSingleTransformerBlock<B> {
    /// # Shapes
    /// - `x`: `[N, S + L, D]`, the joint sequence (text first), `temb`: `[N, D]`
    /// - `rope`: over the `S + L` tokens
    /// - output: `[N, S + L, D]`
    pub fn forward(&self, x: Tensor<B, 3>, temb: Tensor<B, 2>, rope: &Rope<B>) -> Tensor<B, 3> {
        let m = self.norm.chunks(temb);
        let xn = modulate(layer_norm(x.clone()), &m[0], &m[1]);
        let mlp = gelu_tanh(linear(&self.proj_mlp, xn.clone()));
        let (attn, _) = self.attn.forward(xn, None, true, Some(rope));
        let h = linear(&self.proj_out, Tensor::cat(vec![attn, mlp], 2));
        clip_f16(x + m[2].clone() * h)
    }
}
