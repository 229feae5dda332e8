//! The joint attention of SD3's and Flux's blocks (diffusers `JointAttnProcessor2_0`,
//! `FluxAttnProcessor`; Esser et al., *Scaling Rectified Flow Transformers*, ICML 2024, §4 "MM-DiT";
//! Black Forest Labs, FLUX.1): image tokens and text tokens get their own q/k/v projections
//! (`to_*` and `add_*_proj`), optional per-head RMSNorm (`norm_q`, `norm_k`, `norm_added_q`,
//! `norm_added_k`, ε 1e-6), one attention over the concatenated sequence — image first for SD3,
//! text first for Flux — with Flux's RoPE, then separate output projections (`to_out.0`,
//! `to_add_out`). Attention runs through [`ultrares_nn::attention`] (fused on CubeCL, query
//! chunks bounded to `3·4·max(2²⁴, N·H·S)` bytes elsewhere) with the default scale `1/√d`.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::attention::{attention, merge_heads, split_heads};
use ultrares_nn::linear::linear;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{NnBackend, RmsNorm, RmsNormConfig};

use crate::rope::Rope;

/// Which projections a [`JointAttention`] has.
#[derive(Debug, Clone, Copy)]
pub struct JointAttentionConfig {
    /// Inner width (`heads · head_dim`).
    pub dim: usize,
    /// Heads.
    pub heads: usize,
    /// Per-head RMSNorm on queries and keys (SD3.5, Flux).
    pub qk_norm: bool,
    /// Text projections `add_{q,k,v}_proj` (joint attention; false for self-attention).
    pub context: bool,
    /// `to_add_out` (false in SD3's last, context-pre-only block).
    pub context_out: bool,
    /// `to_out.0` (false in Flux's single blocks).
    pub out: bool,
}

/// `attn` / `attn2`: state-dict names `to_q`, `to_k`, `to_v`, `norm_q`, `norm_k`, `add_q_proj`,
/// `add_k_proj`, `add_v_proj`, `norm_added_q`, `norm_added_k`, `to_out.0`, `to_add_out`, all
/// Linear layers with bias.
#[derive(Module, Debug)]
pub struct JointAttention<B: Backend> {
    /// Image queries.
    pub to_q: Linear<B>,
    /// Image keys.
    pub to_k: Linear<B>,
    /// Image values.
    pub to_v: Linear<B>,
    /// RMSNorm of image queries per head.
    pub norm_q: Option<RmsNorm<B>>,
    /// RMSNorm of image keys per head.
    pub norm_k: Option<RmsNorm<B>>,
    /// Text queries.
    pub add_q_proj: Option<Linear<B>>,
    /// Text keys.
    pub add_k_proj: Option<Linear<B>>,
    /// Text values.
    pub add_v_proj: Option<Linear<B>>,
    /// RMSNorm of text queries per head.
    pub norm_added_q: Option<RmsNorm<B>>,
    /// RMSNorm of text keys per head.
    pub norm_added_k: Option<RmsNorm<B>>,
    /// Image output projection.
    pub to_out: Option<Linear<B>>,
    /// Text output projection.
    pub to_add_out: Option<Linear<B>>,
    heads: usize,
}

impl JointAttentionConfig {
    /// The module with Burn's default (lazy) initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> JointAttention<B> {
        let lin = || LinearConfig::new(self.dim, self.dim).init(device);
        let norm = |on: bool| {
            on.then(|| {
                RmsNormConfig::new(self.dim / self.heads)
                    .with_epsilon(1e-6)
                    .init(device)
            })
        };
        JointAttention {
            to_q: lin(),
            to_k: lin(),
            to_v: lin(),
            norm_q: norm(self.qk_norm),
            norm_k: norm(self.qk_norm),
            add_q_proj: self.context.then(lin),
            add_k_proj: self.context.then(lin),
            add_v_proj: self.context.then(lin),
            norm_added_q: norm(self.qk_norm && self.context),
            norm_added_k: norm(self.qk_norm && self.context),
            to_out: self.out.then(lin),
            to_add_out: (self.context && self.context_out).then(lin),
            heads: self.heads,
        }
    }
}

impl<B: Backend> JointAttention<B> {
    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.linear(&format!("{prefix}.to_q"), &mut self.to_q);
        v.linear(&format!("{prefix}.to_k"), &mut self.to_k);
        v.linear(&format!("{prefix}.to_v"), &mut self.to_v);
        for (name, n) in [
            ("norm_q", &mut self.norm_q),
            ("norm_k", &mut self.norm_k),
            ("norm_added_q", &mut self.norm_added_q),
            ("norm_added_k", &mut self.norm_added_k),
        ] {
            if let Some(w) = n.as_mut().and_then(|n| n.weight.as_mut()) {
                v.param(&format!("{prefix}.{name}.weight"), w);
            }
        }
        for (name, l) in [
            ("add_q_proj", &mut self.add_q_proj),
            ("add_k_proj", &mut self.add_k_proj),
            ("add_v_proj", &mut self.add_v_proj),
            ("to_out.0", &mut self.to_out),
            ("to_add_out", &mut self.to_add_out),
        ] {
            if let Some(l) = l.as_mut() {
                v.linear(&format!("{prefix}.{name}"), l);
            }
        }
    }
}

impl<B: NnBackend> JointAttention<B> {
    fn heads_of(
        &self,
        proj: &Linear<B>,
        norm: &Option<RmsNorm<B>>,
        x: Tensor<B, 3>,
    ) -> Tensor<B, 4> {
        let h = split_heads(linear(proj, x), self.heads);
        match norm {
            Some(n) => n.forward(h),
            None => h,
        }
    }

    /// Joint attention of image tokens `x` and text tokens `context` (self-attention of `x`
    /// when `context` is `None` or the module has no text projections).
    ///
    /// `text_first` orders the joint sequence as Flux does (`[text, image]`, the order of
    /// `rope`'s ids); SD3 puts the image first. Returns the image part (through `to_out.0` when
    /// present) and the text part (through `to_add_out` when present).
    ///
    /// # Shapes
    /// - `x`: `[N, L, dim]`, `context`: `[N, S, dim]`
    /// - `rope`: over `S + L` tokens in the joint order
    /// - output: `[N, L, dim]` and `[N, S, dim]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        context: Option<Tensor<B, 3>>,
        text_first: bool,
        rope: Option<&Rope<B>>,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 3>>) {
        let l = x.dims()[1];
        let mut q = self.heads_of(&self.to_q, &self.norm_q, x.clone());
        let mut k = self.heads_of(&self.to_k, &self.norm_k, x.clone());
        let mut v = self.heads_of(&self.to_v, &None, x);
        let joint = match (
            context,
            &self.add_q_proj,
            &self.add_k_proj,
            &self.add_v_proj,
        ) {
            (Some(c), Some(aq), Some(ak), Some(av)) => {
                let s = c.dims()[1];
                let cq = self.heads_of(aq, &self.norm_added_q, c.clone());
                let ck = self.heads_of(ak, &self.norm_added_k, c.clone());
                let cv = self.heads_of(av, &None, c);
                let join = |a: Tensor<B, 4>, b: Tensor<B, 4>| {
                    if text_first {
                        Tensor::cat(vec![b, a], 2)
                    } else {
                        Tensor::cat(vec![a, b], 2)
                    }
                };
                q = join(q, cq);
                k = join(k, ck);
                v = join(v, cv);
                Some(s)
            }
            _ => None,
        };
        if let Some(r) = rope {
            q = r.apply(q);
            k = r.apply(k);
        }
        let o = merge_heads(attention(
            q,
            k,
            v,
            None,
            None,
            AttentionModuleOptions::default(),
        ));
        let [n, total, d] = o.dims();
        let (img, txt) = match joint {
            None => (o, None),
            Some(s) => {
                let (img_at, txt_at) = if text_first { (s, 0) } else { (0, l) };
                let img = o.clone().slice([0..n, img_at..img_at + l, 0..d]);
                let txt = o.slice([0..n, txt_at..txt_at + s, 0..d]);
                debug_assert_eq!(total, l + s);
                (img, Some(txt))
            }
        };
        let img = match &self.to_out {
            Some(p) => linear(p, img),
            None => img,
        };
        let txt = match (&self.to_add_out, txt) {
            (Some(p), Some(t)) => Some(linear(p, t)),
            (_, t) => t,
        };
        (img, txt)
    }
}
