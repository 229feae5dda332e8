//! `AttnBlockpp` (`score_sde/models/layerspp.py`): single-head self-attention over all pixels,
//! `(x + NIN_3(softmax(q kᵀ / √C) v)) / √2` with `q, k, v = NIN_{0,1,2}(GroupNorm(x))` (Song et
//! al., *Score-Based Generative Modeling through SDEs*, ICLR 2021). Attention runs through
//! `ultrares-nn` (fused on GPU backends, query-chunked on the CPU).

use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::attention::attention;
use ultrares_nn::weights::Visitor;
use ultrares_nn::{GroupNorm, GroupNormConfig, NnBackend};

use crate::config::groups;
use crate::nin::Nin;

/// `AttnBlockpp(C, skip_rescale=True, init_scale=0)`: state-dict names `GroupNorm_0`,
/// `NIN_0`…`NIN_3`.
#[derive(Module, Debug)]
pub struct AttnBlock<B: Backend> {
    /// `GroupNorm(min(C/4, 32), C, eps=1e-6)`.
    pub group_norm_0: GroupNorm<B>,
    /// Query.
    pub nin_0: Nin<B>,
    /// Key.
    pub nin_1: Nin<B>,
    /// Value.
    pub nin_2: Nin<B>,
    /// Output (initialised at scale 0).
    pub nin_3: Nin<B>,
}

impl<B: Backend> AttnBlock<B> {
    /// For `c` channels.
    pub fn new(c: usize, device: &B::Device) -> Self {
        Self {
            group_norm_0: GroupNormConfig::new(groups(c), c)
                .with_epsilon(1e-6)
                .init(device),
            nin_0: Nin::new(c, c, 0.1, device),
            nin_1: Nin::new(c, c, 0.1, device),
            nin_2: Nin::new(c, c, 0.1, device),
            nin_3: Nin::new(c, c, 0.0, device),
        }
    }

    pub(crate) fn walk(&mut self, v: &mut impl Visitor<B>, prefix: &str) {
        v.group_norm(&format!("{prefix}.GroupNorm_0"), &mut self.group_norm_0);
        self.nin_0.walk(v, &format!("{prefix}.NIN_0"));
        self.nin_1.walk(v, &format!("{prefix}.NIN_1"));
        self.nin_2.walk(v, &format!("{prefix}.NIN_2"));
        self.nin_3.walk(v, &format!("{prefix}.NIN_3"));
    }
}

impl<B: NnBackend> AttnBlock<B> {
    /// # Shapes
    /// `[N, C, H, W] → [N, C, H, W]`; peak memory of the scores as
    /// [`ultrares_nn::attention`] (bounded on the CPU path).
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let hw = h * w;
        let rows = self
            .group_norm_0
            .forward(x.clone())
            .reshape([n, c, hw])
            .swap_dims(1, 2)
            .reshape([n * hw, c]);
        let heads = |nin: &Nin<B>| nin.forward(rows.clone()).reshape([n, 1, hw, c]);
        let (q, k, v) = (heads(&self.nin_0), heads(&self.nin_1), heads(&self.nin_2));
        let a = attention(q, k, v, None, None, AttentionModuleOptions::default());
        let out = self
            .nin_3
            .forward(a.reshape([n * hw, c]))
            .reshape([n, hw, c])
            .swap_dims(1, 2)
            .reshape([n, c, h, w]);
        (x + out).mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
    }
}
