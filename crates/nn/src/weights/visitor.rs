//! Walking a model's tensors by their upstream names: [`Loader`] moves tensors from a
//! [`StateDict`] into the modules, [`Exporter`] copies them out.

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use super::StateDict;
use crate::Result;

/// Walks a model's tensors by their upstream state-dict names.
pub trait Visitor<B: Backend> {
    /// A parameter called `key`, in PyTorch layout.
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>);

    /// `prefix.weight` `[out, in]` (Burn stores `[in, out]`) and `prefix.bias`.
    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>);

    /// A running statistic (a batch norm's `running_mean`/`running_var`), in PyTorch layout.
    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<B, D>>);

    /// An optional buffer the model recomputes; when present it must equal `expected` (integer
    /// buffers) or merely exist (`expected = None`).
    fn buffer(&mut self, key: &str, expected: Option<&[i64]>);

    /// `prefix.weight` `[out, in, k, k]` and `prefix.bias` of a PyTorch `nn.Conv2d`.
    fn conv2d(&mut self, prefix: &str, conv: &mut Conv2d<B>) {
        self.param(&format!("{prefix}.weight"), &mut conv.weight);
        if let Some(bias) = conv.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), bias);
        }
    }

    /// A PyTorch `nn.BatchNorm2d`: `weight`/`bias` (Burn's `gamma`/`beta`), `running_mean`,
    /// `running_var`, and the optional `num_batches_tracked`.
    fn batch_norm(&mut self, prefix: &str, bn: &mut BatchNorm<B>) {
        self.param(&format!("{prefix}.weight"), &mut bn.gamma);
        self.param(&format!("{prefix}.bias"), &mut bn.beta);
        self.running(&format!("{prefix}.running_mean"), &mut bn.running_mean);
        self.running(&format!("{prefix}.running_var"), &mut bn.running_var);
        self.buffer(&format!("{prefix}.num_batches_tracked"), None);
    }

    /// `prefix.weight`/`prefix.bias` of an `nn.GroupNorm` ([`crate::GroupNorm`]).
    fn group_norm(&mut self, prefix: &str, norm: &mut crate::GroupNorm<B>) {
        self.param(&format!("{prefix}.weight"), &mut norm.weight);
        self.param(&format!("{prefix}.bias"), &mut norm.bias);
    }

    /// `prefix.weight`/`prefix.bias` (when affine) of an `nn.LayerNorm` with f32 statistics
    /// ([`crate::LayerNorm`]).
    fn nn_layer_norm(&mut self, prefix: &str, norm: &mut crate::LayerNorm<B>) {
        if let Some(w) = norm.weight.as_mut() {
            self.param(&format!("{prefix}.weight"), w);
        }
        if let Some(b) = norm.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), b);
        }
    }

    /// `prefix.weight`/`prefix.bias` of a PyTorch `nn.LayerNorm` (Burn's `gamma`/`beta`).
    fn layer_norm(&mut self, prefix: &str, norm: &mut LayerNorm<B>) {
        self.param(&format!("{prefix}.weight"), &mut norm.gamma);
        if let Some(beta) = norm.beta.as_mut() {
            self.param(&format!("{prefix}.bias"), beta);
        }
    }
}

/// Moves tensors from a [`StateDict`] into modules, one at a time, collecting every problem for
/// one error.
///
/// Each float tensor is converted to its parameter's dtype (an initialised parameter's own
/// dtype, otherwise the loader's [`Loader::with_dtype`], f32 by default) on the host and
/// uploaded; nothing else is kept, so a lazily initialised model loads at about its own size
/// plus its largest tensor.
pub struct Loader<'a, B: Backend> {
    sd: &'a StateDict,
    device: &'a B::Device,
    dtype: DType,
    used: BTreeSet<String>,
    missing: Vec<String>,
    mismatched: Vec<String>,
    unreadable: Vec<String>,
}

impl<'a, B: Backend> Loader<'a, B> {
    /// A loader taking tensors from `sd` onto `device`.
    pub fn new(sd: &'a StateDict, device: &'a B::Device) -> Self {
        Self {
            sd,
            device,
            dtype: DType::F32,
            used: BTreeSet::new(),
            missing: Vec::new(),
            mismatched: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    /// Loads uninitialised float parameters in `dtype` (f32 by default).
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }

    /// The tensor `key` with exactly `shape` in `dtype`, or `None` after recording why not.
    fn tensor<const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        dtype: DType,
    ) -> Option<Tensor<B, D>> {
        let Some(info) = self.sd.info(key) else {
            self.missing.push(key.to_string());
            return None;
        };
        self.used.insert(key.to_string());
        let float = info.dtype.is_some_and(|d| d.is_float());
        if info.shape.as_slice() != shape.as_slice() || !float {
            self.mismatched.push(format!(
                "{key}: expected float {shape:?}, got {} {:?}",
                info.dtype_name, info.shape
            ));
            return None;
        }
        let data = match self.sd.data(key)? {
            Ok(data) => data,
            Err(e) => {
                self.unreadable.push(e.to_string());
                return None;
            }
        };
        let data = if data.dtype == dtype {
            data
        } else {
            data.convert_dtype(dtype)
        };
        Some(Tensor::from_data(data, (self.device, dtype)))
    }

    fn dtype_of<const D: usize>(&self, param: &Param<Tensor<B, D>>) -> DType {
        if param.is_initialized() {
            param.val().dtype()
        } else {
            self.dtype
        }
    }

    /// Fails with every missing, mis-shaped, unreadable and unexpected key, or succeeds if there
    /// are none.
    ///
    /// # Errors
    /// [`crate::Error::Weights`] listing them (the first 8 of each kind, and their counts).
    pub fn finish(self) -> Result<()> {
        let unexpected: Vec<&str> = self.sd.keys().filter(|k| !self.used.contains(*k)).collect();
        if self.missing.is_empty()
            && self.mismatched.is_empty()
            && unexpected.is_empty()
            && self.unreadable.is_empty()
        {
            return Ok(());
        }
        let mut parts = Vec::new();
        let mut list = |what: &str, items: Vec<&str>| {
            if items.is_empty() {
                return;
            }
            let shown: Vec<&str> = items.iter().take(8).copied().collect();
            let more = items.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            parts.push(format!("{} {what} {shown:?}{tail}", items.len()));
        };
        list(
            "missing keys",
            self.missing.iter().map(String::as_str).collect(),
        );
        list(
            "mismatched",
            self.mismatched.iter().map(String::as_str).collect(),
        );
        list("unexpected keys", unexpected);
        list(
            "unreadable",
            self.unreadable.iter().map(String::as_str).collect(),
        );
        Err(self.sd.error(parts.join("; ")))
    }
}

impl<B: Backend> Visitor<B> for Loader<'_, B> {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        let shape: [usize; D] = param.lazy_shape().dims();
        let dtype = self.dtype_of(param);
        if let Some(t) = self.tensor(key, shape, dtype) {
            *param = Param::from_tensor(t);
        }
    }

    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let [d_in, d_out] = linear.weight.lazy_shape().dims();
        let dtype = self.dtype_of(&linear.weight);
        if let Some(t) = self.tensor(&format!("{prefix}.weight"), [d_out, d_in], dtype) {
            linear.weight = Param::from_tensor(t.transpose());
        }
        if let Some(bias) = linear.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), bias);
        }
    }

    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<B, D>>) {
        let current = state.value();
        let (shape, dtype) = (current.dims(), current.dtype());
        if let Some(t) = self.tensor(key, shape, dtype) {
            *state = RunningState::new(t);
        }
    }

    fn buffer(&mut self, key: &str, expected: Option<&[i64]>) {
        if !self.sd.contains(key) {
            return;
        }
        self.used.insert(key.to_string());
        if let Some(expected) = expected {
            let ok = self.sd.data(key).and_then(|d| d.ok()).is_some_and(|d| {
                d.convert::<i64>()
                    .to_vec::<i64>()
                    .is_ok_and(|v| v.as_slice() == expected)
            });
            if !ok {
                self.mismatched.push(format!(
                    "{key}: differs from the index this model computes (window size mismatch?)"
                ));
            }
        }
    }
}

/// Copies a model's parameters out under their upstream names, in PyTorch layout (f32).
#[derive(Default)]
pub struct Exporter {
    /// The exported tensors by name.
    pub tensors: BTreeMap<String, TensorData>,
}

impl<B: Backend> Visitor<B> for Exporter {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.tensors.insert(key.to_string(), data);
    }

    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let w = linear.weight.val().transpose().into_data().convert::<f32>();
        self.tensors.insert(format!("{prefix}.weight"), w);
        if let Some(bias) = linear.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), bias);
        }
    }

    fn running<const D: usize>(&mut self, key: &str, state: &mut RunningState<Tensor<B, D>>) {
        let data = state.value().into_data().convert::<f32>();
        self.tensors.insert(key.to_string(), data);
    }

    fn buffer(&mut self, _key: &str, _expected: Option<&[i64]>) {}
}
