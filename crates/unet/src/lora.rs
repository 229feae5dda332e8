//! LoRA files merged into a UNet's weights (diffusers' `load_lora_weights` + `fuse_lora`; Hu et
//! al., *LoRA*, ICLR 2022): `W' = W + scale · (alpha / r) · (up · down)`, convolution factors
//! flattened (`up [O, r, 1, 1]`, `down [r, I, kh, kw]`: LoCon).
//!
//! Layouts: kohya/A1111 (`lora_unet_<module>.lora_down.weight`, `.lora_up.weight`, `.alpha`;
//! SDXL files name modules as the original SGM UNet, `input_blocks_4_1_transformer_blocks_0_attn1_to_q`,
//! SD 1.5 files often as diffusers, `down_blocks_0_attentions_0_…`; both resolve) and
//! diffusers/PEFT (`unet.<module>.lora_A.weight`, `.lora_B.weight`, alpha = rank unless an
//! `.alpha` tensor is given). Text-encoder tensors (`lora_te1_…`, `lora_te2_…`, `text_encoder…`)
//! are reported by [`Lora::text_encoder_keys`] and not merged here. LoHa/LoKr and DoRA files are
//! refused. Every LoRA module that matches no UNet layer is listed in one error, before any
//! weight changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::{Param, RunningState};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ultrares_nn::StateDict;
use ultrares_nn::weights::Visitor;

use crate::ldm::{Keys, Layout};
use crate::unet::UNet2DConditionModel;
use crate::{Result, UnetError};

/// One LoRA pair.
#[derive(Debug, Clone)]
struct Pair {
    down: TensorData,
    up: TensorData,
    alpha: Option<f64>,
}

/// A LoRA file's UNet modules (see the module docs).
#[derive(Debug, Clone)]
pub struct Lora {
    source: String,
    /// Module name as written in the file (kohya: underscores; PEFT: the diffusers path).
    pairs: BTreeMap<String, Pair>,
    text_encoder: Vec<String>,
}

fn err(source: &str, message: String) -> UnetError {
    UnetError::from(ultrares_core::Error::Weights {
        source_name: source.to_string(),
        message,
    })
}

impl Lora {
    /// Reads a `.safetensors` LoRA file.
    ///
    /// # Errors
    /// As [`Lora::from_state_dict`], and unreadable files.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_state_dict(&StateDict::read(path.as_ref())?)
    }

    /// The LoRA pairs of `sd`.
    ///
    /// # Errors
    /// [`UnetError::Model`] for LoHa/LoKr/DoRA tensors, a down without its up (or the
    /// reverse), ranks that disagree, or no UNet pair at all.
    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let source = sd.source().to_string();
        let mut downs = BTreeMap::new();
        let mut ups = BTreeMap::new();
        let mut alphas = BTreeMap::new();
        let mut text_encoder = Vec::new();
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
            if key.starts_with("lora_te") || key.starts_with("text_encoder") {
                text_encoder.push(key.to_string());
                continue;
            }
            let (module, kind) = if let Some(m) = key.strip_prefix("lora_unet_") {
                match m.split_once('.') {
                    Some((m, "lora_down.weight")) => (m, 0),
                    Some((m, "lora_up.weight")) => (m, 1),
                    Some((m, "alpha")) => (m, 2),
                    _ => return Err(err(&source, format!("{key}: not a kohya LoRA tensor"))),
                }
            } else {
                let k = key.strip_prefix("unet.").unwrap_or(key);
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
                            "{key}: not a LoRA tensor (expected lora_unet_….lora_down/up.weight or unet.….lora_A/B.weight)"
                        ),
                    ));
                }
            };
            let read = || -> Result<TensorData> {
                sd.data(key)
                    .ok_or_else(|| err(&source, format!("{key}: missing")))?
                    .map_err(UnetError::from)
            };
            match kind {
                0 => {
                    downs.insert(module.to_string(), read()?);
                }
                1 => {
                    ups.insert(module.to_string(), read()?);
                }
                _ => {
                    let a = read()?.convert::<f64>().to_vec::<f64>().unwrap_or_default();
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
                Pair {
                    down: down.clone(),
                    up: up.clone(),
                    alpha: alphas.get(name).copied().flatten(),
                },
            );
        }
        if pairs.is_empty() {
            return Err(err(&source, "no UNet LoRA pairs".into()));
        }
        Ok(Self {
            source,
            pairs,
            text_encoder,
        })
    }

    /// Text-encoder tensors the file also holds (not merged by [`Lora::merge_into`]).
    pub fn text_encoder_keys(&self) -> &[String] {
        &self.text_encoder
    }

    /// UNet module pairs in the file.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the file has no UNet pairs (never true for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Merges every pair into `unet` at `scale` (diffusers' `fuse_lora(lora_scale=scale)`).
    /// Nothing changes if a pair matches no layer or has another shape than its layer.
    ///
    /// # Errors
    /// [`UnetError::Model`] listing the unmatched or mis-shaped modules.
    pub fn merge_into<B: Backend>(
        &self,
        unet: &mut UNet2DConditionModel<B>,
        scale: f64,
    ) -> Result<()> {
        let layout = Layout::of(unet);
        let mut keys = Keys::default();
        unet.clone().walk(&mut keys);
        let mut shapes = ShapeOf::default();
        unet.clone().walk(&mut shapes);
        // Each UNet module's LoRA, by diffusers name, SGM name or their underscore forms.
        let mut by_module = BTreeMap::new();
        let mut used = BTreeSet::new();
        let mut bad = Vec::new();
        for key in keys.0.iter().filter(|k| k.ends_with(".weight")) {
            let module = &key[..key.len() - ".weight".len()];
            let mut names = vec![module.to_string(), module.replace('.', "_")];
            if let Some(l) = layout.module(module) {
                names.push(l.replace('.', "_"));
            }
            if let Some((name, pair)) = names.iter().find_map(|n| self.pairs.get_key_value(n)) {
                let shape = &shapes.0[key];
                let (out, inp): (usize, usize) = (shape[0], shape[1..].iter().product());
                let up_out = pair.up.shape[0];
                let up_rest: usize = pair.up.shape[2..].iter().product();
                let down_in: usize = pair.down.shape[1..].iter().product();
                if up_out != out || down_in != inp || up_rest != 1 {
                    bad.push(format!(
                        "{name}: up {:?} · down {:?} does not fit {module} {shape:?}",
                        pair.up.shape, pair.down.shape
                    ));
                }
                used.insert(name.clone());
                by_module.insert(module.to_string(), pair.clone());
            }
        }
        let unmatched: Vec<&String> = self.pairs.keys().filter(|k| !used.contains(*k)).collect();
        if !unmatched.is_empty() || !bad.is_empty() {
            let shown: Vec<_> = unmatched.iter().take(8).collect();
            let mut message = String::new();
            if !unmatched.is_empty() {
                message = format!(
                    "{} LoRA module(s) match no UNet layer: {shown:?}{}",
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
            return Err(err(&self.source, message));
        }
        unet.walk(&mut Merge { by_module, scale });
        Ok(())
    }
}

/// PyTorch-layout shape of every weight.
#[derive(Default)]
struct ShapeOf(BTreeMap<String, Vec<usize>>);

impl<B: Backend> Visitor<B> for ShapeOf {
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>) {
        self.0
            .insert(key.to_string(), p.lazy_shape().dims::<D>().to_vec());
    }
    fn linear(&mut self, prefix: &str, l: &mut Linear<B>) {
        let [i, o] = l.weight.lazy_shape().dims();
        self.0.insert(format!("{prefix}.weight"), vec![o, i]);
    }
    fn running<const D: usize>(&mut self, _: &str, _: &mut RunningState<Tensor<B, D>>) {}
    fn buffer(&mut self, _: &str, _: Option<&[i64]>) {}
}

struct Merge {
    by_module: BTreeMap<String, Pair>,
    scale: f64,
}

impl Merge {
    /// `scale · alpha / r · up · down` as `[out, in·kh·kw]` in f32.
    fn delta<B: Backend>(&self, module: &str, device: &B::Device) -> Option<Tensor<B, 2>> {
        let p = self.by_module.get(module)?;
        let r = p.down.shape[0];
        let out = p.up.shape[0];
        let inp: usize = p.down.shape[1..].iter().product();
        let f = |d: &TensorData, shape: [usize; 2]| {
            let v = d
                .clone()
                .convert::<f32>()
                .to_vec::<f32>()
                .unwrap_or_default();
            Tensor::<B, 2>::from_data(TensorData::new(v, shape), (device, DType::F32))
        };
        let s = self.scale * p.alpha.unwrap_or(r as f64) / r as f64;
        Some(
            f(&p.up, [out, r])
                .matmul(f(&p.down, [r, inp]))
                .mul_scalar(s),
        )
    }
}

impl<B: Backend> Visitor<B> for Merge {
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
