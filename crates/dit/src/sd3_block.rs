//! diffusers' `JointTransformerBlock` (`diffusers/models/attention.py`; Esser et al., *Scaling
//! Rectified Flow Transformers for High-Resolution Image Synthesis*, ICML 2024, Fig. 2): the
//! MM-DiT block of SD3 and SD3.5.
//!
//! Image stream: `norm1` (`AdaLayerNormZero`, chunks `[shift_msa, scale_msa, gate_msa,
//! shift_mlp, scale_mlp, gate_mlp]`; SD3.5's dual blocks `SD35AdaLayerNormZeroX` add
//! `[shift_msa2, scale_msa2, gate_msa2]`), joint attention, `x += gate_msa·attn`, dual blocks
//! `x += gate_msa2·attn2(LN(x_in)·(1+scale_msa2)+shift_msa2)`, then
//! `x += gate_mlp·ff(LN(x)·(1+scale_mlp)+shift_mlp)`. Text stream: the same with
//! `norm1_context` and `ff_context`, except in the last block (`context_pre_only`), whose
//! `norm1_context` is an `AdaLayerNormContinuous` (`[scale, shift]`) and whose text output is
//! dropped.

use burn::prelude::*;
use ultrares_nn::NnBackend;
use ultrares_nn::weights::Visitor;

use crate::ada_norm::{AdaNorm, layer_norm, modulate};
use crate::attention::{JointAttention, JointAttentionConfig};
use crate::feed_forward::FeedForward;

/// `transformer_blocks.i`: state-dict names `norm1`, `norm1_context`, `attn`, `attn2` (dual),
/// `ff`, `ff_context` (not in the last block).
#[derive(Module, Debug)]
pub struct JointTransformerBlock<B: Backend> {
    /// Image modulation (6 chunks, 9 with dual attention).
    pub norm1: AdaNorm<B>,
    /// Text modulation (6 chunks; 2 in the context-pre-only block).
    pub norm1_context: AdaNorm<B>,
    /// Joint attention.
    pub attn: JointAttention<B>,
    /// SD3.5's second, image-only attention.
    pub attn2: Option<JointAttention<B>>,
    /// Image feed-forward.
    pub ff: FeedForward<B>,
    /// Text feed-forward (absent in the last block).
    pub ff_context: Option<FeedForward<B>>,
}

impl<B: Backend> JointTransformerBlock<B> {
    /// A block of width `dim` with `heads` heads.
    pub fn new(
        dim: usize,
        heads: usize,
        context_pre_only: bool,
        qk_norm: bool,
        dual: bool,
        device: &B::Device,
    ) -> Self {
        let attn = JointAttentionConfig {
            dim,
            heads,
            qk_norm,
            context: true,
            context_out: !context_pre_only,
            out: true,
        };
        Self {
            norm1: AdaNorm::new(dim, dim, if dual { 9 } else { 6 }, device),
            norm1_context: AdaNorm::new(dim, dim, if context_pre_only { 2 } else { 6 }, device),
            attn: attn.init(device),
            attn2: dual.then(|| {
                JointAttentionConfig {
                    context: false,
                    ..attn
                }
                .init(device)
            }),
            ff: FeedForward::new(dim, device),
            ff_context: (!context_pre_only).then(|| FeedForward::new(dim, device)),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        self.norm1.walk(v, &format!("{prefix}.norm1"));
        self.norm1_context
            .walk(v, &format!("{prefix}.norm1_context"));
        self.attn.walk(v, &format!("{prefix}.attn"));
        if let Some(a) = self.attn2.as_mut() {
            a.walk(v, &format!("{prefix}.attn2"));
        }
        self.ff.walk(v, &format!("{prefix}.ff"));
        if let Some(f) = self.ff_context.as_mut() {
            f.walk(v, &format!("{prefix}.ff_context"));
        }
    }
}

impl<B: NnBackend> JointTransformerBlock<B> {
    /// # Shapes
    /// - `x`: `[N, L, D]` image tokens, `context`: `[N, S, D]` text tokens, `temb`: `[N, D]`
    /// - output: the new image tokens, and the new text tokens (`None` from the last block)
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        context: Tensor<B, 3>,
        temb: Tensor<B, 2>,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 3>>) {
        let m = self.norm1.chunks(temb.clone());
        let ln_x = layer_norm(x.clone());
        let xn = modulate(ln_x.clone(), &m[0], &m[1]);
        let c = self.norm1_context.chunks(temb);
        let ln_c = layer_norm(context.clone());
        let cn = match self.ff_context {
            Some(_) => modulate(ln_c, &c[0], &c[1]),
            None => modulate(ln_c, &c[1], &c[0]),
        };
        let (attn, cattn) = self.attn.forward(xn, Some(cn), false, None);
        let mut x = x + m[2].clone() * attn;
        if let Some(a2) = &self.attn2 {
            let xn2 = modulate(ln_x, &m[6], &m[7]);
            x = x + m[8].clone() * a2.forward(xn2, None, false, None).0;
        }
        let h = self
            .ff
            .forward(modulate(layer_norm(x.clone()), &m[3], &m[4]));
        let x = x + m[5].clone() * h;
        let context = match (&self.ff_context, cattn) {
            (Some(ff), Some(cattn)) => {
                let context = context + c[2].clone() * cattn;
                let h = ff.forward(modulate(layer_norm(context.clone()), &c[3], &c[4]));
                Some(context + c[5].clone() * h)
            }
            _ => None,
        };
        (x, context)
    }
}
