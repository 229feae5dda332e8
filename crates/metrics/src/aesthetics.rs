//! The LAION aesthetic predictor v2 (`christophschuhmann/improved-aesthetic-predictor`,
//! `sac+logos+ava1-l14-linearMSE.pth`; Diffusion-4K's repository carries a copy): an MLP on
//! L2-normalised OpenAI CLIP ViT-L/14 image embeddings, `layers.{0,2,4,6,7}` = 768 → 1024 → 128 →
//! 64 → 16 → 1 with dropouts between and no activations (so it is one affine map, kept as
//! upstream's five layers for bit-faithful rounding).
//!
//! Images reach it as upstream's `simple_inference.py` feeds them: the `clip` package's
//! preprocessing (PIL bicubic resize of the shorter side to 224, centre crop with rounded
//! offsets, OpenAI normalisation: [`ClipImageProcessor::openai_clip`]) and `encode_image`
//! (= transformers' `CLIPVisionModelWithProjection` `image_embeds` of `openai/clip-vit-large-patch14`).

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::DType;
use image::RgbImage;
use ultrares_nn::linear::linear;
use ultrares_nn::ops::to_f32;
use ultrares_nn::weights::Loader;
use ultrares_nn::{ConfigJson, NnBackend, StateDict};
use ultrares_text::{ClipVisionConfig, ClipVisionModel};

use crate::{ClipImageProcessor, Error, Result};

/// Widths of the MLP: input, then each layer's output.
const WIDTHS: [usize; 6] = [768, 1024, 128, 64, 16, 1];
/// State-dict indices of the linear layers in upstream's `nn.Sequential`.
const INDICES: [usize; 5] = [0, 2, 4, 6, 7];

/// The aesthetic MLP (`layers.{0,2,4,6,7}`).
#[derive(Module, Debug)]
pub struct AestheticPredictor<B: Backend> {
    /// The five linear layers, in order.
    pub layers: Vec<Linear<B>>,
}

impl<B: NnBackend> AestheticPredictor<B> {
    /// Loads `sac+logos+ava1-l14-linearMSE.pth` (or any file with the same keys: `.pth`,
    /// `.safetensors`).
    ///
    /// # Errors
    /// [`Error::Core`] for an unreadable file or missing, mis-shaped or unexpected keys.
    pub fn from_file(path: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        Self::from_state_dict(&StateDict::read(path.as_ref())?, device)
    }

    /// The predictor with the weights of `sd`.
    ///
    /// # Errors
    /// As [`AestheticPredictor::from_file`].
    pub fn from_state_dict(sd: &StateDict, device: &B::Device) -> Result<Self> {
        let mut layers: Vec<Linear<B>> = WIDTHS
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let mut loader = Loader::new(sd, device).with_dtype(DType::F32);
        for (i, layer) in INDICES.iter().zip(layers.iter_mut()) {
            ultrares_nn::weights::Visitor::linear(&mut loader, &format!("layers.{i}"), layer);
        }
        loader.finish()?;
        Ok(Self { layers })
    }

    /// Scores of embeddings `[N, 768]`, L2-normalised here (upstream's `normalized()`), `[N]`.
    ///
    /// # Errors
    /// [`Error::Argument`] for another width or no rows.
    pub fn score_embeddings(&self, embeddings: Tensor<B, 2>) -> Result<Vec<f32>> {
        let [n, d] = embeddings.dims();
        if n == 0 || d != WIDTHS[0] {
            return Err(Error::argument(
                "embeddings",
                format!("[N ≥ 1, {}]", WIDTHS[0]),
                format!("{:?}", [n, d]),
            ));
        }
        let norm = embeddings.clone().powf_scalar(2.0).sum_dim(1).sqrt();
        let mut x = embeddings / norm;
        for layer in &self.layers {
            x = linear(layer, x);
        }
        x.reshape([n])
            .into_data()
            .convert::<f32>()
            .into_vec()
            .map_err(|e| Error::argument("scores", "f32 data", format!("{e:?}")))
    }

    /// The image tower of a transformers `CLIPModel` or `CLIPVisionModelWithProjection` folder
    /// (`openai/clip-vit-large-patch14` for this predictor), its linear and embedding weights in
    /// `dtype` (f32 as upstream, or f16/bf16 on GPU backends; LayerNorms stay f32; the predictor
    /// itself always runs in f32).
    ///
    /// # Errors
    /// [`Error::Text`] for a missing or wrong config or weights.
    pub fn clip_from_dir(
        dir: impl AsRef<Path>,
        dtype: DType,
        device: &B::Device,
    ) -> Result<ClipVisionModel<B>> {
        let dir = dir.as_ref();
        let config =
            ClipVisionConfig::from_config_json(&ConfigJson::read(dir.join("config.json"))?)?;
        let sd = crate::clip_score::model_weights(dir)?;
        Ok(config.load(&sd, dtype, device)?)
    }

    /// Scores of images through `clip` (OpenAI ViT-L/14 with `visual_projection`) and upstream's
    /// preprocessing ([`ClipImageProcessor::openai_clip`]).
    ///
    /// # Errors
    /// [`Error::Argument`] for no images or a tower without a 768-wide projection.
    pub fn score_images(
        &self,
        clip: &ClipVisionModel<B>,
        images: &[RgbImage],
        device: &B::Device,
    ) -> Result<Vec<f32>> {
        let x = ClipImageProcessor::openai_clip().preprocess::<B>(images, device)?;
        let e = clip.forward(x, false)?.image_embeds.ok_or_else(|| {
            Error::argument("clip", "a vision tower with visual_projection", "none")
        })?;
        self.score_embeddings(to_f32(e))
    }
}
