//! Checkpoints: PyTorch pickles (`torch.save`) and safetensors, read into a name → tensor map
//! ([`StateDict`]) that the models take their parameters from by their upstream names.
//!
//! Accepted layouts:
//! * LIIF's and LSRNA's official checkpoints, `torch.save({'model': {'name', 'args', 'sd'}, …})`
//!   (`yinboc/liif:train_liif.py`, `3587jjh/LSRNA:lsr_training/train.py`): the tensors are taken
//!   from `model.sd`, the model spec from `model.name`/`model.args`; optimizer state is ignored;
//! * a plain `state_dict` pickle (no spec);
//! * safetensors with the state-dict keys, optionally carrying the spec as metadata `name` and
//!   `args` (JSON), as `tools/golden/gen_lsr.py` writes the bundled LIIF weights.
//!
//! Floating tensors are converted to f32 whatever their stored dtype (f16, bf16, f64).
//! Loading reports every missing, unexpected and mis-shaped key at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_store::pytorch::PytorchReader;
use burn_store::pytorch::reader::PickleValue;
use serde_json::Value;

use crate::{Error, Result};

/// Named tensors of a checkpoint, plus the model spec (`{"name", "args"}`) when the file has one.
#[derive(Debug, Clone)]
pub struct StateDict {
    source: String,
    tensors: BTreeMap<String, TensorData>,
    spec: Option<Value>,
}

impl StateDict {
    /// Reads a `.pth`/`.pt` pickle or a `.safetensors` file (see the module docs).
    ///
    /// # Errors
    /// [`Error::Weights`] if the file is missing, unreadable, of another format, or its tensors
    /// have an unsupported dtype.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let source = path.display().to_string();
        if !path.is_file() {
            return Err(Error::weights(source, "no such file"));
        }
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "safetensors" => read_safetensors(path, source),
            "pth" | "pt" | "ckpt" | "bin" => read_pickle(path, source),
            other => Err(Error::weights(
                source,
                format!("expected a .pth/.pt or .safetensors file, got extension {other:?}"),
            )),
        }
    }

    /// A state dict from tensors already in memory (`source` names it in error messages).
    pub fn from_tensors(
        source: impl Into<String>,
        tensors: impl IntoIterator<Item = (String, TensorData)>,
    ) -> Self {
        Self {
            source: source.into(),
            tensors: tensors.into_iter().collect(),
            spec: None,
        }
    }

    /// The same tensors with a model spec `{"name": …, "args": {…}}` attached.
    pub fn with_spec(mut self, spec: Value) -> Self {
        self.spec = Some(spec);
        self
    }

    /// The model spec (`{"name", "args"}`) stored with the weights, if any.
    pub fn spec(&self) -> Option<&Value> {
        self.spec.as_ref()
    }

    /// Where the tensors came from (a path, or the name given to [`StateDict::from_tensors`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The tensor names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The tensor called `key`.
    pub fn get(&self, key: &str) -> Option<&TensorData> {
        self.tensors.get(key)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// An [`Error::Weights`] naming this state dict's source.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::weights(self.source.clone(), message)
    }
}

fn float_to_f32(data: TensorData) -> TensorData {
    match data.dtype {
        DType::F16 | DType::BF16 | DType::F64 => data.convert::<f32>(),
        _ => data,
    }
}

fn read_safetensors(path: &Path, source: String) -> Result<StateDict> {
    use safetensors::{Dtype, SafeTensors};
    let bytes = std::fs::read(path).map_err(|e| Error::weights(&source, e.to_string()))?;
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| Error::weights(&source, e.to_string()))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            Dtype::I64 => DType::I64,
            other => {
                return Err(Error::weights(
                    &source,
                    format!("tensor {name}: unsupported dtype {other:?}"),
                ));
            }
        };
        let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
        tensors.insert(name, float_to_f32(data));
    }
    let spec = SafeTensors::read_metadata(&bytes)
        .ok()
        .and_then(|(_, meta)| meta.metadata().clone())
        .and_then(|m| {
            let name = m.get("name")?.clone();
            let args: Value = serde_json::from_str(m.get("args")?).ok()?;
            Some(serde_json::json!({ "name": name, "args": args }))
        });
    Ok(StateDict {
        source,
        tensors,
        spec,
    })
}

fn pickle_to_json(v: PickleValue) -> Value {
    match v {
        PickleValue::None | PickleValue::Bytes(_) => Value::Null,
        PickleValue::Bool(b) => Value::Bool(b),
        PickleValue::Int(i) => Value::from(i),
        PickleValue::Float(f) => Value::from(f),
        PickleValue::String(s) => Value::String(s),
        PickleValue::List(l) => Value::Array(l.into_iter().map(pickle_to_json).collect()),
        PickleValue::Dict(d) => {
            Value::Object(d.into_iter().map(|(k, v)| (k, pickle_to_json(v))).collect())
        }
    }
}

fn read_pickle(path: &Path, source: String) -> Result<StateDict> {
    let err = |e: burn_store::pytorch::PytorchError| Error::weights(&source, e.to_string());
    // The official layout nests the state dict under `model.sd`; anything else is read as a
    // plain state dict.
    let (tensors, spec) = match PytorchReader::with_top_level_key(path, "model") {
        Ok(reader) => {
            let spec = PytorchReader::read_pickle_data(path, Some("model"))
                .ok()
                .and_then(|v| match v {
                    PickleValue::Dict(mut d) => Some(serde_json::json!({
                        "name": pickle_to_json(d.remove("name")?),
                        "args": pickle_to_json(d.remove("args")?),
                    })),
                    _ => None,
                });
            let tensors: Vec<_> = reader
                .into_tensors()
                .into_iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("sd.")?.to_string(), v)))
                .collect();
            (tensors, spec)
        }
        Err(_) => (
            PytorchReader::new(path)
                .map_err(err)?
                .into_tensors()
                .into_iter()
                .collect(),
            None,
        ),
    };
    let mut out = BTreeMap::new();
    for (name, snapshot) in tensors {
        let data = snapshot
            .to_data()
            .map_err(|e| Error::weights(&source, format!("tensor {name}: {e:?}")))?;
        out.insert(name, float_to_f32(data));
    }
    Ok(StateDict {
        source,
        tensors: out,
        spec,
    })
}

/// Walks a model's tensors by their upstream state-dict names: [`Loader`] moves tensors from a
/// [`StateDict`] into the modules, [`Exporter`] copies them out.
pub trait Visitor<B: Backend> {
    /// A parameter called `key`, in PyTorch layout.
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>);

    /// `prefix.weight` `[out, in]` (Burn stores `[in, out]`) and `prefix.bias`.
    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>);

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

    /// `prefix.weight`/`prefix.bias` of a PyTorch `nn.LayerNorm` (Burn's `gamma`/`beta`).
    fn layer_norm(&mut self, prefix: &str, norm: &mut LayerNorm<B>) {
        self.param(&format!("{prefix}.weight"), &mut norm.gamma);
        if let Some(beta) = norm.beta.as_mut() {
            self.param(&format!("{prefix}.bias"), beta);
        }
    }
}

/// Moves tensors from a [`StateDict`] into modules, collecting every problem for one error.
pub struct Loader<'a, B: Backend> {
    sd: &'a StateDict,
    device: &'a B::Device,
    used: BTreeSet<String>,
    missing: Vec<String>,
    mismatched: Vec<String>,
}

impl<'a, B: Backend> Loader<'a, B> {
    /// A loader taking tensors from `sd` onto `device`.
    pub fn new(sd: &'a StateDict, device: &'a B::Device) -> Self {
        Self {
            sd,
            device,
            used: BTreeSet::new(),
            missing: Vec::new(),
            mismatched: Vec::new(),
        }
    }

    /// The tensor `key` with exactly `shape` (float, as f32), or `None` after recording why not.
    fn tensor<const D: usize>(&mut self, key: &str, shape: [usize; D]) -> Option<Tensor<B, D>> {
        let Some(data) = self.sd.get(key) else {
            self.missing.push(key.to_string());
            return None;
        };
        self.used.insert(key.to_string());
        if data.shape.as_slice() != shape.as_slice() || !data.dtype.is_float() {
            self.mismatched.push(format!(
                "{key}: expected float {shape:?}, got {:?} {:?}",
                data.dtype, data.shape
            ));
            return None;
        }
        Some(Tensor::from_data(data.clone(), (self.device, DType::F32)))
    }

    /// Fails with every missing, mis-shaped and unexpected key, or succeeds if there are none.
    pub fn finish(self) -> Result<()> {
        let unexpected: Vec<&str> = self.sd.keys().filter(|k| !self.used.contains(*k)).collect();
        if self.missing.is_empty() && self.mismatched.is_empty() && unexpected.is_empty() {
            return Ok(());
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing keys {:?}", self.missing));
        }
        if !self.mismatched.is_empty() {
            parts.push(format!("mismatched {:?}", self.mismatched));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected keys {unexpected:?}"));
        }
        Err(self.sd.error(parts.join("; ")))
    }
}

impl<B: Backend> Visitor<B> for Loader<'_, B> {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        if let Some(t) = self.tensor(key, param.dims()) {
            *param = Param::from_tensor(t);
        }
    }

    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let [d_in, d_out] = linear.weight.dims();
        if let Some(t) = self.tensor(&format!("{prefix}.weight"), [d_out, d_in]) {
            linear.weight = Param::from_tensor(t.transpose());
        }
        if let Some(bias) = linear.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), bias);
        }
    }

    fn buffer(&mut self, key: &str, expected: Option<&[i64]>) {
        let Some(data) = self.sd.get(key) else {
            return;
        };
        self.used.insert(key.to_string());
        if let Some(expected) = expected {
            let ok = data.to_vec::<i64>().is_ok_and(|v| v.as_slice() == expected);
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

    fn buffer(&mut self, _key: &str, _expected: Option<&[i64]>) {}
}
