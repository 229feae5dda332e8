//! diffusers' `BasicTransformerBlock` as UNets build it (`diffusers/models/attention.py`,
//! `norm_type="layer_norm"`, GEGLU feed-forward): `x += attn1(norm1(x))`,
//! `x += attn2(norm2(x), context)`, `x += ff(norm3(x))` (Rombach et al., *High-Resolution Image
//! Synthesis with Latent Diffusion Models*, 2022, appendix; Shazeer, *GLU Variants*, 2020).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use ultrares_nn::activation::{Geglu, GegluConfig};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{LayerNorm, LayerNormConfig, NnBackend};

use crate::attention::Attention;

/// `ff`: `net.0` = GEGLU `dim → 4·dim` (its `proj` is `dim → 8·dim`), `net.1` dropout (no
/// weights), `net.2` = Linear `4·dim → dim`.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    /// `net.0`.
    pub net_0: Geglu<B>,
    /// `net.2`.
    pub net_2: Linear<B>,
}

/// `transformer_blocks.k`: state-dict names `norm1`, `attn1`, `norm2`, `attn2`, `norm3`, `ff`.
#[derive(Module, Debug)]
pub struct BasicTransformerBlock<B: Backend> {
    /// LayerNorm before self-attention (ε 1e-5).
    pub norm1: LayerNorm<B>,
    /// Self-attention.
    pub attn1: Attention<B>,
    /// LayerNorm before cross-attention.
    pub norm2: LayerNorm<B>,
    /// Cross-attention on the text states.
    pub attn2: Attention<B>,
    /// LayerNorm before the feed-forward.
    pub norm3: LayerNorm<B>,
    /// GEGLU feed-forward.
    pub ff: FeedForward<B>,
}

impl<B: Backend> BasicTransformerBlock<B> {
    /// A block over `dim` features, `heads` heads, cross-attending to `context_dim` features.
    pub fn new(dim: usize, heads: usize, context_dim: usize, device: &B::Device) -> Self {
        let norm = || LayerNormConfig::new(dim).init(device);
        Self {
            norm1: norm(),
            attn1: Attention::new(dim, dim, heads, device),
            norm2: norm(),
            attn2: Attention::new(dim, context_dim, heads, device),
            norm3: norm(),
            ff: FeedForward {
                net_0: GegluConfig::new(dim, 4 * dim).init(device),
                net_2: LinearConfig::new(4 * dim, dim).init(device),
            },
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.nn_layer_norm(&format!("{prefix}.norm1"), &mut self.norm1);
        self.attn1.walk(v, &format!("{prefix}.attn1"));
        v.nn_layer_norm(&format!("{prefix}.norm2"), &mut self.norm2);
        self.attn2.walk(v, &format!("{prefix}.attn2"));
        v.nn_layer_norm(&format!("{prefix}.norm3"), &mut self.norm3);
        v.linear(&format!("{prefix}.ff.net.0.proj"), &mut self.ff.net_0.proj);
        v.linear(&format!("{prefix}.ff.net.2"), &mut self.ff.net_2);
    }
}

impl<B: NnBackend> BasicTransformerBlock<B> {
    /// # Shapes
    /// - `x`: `[N, L, dim]`, `context`: `[N, S, context_dim]`
    /// - output: `[N, L, dim]`
    pub fn forward(&self, x: Tensor<B, 3>, context: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.attn1.forward(self.norm1.forward(x.clone()), None) + x;
        let x = self
            .attn2
            .forward(self.norm2.forward(x.clone()), Some(context))
            + x;
        linear(
            &self.ff.net_2,
            self.ff.net_0.forward(self.norm3.forward(x.clone())),
        ) + x
    }
}
