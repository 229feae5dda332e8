//! LIIF's implicit decoder, `imnet`: a plain MLP (`yinboc/liif:models/mlp.py`, identical in
//! `3587jjh/LSRNA:lsr/mlp.py`).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use ultrares_nn::weights::Visitor;

/// `Linear(in_dim → h₀) → ReLU → … → Linear(h_last → out_dim)`, no output activation.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input width (580 for LIIF with 64 features, unfolding and cell decoding).
    pub in_dim: usize,
    /// Output width (3 for RGB, 4 for SD latents).
    pub out_dim: usize,
    /// Hidden widths (`[256, 256, 256, 256]` in LIIF and LSRNA).
    pub hidden_list: Vec<usize>,
}

impl MlpConfig {
    /// An MLP with default-initialised layers.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        let mut dims = vec![self.in_dim];
        dims.extend(&self.hidden_list);
        dims.push(self.out_dim);
        Mlp {
            layers: dims
                .windows(2)
                .map(|d| LinearConfig::new(d[0], d[1]).init(device))
                .collect(),
        }
    }
}

/// The MLP. `layers[i]` is PyTorch's `layers.{2i}` (the ReLUs sit at the odd indices of the
/// upstream `nn.Sequential`).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// The linear layers, input first.
    pub layers: Vec<Linear<B>>,
}

impl<B: Backend> Mlp<B> {
    /// `[..., in_dim] → [..., out_dim]`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_from(self.layers[0].forward(x), 1)
    }

    /// Continues the MLP from the pre-activation output of layer `start − 1`: applies ReLU and
    /// layers `start..`. Lets LIIF evaluate the first layer in a cheaper, factorised form.
    pub(crate) fn forward_from<const D: usize>(
        &self,
        pre: Tensor<B, D>,
        start: usize,
    ) -> Tensor<B, D> {
        self.layers[start..]
            .iter()
            .fold(pre, |x, layer| layer.forward(relu(x)))
    }

    pub(crate) fn walk(&mut self, loader: &mut impl Visitor<B>, prefix: &str) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            loader.linear(&format!("{prefix}.layers.{}", 2 * i), layer);
        }
    }
}
