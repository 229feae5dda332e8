//! CLIPScore (Hessel et al., *CLIPScore: A Reference-free Evaluation Metric for Image
//! Captioning*, EMNLP 2021) as torchmetrics computes it
//! (`torchmetrics/functional/multimodal/clip_score.py`, 1.9.0), the text–image alignment score of
//! Diffusion-4K's evaluation:
//!
//! * images: transformers' `CLIPImageProcessor` (5.x: torchvision) — shortest side to `size`
//!   (224) with PyTorch's antialiased bicubic on uint8 (the long side `⌊size·long/short⌋`;
//!   [`resize_torch_antialias`]), centre crop to `crop_size`, `×1/255`,
//!   normalised with CLIP's mean and standard deviation ([`ClipImageProcessor`]);
//! * captions: tokenized without truncation, then cut to the text tower's 77 positions (as
//!   torchmetrics cuts them, so a long caption loses its end-of-text token);
//! * per pair `100·cos(image_embeds, text_embeds)` ([`ClipScorer::scores`]); the metric is
//!   `max(mean, 0)` over the pairs ([`clip_score`]).
//!
//! Default model: `openai/clip-vit-base-patch16` (ViT-B/16), a transformers `CLIPModel` folder
//! (config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use image::RgbImage;
use ultrares_core::resize::{PilFilter, resize_pil, resize_torch_antialias};
use ultrares_nn::ops::to_f32;
use ultrares_nn::{ConfigJson, NnBackend, StateDict};
use ultrares_text::{
    ClipTextConfig, ClipTextModel, ClipTokenizer, ClipVisionConfig, ClipVisionModel, TextError,
};

use crate::{Error, Result};

/// CLIP's image preprocessing (transformers 5's `CLIPImageProcessor`, `resample = 3` bicubic).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipImageProcessor {
    /// `size.shortest_edge`: the shorter side after resizing (224).
    pub shortest_edge: usize,
    /// `crop_size`: the square centre crop (224).
    pub crop_size: usize,
    /// `image_mean` (OpenAI's).
    pub mean: [f32; 3],
    /// `image_std` (OpenAI's).
    pub std: [f32; 3],
    /// How the shorter side is resized and the crop placed.
    pub resize: ClipResize,
}

/// The resize of [`ClipImageProcessor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClipResize {
    /// transformers 5 (torchvision on uint8 tensors): PyTorch's antialiased bicubic
    /// ([`resize_torch_antialias`]), crop offsets `⌊(side − crop)/2⌋`.
    #[default]
    Torchvision,
    /// The `clip` package (`Resize(224, BICUBIC)` on a PIL image, `CenterCrop`): Pillow's
    /// bicubic ([`resize_pil`]), crop offsets `round((side − crop)/2)`.
    Pil,
}

impl Default for ClipImageProcessor {
    fn default() -> Self {
        Self {
            shortest_edge: 224,
            crop_size: 224,
            mean: [0.481_454_67, 0.457_827_5, 0.408_210_72],
            std: [0.268_629_55, 0.261_302_6, 0.275_777_1],
            resize: ClipResize::Torchvision,
        }
    }
}

impl ClipImageProcessor {
    /// The `clip` package's `_transform(224)` (what the LAION aesthetic predictor's
    /// `simple_inference.py` uses): Pillow resize and rounded crop offsets.
    pub fn openai_clip() -> Self {
        Self {
            resize: ClipResize::Pil,
            ..Self::default()
        }
    }

    /// Reads a `preprocessor_config.json` (`size` as an integer or `{"shortest_edge": n}`,
    /// `crop_size` as an integer or a square `{"height", "width"}`, `image_mean`, `image_std`).
    ///
    /// # Errors
    /// [`Error::Core`] (config) for a mistyped key, a non-bicubic `resample`, a non-square crop,
    /// or `do_resize`/`do_center_crop`/`do_normalize`/`do_rescale` turned off.
    pub fn from_config_json(config: &ConfigJson) -> Result<Self> {
        let d = Self::default();
        for key in ["do_resize", "do_center_crop", "do_normalize", "do_rescale"] {
            if config.opt_bool(key)? == Some(false) {
                return Err(config.error(key, "true", "false").into());
            }
        }
        if let Some(r) = config.opt_usize("resample")?
            && r != 3
        {
            return Err(config
                .error("resample", "3 (bicubic)", r.to_string())
                .into());
        }
        let side = |key: &str, inner: &[&str]| -> Result<Option<usize>> {
            if config.opt_usize(key).is_ok() {
                return Ok(config.opt_usize(key)?);
            }
            let obj = config.object(key)?;
            let sides: Vec<usize> = inner
                .iter()
                .filter_map(|k| obj.opt_usize(k).transpose())
                .collect::<ultrares_core::Result<_>>()?;
            match sides.as_slice() {
                [] => Ok(None),
                [s] => Ok(Some(*s)),
                [a, b] if a == b => Ok(Some(*a)),
                _ => Err(config
                    .error(key, "a square size", format!("{sides:?}"))
                    .into()),
            }
        };
        let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3]> {
            match config.get(key) {
                None => Ok(default),
                Some(v) => v
                    .as_array()
                    .filter(|a| a.len() == 3)
                    .and_then(|a| {
                        let v: Option<Vec<f32>> =
                            a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect();
                        v.map(|v| [v[0], v[1], v[2]])
                    })
                    .ok_or_else(|| config.error(key, "three numbers", v.to_string()).into()),
            }
        };
        let p = Self {
            shortest_edge: side("size", &["shortest_edge"])?.unwrap_or(d.shortest_edge),
            crop_size: side("crop_size", &["height", "width"])?.unwrap_or(d.crop_size),
            mean: triple("image_mean", d.mean)?,
            std: triple("image_std", d.std)?,
            resize: ClipResize::Torchvision,
        };
        p.validate()
            .map_err(|e| config.error("crop_size", e, format!("{p:?}")))?;
        Ok(p)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.crop_size == 0 || self.crop_size > self.shortest_edge {
            return Err(format!(
                "1 ≤ crop_size ≤ size ({}): the crop must fit the resized image",
                self.shortest_edge
            ));
        }
        if self.std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err("a finite, non-zero image_std".into());
        }
        Ok(())
    }

    /// `pixel_values` `[N, 3, crop, crop]` of `images`.
    ///
    /// # Errors
    /// [`Error::Argument`] for no images or an image with a zero side.
    pub fn preprocess<B: Backend>(
        &self,
        images: &[RgbImage],
        device: &B::Device,
    ) -> Result<Tensor<B, 4>> {
        if images.is_empty() {
            return Err(Error::argument("images", "at least one image", 0));
        }
        self.validate()
            .map_err(|e| Error::argument("processor", e, format!("{self:?}")))?;
        let c = self.crop_size;
        let mut out = Vec::with_capacity(images.len() * 3 * c * c);
        for img in images {
            let (w, h) = (img.width() as usize, img.height() as usize);
            if w == 0 || h == 0 {
                return Err(Error::argument(
                    "images",
                    "non-empty images",
                    format!("{w}×{h}"),
                ));
            }
            // transformers' get_resize_output_image_size(default_to_square=False).
            let s = self.shortest_edge;
            let (short, long) = if w <= h { (w, h) } else { (h, w) };
            let long = (s as f64 * long as f64 / short as f64) as usize;
            let (nw, nh) = if w <= h { (s, long) } else { (long, s) };
            let (resized, top, left) = match self.resize {
                // torchvision's center_crop: ⌊(side − crop)/2⌋ (the crop fits: crop ≤ size).
                ClipResize::Torchvision => (
                    resize_torch_antialias(img, nw as u32, nh as u32, PilFilter::Bicubic)?,
                    (nh - c) / 2,
                    (nw - c) / 2,
                ),
                // torchvision's PIL CenterCrop: int(round((side − crop)/2.0)), half to even.
                ClipResize::Pil => (
                    resize_pil(img, nw as u32, nh as u32, PilFilter::Bicubic)?,
                    ((nh - c) as f64 / 2.0).round_ties_even() as usize,
                    ((nw - c) as f64 / 2.0).round_ties_even() as usize,
                ),
            };
            for ch in 0..3 {
                let (mean, std) = (self.mean[ch], self.std[ch]);
                for y in 0..c {
                    for x in 0..c {
                        let v = resized.get_pixel((x + left) as u32, (y + top) as u32)[ch];
                        let v = (v as f64 * (1.0 / 255.0)) as f32;
                        out.push((v - mean) / std);
                    }
                }
            }
        }
        Ok(Tensor::from_data(
            TensorData::new(out, [images.len(), 3, c, c]),
            device,
        ))
    }
}

/// A CLIP model for [`clip_score`]: both towers with their projections, the tokenizer and the
/// image preprocessing.
#[derive(Debug)]
pub struct ClipScorer<B: Backend> {
    /// The text tower (`text_model.*`, `text_projection`).
    pub text: ClipTextModel<B>,
    /// The image tower (`vision_model.*`, `visual_projection`).
    pub vision: ClipVisionModel<B>,
    /// The tokenizer.
    pub tokenizer: ClipTokenizer,
    /// The image preprocessing.
    pub processor: ClipImageProcessor,
    max_positions: usize,
}

impl<B: NnBackend> ClipScorer<B> {
    /// Loads a transformers `CLIPModel` folder: `config.json`, the weights (`model.safetensors`,
    /// sharded, or `pytorch_model.bin`), the tokenizer files and `preprocessor_config.json`
    /// (defaults when absent). The towers' linear and embedding weights are loaded in `dtype`
    /// (f32 as torchmetrics, or f16/bf16 on GPU backends; LayerNorms stay f32); features and
    /// scores are f32.
    ///
    /// # Errors
    /// [`Error::Text`] for a missing or wrong config, weights or tokenizer.
    pub fn from_dir(dir: impl AsRef<Path>, dtype: DType, device: &B::Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = ConfigJson::read(dir.join("config.json"))?;
        config.check_class(&["CLIPModel"])?;
        let sd = model_weights(dir)?;
        let processor = match dir.join("preprocessor_config.json") {
            p if p.is_file() => ClipImageProcessor::from_config_json(&ConfigJson::read(p)?)?,
            _ => ClipImageProcessor::default(),
        };
        let tokenizer = ClipTokenizer::from_dir(dir)?;
        Self::from_state_dict(&config, &sd, tokenizer, processor, dtype, device)
    }

    /// Both towers from a `CLIPModel` config and state dict, in `dtype` (see
    /// [`ClipScorer::from_dir`]).
    ///
    /// # Errors
    /// [`Error::Text`] for a wrong config or missing, mis-shaped or unreadable weights.
    pub fn from_state_dict(
        config: &ConfigJson,
        sd: &StateDict,
        tokenizer: ClipTokenizer,
        processor: ClipImageProcessor,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self> {
        let text_cfg = ClipTextConfig::from_config_json(config)?;
        let vision_cfg = ClipVisionConfig::from_config_json(config)?;
        let text_sd = sd.renamed(|k| {
            (k.starts_with("text_model.") || k.starts_with("text_projection."))
                .then(|| k.to_string())
        })?;
        let text = text_cfg.load(&text_sd, dtype, device)?;
        let vision = vision_cfg.load(sd, dtype, device)?;
        if vision.image_size() != processor.crop_size {
            return Err(Error::argument(
                "preprocessor_config.json",
                format!("crop_size = image_size {}", vision.image_size()),
                processor.crop_size,
            ));
        }
        Ok(Self {
            text,
            vision,
            tokenizer,
            processor,
            max_positions: text_cfg.max_position_embeddings,
        })
    }

    /// L2-normalised image embeddings `[N, P]`.
    ///
    /// # Errors
    /// As [`ClipImageProcessor::preprocess`].
    pub fn image_features(&self, images: &[RgbImage], device: &B::Device) -> Result<Tensor<B, 2>> {
        let x = self.processor.preprocess::<B>(images, device)?;
        let out = self.vision.forward(x, false)?;
        let e = out.image_embeds.ok_or_else(|| {
            Error::argument("model", "a vision tower with visual_projection", "none")
        })?;
        Ok(normalize(to_f32(e)))
    }

    /// L2-normalised text embeddings `[N, P]`: each caption tokenized without truncation and cut
    /// to the tower's positions; rows padded to the longest with the pad id (the causal tower
    /// pools at end-of-text, which no later position reaches).
    ///
    /// # Errors
    /// [`Error::Argument`] for no captions; [`Error::Text`] from the tokenizer.
    pub fn text_features(&self, captions: &[&str], device: &B::Device) -> Result<Tensor<B, 2>> {
        if captions.is_empty() {
            return Err(Error::argument("captions", "at least one caption", 0));
        }
        let rows: Vec<Vec<u32>> = captions
            .iter()
            .map(|c| {
                let mut ids = self.tokenizer.encode_untruncated(c)?;
                ids.truncate(self.max_positions);
                Ok(ids)
            })
            .collect::<std::result::Result<_, TextError>>()?;
        let l = rows.iter().map(Vec::len).max().unwrap_or(1);
        let pad = self.tokenizer.pad_id();
        let ids: Vec<i64> = rows
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat(pad)).take(l))
            .map(i64::from)
            .collect();
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [rows.len(), l]), device);
        let out = self.text.forward(ids, false)?;
        let e = out
            .text_embeds
            .ok_or_else(|| Error::argument("model", "a text tower with text_projection", "none"))?;
        Ok(normalize(to_f32(e)))
    }

    /// `100·cos` of every (image, caption) pair.
    ///
    /// # Errors
    /// [`Error::Argument`] when the counts differ or are zero; see also
    /// [`ClipScorer::image_features`] and [`ClipScorer::text_features`].
    pub fn scores(
        &self,
        images: &[RgbImage],
        captions: &[&str],
        device: &B::Device,
    ) -> Result<Vec<f32>> {
        if images.len() != captions.len() {
            return Err(Error::argument(
                "captions",
                format!("one caption per image ({} images)", images.len()),
                captions.len(),
            ));
        }
        let i = self.image_features(images, device)?;
        let t = self.text_features(captions, device)?;
        let s = (i * t).sum_dim(1).mul_scalar(100.0);
        s.into_data()
            .convert::<f32>()
            .into_vec()
            .map_err(|e| Error::argument("scores", "f32 data", format!("{e:?}")))
    }
}

/// The weights of a transformers model folder: `model.safetensors`, a sharded index, or
/// `pytorch_model.bin`.
pub(crate) fn model_weights(dir: &Path) -> Result<StateDict> {
    let weights = [
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
    ]
    .iter()
    .map(|f| dir.join(f))
    .find(|p| p.is_file())
    .ok_or_else(|| {
        Error::Text(TextError::Missing {
            path: dir.to_path_buf(),
            expected: "model.safetensors (or a sharded index, or pytorch_model.bin)".into(),
        })
    })?;
    Ok(StateDict::read(&weights)?)
}

fn normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt();
    x / norm
}

/// torchmetrics' CLIPScore of per-pair scores: `max(mean, 0)` (0 for no pairs).
pub fn clip_score(scores: &[f32]) -> f32 {
    if scores.is_empty() {
        return 0.0;
    }
    let mean = scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len() as f64;
    mean.max(0.0) as f32
}
