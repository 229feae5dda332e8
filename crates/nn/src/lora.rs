//! LoRA files and their merge into a model's weights, shared by every model crate (diffusers'
//! `load_lora_weights` + `fuse_lora`; Hu et al., *LoRA*, ICLR 2022):
//! `W' = W + scale · (alpha / r) · (up · down)`, convolution factors flattened (`up [O, r, 1, 1]`,
//! `down [r, I, kh, kw]`: LoCon), and — for checkpoints whose fused layers a model splits (SD3's
//! and Flux's `qkv`) — a target may take only some rows of `up`.
//!
//! [`LoraFile`] reads the pairs of a file in the kohya/A1111 layout
//! (`<prefix><module>.lora_down.weight`, `.lora_up.weight`, `.alpha`, module names with
//! underscores) or the diffusers/PEFT layout (`<prefix><module>.lora_A.weight`, `.lora_B.weight`,
//! alpha = rank unless an `.alpha` tensor is given); the model crate names the prefixes and
//! resolves module names to its layers ([`LoraTarget`]); [`LoraMerge`] is the [`Visitor`] that
//! adds the deltas. LoHa/LoKr and DoRA files are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use burn::module::{Param, RunningState};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use crate::weights::{StateDict, Visitor};
use crate::{Error, Result};

/// One LoRA pair.
#[derive(Debug, Clone)]
pub struct LoraPair {
    /// `lora_down` / `lora_A`: `[r, in]` or `[r, in, kh, kw]`.
    pub down: TensorData,
    /// `lora_up` / `lora_B`: `[out, r]` or `[out, r, 1, 1]`.
    pub up: TensorData,
    /// `alpha` when the file gives one (the rank otherwise).
    pub alpha: Option<f64>,
}

/// Where a file's tensors are: prefixes of the kohya and PEFT layouts and of tensors for other
/// models (text encoders), which are listed but not parsed.
#[derive(Debug, Clone, Copy)]
pub struct LoraLayout<'a> {
    /// kohya prefixes, e.g. `lora_unet_`.
    pub kohya: &'a [&'a str],
    /// PEFT prefixes stripped when present, e.g. `unet.`, `transformer.`.
    pub peft: &'a [&'a str],
    /// Prefixes of other models' tensors, e.g. `lora_te`, `text_encoder`.
    pub others: &'a [&'a str],
    /// Whether PEFT keys without one of the `peft` prefixes belong to this model (UNet and
    /// transformer files often have none); when `false` they count as other models' tensors.
    pub peft_unprefixed: bool,
}

/// A LoRA file's pairs by module name as written (kohya: after the prefix, with underscores;
/// PEFT: the module path after the prefix).
#[derive(Debug, Clone)]
pub struct LoraFile {
    /// The file the pairs came from.
    pub source: String,
    /// The pairs.
    pub pairs: BTreeMap<String, LoraPair>,
    /// Tensors for other models (text encoders), not parsed.
    pub others: Vec<String>,
}

fn err(source: &str, message: String) -> Error {
    Error::weights(source, message)
}

impl LoraFile {
    /// The pairs of `sd` in `layout`.
    ///
    /// # Errors
    /// [`Error::Weights`] for LoHa/LoKr/DoRA tensors, tensors of neither layout, a down without
    /// its up (or the reverse), or ranks that disagree.
    pub fn from_state_dict(sd: &StateDict, layout: &LoraLayout<'_>) -> Result<Self> {
        let source = sd.source().to_string();
        let (mut downs, mut ups, mut alphas) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut others = Vec::new();
        for key in sd.keys() {
            if ["hada_", "lokr_", "dora_scale", "lora_magnitude_vector"]
                .iter()
                .any(|p| key.contains(p))
            {
                return Err(err(
                    &source,
                    format!(
                        "{key}: LoHa, LoKr and DoRA files are not supported (plain LoRA/LoCon only)"
                    ),
                ));
            }
            if layout.others.iter().any(|p| key.starts_with(p)) {
                others.push(key.to_string());
                continue;
            }
            let kohya = layout.kohya.iter().find_map(|p| key.strip_prefix(p));
            let peft = layout.peft.iter().find_map(|p| key.strip_prefix(p));
            if kohya.is_none() && peft.is_none() && !layout.peft_unprefixed {
                others.push(key.to_string());
                continue;
            }
            let (module, kind) = if let Some(m) = kohya {
                match m.split_once('.') {
                    Some((m, "lora_down.weight")) => (m, 0),
                    Some((m, "lora_up.weight")) => (m, 1),
                    Some((m, "alpha")) => (m, 2),
                    _ => return Err(err(&source, format!("{key}: not a kohya LoRA tensor"))),
                }
            } else {
                let k = peft.unwrap_or(key);
                if let Some(m) = k.strip_suffix(".lora_A.weight") {
                    (m, 0)
                } else if let Some(m) = k.strip_suffix(".lora_B.weight") {
                    (m, 1)
                } else if let Some(m) = k.strip_suffix(".alpha") {
                    (m, 2)
                } else {
                    return Err(err(
                        &source,
                        format!(
                            "{key}: not a LoRA tensor (expected {}….lora_down/up.weight or {}….lora_A/B.weight)",
                            layout.kohya.first().unwrap_or(&""),
                            layout.peft.first().unwrap_or(&"")
                        ),
                    ));
                }
            };
            let data = sd
                .data(key)
                .ok_or_else(|| err(&source, format!("{key}: missing")))??;
            match kind {
                0 => {
                    downs.insert(module.to_string(), data);
                }
                1 => {
                    ups.insert(module.to_string(), data);
                }
                _ => {
                    let a = data.convert::<f64>().to_vec::<f64>().unwrap_or_default();
                    alphas.insert(module.to_string(), a.first().copied());
                }
            }
        }
        let mut pairs = BTreeMap::new();
        let names: BTreeSet<&String> = downs.keys().chain(ups.keys()).collect();
        for name in names {
            let (Some(down), Some(up)) = (downs.get(name), ups.get(name)) else {
                return Err(err(
                    &source,
                    format!("{name}: a LoRA down weight without its up weight, or the reverse"),
                ));
            };
            let r = down.shape.first().copied().unwrap_or(0);
            if r == 0 || up.shape.get(1) != Some(&r) {
                return Err(err(
                    &source,
                    format!(
                        "{name}: ranks disagree (down {:?}, up {:?})",
                        down.shape, up.shape
                    ),
                ));
            }
            pairs.insert(
                name.clone(),
                LoraPair {
                    down: down.clone(),
                    up: up.clone(),
                    alpha: alphas.get(name).copied().flatten(),
                },
            );
        }
        Ok(Self {
            source,
            pairs,
            others,
        })
    }

    /// An error naming this file.
    pub fn error(&self, message: impl Into<String>) -> Error {
        err(&self.source, message.into())
    }
}

/// The pair a model layer takes, and which rows of its `up` (all when `None`).
#[derive(Debug, Clone)]
pub struct LoraTarget {
    /// The pair's module name in the file.
    pub pair: String,
    /// Rows of `up` (concatenated) for a layer cut out of a fused one.
    pub rows: Option<Vec<Range<usize>>>,
}

impl LoraTarget {
    /// The delta's `[out, in]` shape for `pair` (`in` flattened over the kernel).
    pub fn shape(&self, pair: &LoraPair) -> [usize; 2] {
        let out = match &self.rows {
            Some(r) => r.iter().map(|r| r.end - r.start).sum(),
            None => pair.up.shape[0],
        };
        [out, pair.down.shape[1..].iter().product()]
    }

    /// Whether the rows lie within `up` and `up` is `[out, r(, 1, 1)]`.
    pub fn fits(&self, pair: &LoraPair) -> bool {
        let rows = pair.up.shape[0];
        pair.up.shape[2..].iter().product::<usize>() == 1
            && self
                .rows
                .as_ref()
                .is_none_or(|r| r.iter().all(|r| r.start < r.end && r.end <= rows))
    }
}

/// Adds `scale · alpha / r · up[rows] · down` to every targeted layer (a [`Visitor`]: walk the
/// model with it after checking the targets).
pub struct LoraMerge<'a> {
    /// The file.
    pub file: &'a LoraFile,
    /// Layer (weight prefix) → its pair.
    pub targets: BTreeMap<String, LoraTarget>,
    /// `fuse_lora(lora_scale=…)`.
    pub scale: f64,
}

impl LoraMerge<'_> {
    /// The delta of `module` as `[out, in·kh·kw]` in f32.
    fn delta<B: Backend>(&self, module: &str, device: &B::Device) -> Option<Tensor<B, 2>> {
        let t = self.targets.get(module)?;
        let p = self.file.pairs.get(&t.pair)?;
        let r = p.down.shape[0];
        let up_rows = p.up.shape[0];
        let inp: usize = p.down.shape[1..].iter().product();
        let f = |d: &TensorData, shape: [usize; 2]| {
            let v = d
                .clone()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            Tensor::<B, 2>::from_data(TensorData::new(v, shape), (device, DType::F32))
        };
        let up = f(&p.up, [up_rows, r]);
        let up = match &t.rows {
            Some(rows) => Tensor::cat(
                rows.iter()
                    .map(|rg| up.clone().slice([rg.clone(), 0..r]))
                    .collect(),
                0,
            ),
            None => up,
        };
        let s = self.scale * p.alpha.unwrap_or(r as f64) / r as f64;
        Some(up.matmul(f(&p.down, [r, inp])).mul_scalar(s))
    }
}

impl<B: Backend> Visitor<B> for LoraMerge<'_> {
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>) {
        let Some(module) = key.strip_suffix(".weight") else {
            return;
        };
        let w = param.val();
        let Some(delta) = self.delta::<B>(module, &w.device()) else {
            return;
        };
        let dims = w.dims();
        let dtype = w.dtype();
        *param = Param::from_tensor(w + delta.reshape(dims).cast(dtype));
    }
    fn linear(&mut self, prefix: &str, linear: &mut Linear<B>) {
        let w = linear.weight.val();
        if let Some(delta) = self.delta::<B>(prefix, &w.device()) {
            let dtype = w.dtype();
            linear.weight = Param::from_tensor(w + delta.transpose().cast(dtype));
        }
    }
    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<B, D>>) {}
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

/// PyTorch-layout shape of every weight a model visits (without allocating it).
#[derive(Default)]
pub struct WeightShapes(pub BTreeMap<String, Vec<usize>>);

impl<B: Backend> Visitor<B> for WeightShapes {
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>) {
        self.0
            .insert(key.to_string(), p.lazy_shape().dims::<D>().to_vec());
    }
    fn linear(&mut self, prefix: &str, l: &mut Linear<B>) {
        let [i, o] = l.weight.lazy_shape().dims();
        self.0.insert(format!("{prefix}.weight"), vec![o, i]);
        if let Some(b) = l.bias.as_mut() {
            self.param(&format!("{prefix}.bias"), b);
        }
    }
    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<B, D>>) {}
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

/// Targets by name: every layer weight (`<module>.weight`) of `shapes` whose module path, the path
/// with dots as underscores (kohya), or `alias(path)` as is or with dots as underscores (e.g. a
/// UNet layer's original SGM name) names a pair of `file`.
pub fn targets_by_name(
    file: &LoraFile,
    shapes: &WeightShapes,
    alias: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, LoraTarget> {
    let mut targets = BTreeMap::new();
    for key in shapes.0.keys() {
        let Some(module) = key.strip_suffix(".weight") else {
            continue;
        };
        let mut names = vec![module.to_string(), module.replace('.', "_")];
        if let Some(a) = alias(module) {
            names.push(a.replace('.', "_"));
            names.push(a);
        }
        if let Some(pair) = names.into_iter().find(|n| file.pairs.contains_key(n)) {
            targets.insert(module.to_string(), LoraTarget { pair, rows: None });
        }
    }
    targets
}

/// Checks every target against its layer's weight shape and that every pair has a target;
/// the error lists the unmatched pairs (as `what`, e.g. "UNet layer") and the mis-shaped ones.
///
/// # Errors
/// [`Error::Weights`] naming the file.
pub fn check_targets(
    file: &LoraFile,
    targets: &BTreeMap<String, LoraTarget>,
    shapes: &WeightShapes,
    what: &str,
) -> Result<()> {
    let used: BTreeSet<&String> = targets.values().map(|t| &t.pair).collect();
    let unmatched: Vec<&String> = file.pairs.keys().filter(|k| !used.contains(k)).collect();
    let mut bad = Vec::new();
    for (module, t) in targets {
        let Some(pair) = file.pairs.get(&t.pair) else {
            continue;
        };
        let Some(shape) = shapes.0.get(&format!("{module}.weight")) else {
            bad.push(format!("{module}: no such layer"));
            continue;
        };
        let want = [shape[0], shape[1..].iter().product()];
        if !t.fits(pair) || t.shape(pair) != want {
            bad.push(format!(
                "{}: up {:?} · down {:?} does not fit {module} {shape:?}",
                t.pair, pair.up.shape, pair.down.shape
            ));
        }
    }
    if unmatched.is_empty() && bad.is_empty() {
        return Ok(());
    }
    let mut message = String::new();
    if !unmatched.is_empty() {
        let shown: Vec<_> = unmatched.iter().take(8).collect();
        message = format!(
            "{} LoRA module(s) match no {what}: {shown:?}{}",
            unmatched.len(),
            if unmatched.len() > 8 { " …" } else { "" }
        );
    }
    if !bad.is_empty() {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&bad.join("; "));
    }
    Err(file.error(message))
}
