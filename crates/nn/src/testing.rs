//! Test support shared with other crates' tests (not part of the API): deterministic weights set
//! while a model is walked, as `tools/golden/npz.py`'s `det_weight` sets them on the Python side.

use burn::module::{Param, RunningState};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::testing::det_weight;

use crate::weights::Visitor;

/// A [`Visitor`] that sets every parameter to `det_weight(key, PyTorch shape)` (a `Linear`'s
/// weight is generated `[out, in]` as PyTorch stores it, then transposed into Burn's `[in, out]`).
/// Generates tensor by tensor, so a multi-GB topology never holds a second copy.
pub struct DetInit<'a, B: Backend> {
    /// Where the tensors go.
    pub device: &'a B::Device,
}

impl<B: Backend> Visitor<B> for DetInit<'_, B> {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        let shape: [usize; D] = param.lazy_shape().dims();
        let data = TensorData::new(det_weight(key, &shape), shape);
        *param = Param::from_tensor(Tensor::from_data(data, self.device));
    }

    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let [i, o] = linear.weight.lazy_shape().dims();
        let key = format!("{prefix}.weight");
        let data = TensorData::new(det_weight(&key, &[o, i]), [o, i]);
        linear.weight =
            Param::from_tensor(Tensor::<B, 2>::from_data(data, self.device).transpose());
        if let Some(b) = linear.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), b);
        }
    }

    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<B, D>>) {}

    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}
