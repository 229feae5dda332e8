//! [`AutoencoderKl`]: diffusers' `AutoencoderKL` (`diffusers/models/autoencoders/autoencoder_kl.py`)
//! with model-space scaling, seeded posterior sampling, and the [`LatentCodec`] implementation.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use ultrares_core::{CodecTiling, LatentCodec, Reporter};
use ultrares_nn::StateDict;
use ultrares_nn::weights::{Exporter, Loader, Visitor};

use crate::config::AutoencoderKlConfig;
use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::norm::NormCtx;
use crate::resnet::conv;
use crate::tiling::{DiffusersTiling, SeamlessTiling};
use crate::{Error, Result};
use ultrares_nn::NnBackend;
use ultrares_nn::conv::conv2d_nn;
use ultrares_nn::ops::{CastMapper, cast_to, to_f32};

/// Stable Diffusion's KL autoencoder. Field names are diffusers' state-dict names.
///
/// Images are `[N, 3, H, W]` in `[−1, 1]` with `H`, `W` multiples of
/// [`AutoencoderKl::downscale_factor`]; latents in the public API are *model-space* latents
/// `(z − shift_factor) · scaling_factor` of shape `[N, C, H/f, W/f]`.
#[derive(Module, Debug)]
pub struct AutoencoderKl<B: Backend> {
    /// The encoder.
    pub encoder: Encoder<B>,
    /// The decoder.
    pub decoder: Decoder<B>,
    /// 1×1 `2C → 2C` after the encoder (`use_quant_conv`).
    pub quant_conv: Option<Conv2d<B>>,
    /// 1×1 `C → C` before the decoder (`use_post_quant_conv`).
    pub post_quant_conv: Option<Conv2d<B>>,
    /// Latent channels `C`.
    pub latent_channels: usize,
    /// Image ↔ latent factor `f`.
    pub factor: usize,
    /// `scaling_factor`.
    pub scaling_factor: f64,
    /// `shift_factor` (0 when absent).
    pub shift_factor: f64,
    /// diffusers' `tile_sample_min_size` (the config's `sample_size`).
    pub sample_size: usize,
    /// diffusers' `tile_latent_min_size`.
    pub tile_latent: usize,
    /// diffusers' `force_upcast`: see [`AutoencoderKl::with_dtype`].
    pub force_upcast: bool,
    /// Diffusion-4K's partitioned decoding (used when `stride > 1`; default true as upstream).
    pub partitioned: bool,
    /// Convolutions as banded GEMMs with at most this many elements per band, or 0 for the
    /// backend's native convolution ([`ultrares_nn::conv`]). [`AutoencoderKlConfig::init`] sets
    /// the backend's [`NnBackend::conv_gemm_band`]: GEMM bands on the CPU backends (ndarray,
    /// flex), the native convolution elsewhere.
    pub gemm_band: usize,
}

impl AutoencoderKlConfig {
    /// A model with default-initialised weights (load real ones with
    /// [`AutoencoderKlConfig::load`]).
    ///
    /// # Errors
    /// [`Error::Config`] if the configuration is invalid ([`AutoencoderKlConfig::validate`]).
    pub fn init<B: NnBackend>(&self, device: &B::Device) -> Result<AutoencoderKl<B>> {
        self.validate()?;
        let c = self.latent_channels;
        Ok(AutoencoderKl {
            encoder: Encoder::new(self, device),
            decoder: Decoder::new(self, device),
            quant_conv: self.use_quant_conv.then(|| conv(2 * c, 2 * c, 1, device)),
            post_quant_conv: self.use_post_quant_conv.then(|| conv(c, c, 1, device)),
            latent_channels: c,
            factor: self.downscale_factor(),
            scaling_factor: self.scaling_factor,
            shift_factor: self.shift_factor.unwrap_or(0.0),
            sample_size: self.sample_size,
            tile_latent: self.tile_latent_min_size(),
            force_upcast: self.force_upcast,
            partitioned: true,
            gemm_band: B::conv_gemm_band(),
        })
    }

    /// A model with the weights of `state_dict`, in diffusers' layout or the original LDM layout
    /// (`first_stage_model.*`, see [`crate::weights::ldm_to_diffusers`]).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; [`ultrares_core::Error::Weights`] listing every
    /// missing, unexpected or mis-shaped key.
    pub fn load<B: NnBackend>(
        &self,
        state_dict: &StateDict,
        device: &B::Device,
    ) -> Result<AutoencoderKl<B>> {
        let mut model = self.init(device)?;
        let remapped;
        let sd = if crate::weights::is_ldm_layout(state_dict) {
            remapped = crate::weights::ldm_to_diffusers(state_dict)?;
            &remapped
        } else {
            state_dict
        };
        let mut loader = Loader::new(sd, device);
        model.walk(&mut loader);
        loader.finish()?;
        Ok(model)
    }
}

impl<B: NnBackend> AutoencoderKl<B> {
    fn walk(&mut self, v: &mut impl Visitor<B>) {
        self.encoder.walk(v, "encoder");
        self.decoder.walk(v, "decoder");
        if let Some(c) = self.quant_conv.as_mut() {
            v.conv2d("quant_conv", c);
        }
        if let Some(c) = self.post_quant_conv.as_mut() {
            v.conv2d("post_quant_conv", c);
        }
    }

    /// The parameters under diffusers' names, in PyTorch layout (f32).
    pub fn state_dict(&self) -> StateDict {
        let mut exporter = Exporter::default();
        self.clone().walk(&mut exporter);
        StateDict::from_tensors("exported", exporter.tensors)
    }

    /// The same model with its parameters in `dtype` (f32, f16 or bf16).
    ///
    /// Inputs are cast to each part's dtype and outputs returned in f32; GroupNorm statistics and
    /// the attention softmax are always computed in f32. With the config's `force_upcast` (the
    /// original SDXL VAE, whose decoder activations overflow f16) a half dtype follows diffusers'
    /// `StableDiffusionXLPipeline.upcast_vae`: only `post_quant_conv`, `decoder.conv_in` and
    /// `decoder.mid_block` take it; the encoder and the up blocks stay in f32, so the model
    /// produces no NaN where the f32 one does not. Set `force_upcast = false` for fp16-safe
    /// finetunes (`madebyollin/sdxl-vae-fp16-fix`) to run everything in half precision.
    ///
    /// # Errors
    /// [`ultrares_core::Error::DType`] for another dtype.
    pub fn with_dtype(mut self, dtype: DType) -> Result<Self> {
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
            return Err(ultrares_core::Error::DType {
                arg: "dtype",
                expected: "F32, F16 or BF16",
                got: format!("{dtype:?}"),
            }
            .into());
        }
        let mut cast = CastMapper { dtype };
        if !self.force_upcast || dtype == DType::F32 {
            return Ok(self.map(&mut cast));
        }
        let mut upcast = CastMapper { dtype: DType::F32 };
        self = self.map(&mut upcast);
        self.post_quant_conv = self.post_quant_conv.map(|c| c.map(&mut cast));
        self.decoder.conv_in = self.decoder.conv_in.map(&mut cast);
        self.decoder.mid_block = self.decoder.mid_block.map(&mut cast);
        Ok(self)
    }

    /// A plain forward context: local GroupNorm statistics, this model's convolution mode.
    pub(crate) fn ctx(&self) -> NormCtx<'static> {
        NormCtx {
            gemm_band: self.gemm_band,
            ..NormCtx::local()
        }
    }

    /// The dtype latents are decoded in (`decoder.conv_in`'s).
    pub fn dtype(&self) -> DType {
        self.decoder.conv_in.weight.val().dtype()
    }

    /// `x` in the decoder input's dtype.
    pub(crate) fn to_dtype(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        cast_to(x, self.dtype())
    }

    /// `x` in the encoder's dtype.
    pub(crate) fn to_encoder_dtype(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        cast_to(x, self.encoder.conv_in.weight.val().dtype())
    }

    /// Spatial factor `f` between image and latent.
    pub fn downscale_factor(&self) -> usize {
        self.factor
    }

    /// Checks an image batch `[N, 3, H, W]` (H, W positive multiples of `f`, finite values).
    pub(crate) fn check_image(&self, image: &Tensor<B, 4>) -> Result<()> {
        let [n, c, h, w] = image.dims();
        let f = self.factor;
        let want = self.encoder.conv_in.weight.dims()[1];
        if n == 0 || c != want || h == 0 || w == 0 || h % f != 0 || w % f != 0 {
            return Err(ultrares_core::Error::shape(
                "image",
                format!("[N ≥ 1, {want}, H, W] with H and W positive multiples of {f}"),
                &[n, c, h, w],
            )
            .into());
        }
        check_size(n * c * h * w)?;
        Ok(ultrares_core::check_finite(image, "image")?)
    }

    /// Checks a latent batch `[N, C, h, w]`.
    pub(crate) fn check_latent(&self, latent: &Tensor<B, 4>) -> Result<()> {
        let [n, c, h, w] = latent.dims();
        if n == 0 || c != self.latent_channels || h == 0 || w == 0 {
            return Err(ultrares_core::Error::shape(
                "latent",
                format!("[N ≥ 1, {}, h ≥ 1, w ≥ 1]", self.latent_channels),
                &[n, c, h, w],
            )
            .into());
        }
        check_size(n * 3 * h * w * self.factor * self.factor)?;
        Ok(ultrares_core::check_finite(latent, "latent")?)
    }

    /// The encoder, then `quant_conv`: the posterior moments `[N, 2C, H/f, W/f]` (mean, log-variance)
    /// in VAE space, untiled (PyTorch semantics).
    ///
    /// # Errors
    /// [`ultrares_core::Error`] for a wrong shape or non-finite input.
    pub fn encode_moments(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        self.check_image(&image)?;
        let h = self
            .encoder
            .forward(self.to_encoder_dtype(image), &mut self.ctx())?;
        Ok(to_f32(self.quant(h)))
    }

    pub(crate) fn quant(&self, h: Tensor<B, 4>) -> Tensor<B, 4> {
        match &self.quant_conv {
            Some(c) => conv2d_nn(c, h, self.gemm_band),
            None => h,
        }
    }

    pub(crate) fn post_quant(&self, z: Tensor<B, 4>) -> Tensor<B, 4> {
        match &self.post_quant_conv {
            Some(c) => conv2d_nn(c, z, self.gemm_band),
            None => z,
        }
    }

    /// The model-space latent of the posterior mean: `(mean − shift) · scale`
    /// (`latent_dist.mode()`, as LSRNA encodes references).
    pub fn moments_to_latent(&self, moments: Tensor<B, 4>) -> Tensor<B, 4> {
        let c = self.latent_channels;
        let [n, _, h, w] = moments.dims();
        self.to_model_space(moments.slice([0..n, 0..c, 0..h, 0..w]))
    }

    /// A seeded posterior sample in model space: `(mean + exp(½·clamp(logvar, −30, 20))·ε − shift)
    /// · scale`, `ε` from [`ultrares_core::noise::gaussian`] (diffusers'
    /// `DiagonalGaussianDistribution.sample`; Pixelsmith encodes its guide this way).
    ///
    /// # Errors
    /// [`ultrares_core::Error`] if the noise cannot be drawn.
    pub fn sample_latent(&self, moments: Tensor<B, 4>, seed: u64) -> Result<Tensor<B, 4>> {
        let c = self.latent_channels;
        let [n, _, h, w] = moments.dims();
        let mean = moments.clone().slice([0..n, 0..c, 0..h, 0..w]);
        let logvar = moments
            .slice([0..n, c..2 * c, 0..h, 0..w])
            .clamp(-30.0, 20.0);
        let eps = ultrares_core::noise::gaussian([n, c, h, w], seed, &mean.device())?;
        Ok(self.to_model_space(mean + (logvar * 0.5).exp() * eps))
    }

    /// `(z − shift) · scale`.
    pub fn to_model_space(&self, z: Tensor<B, 4>) -> Tensor<B, 4> {
        (z - self.shift_factor) * self.scaling_factor
    }

    /// `z / scale + shift`.
    pub fn from_model_space(&self, z: Tensor<B, 4>) -> Tensor<B, 4> {
        z / self.scaling_factor + self.shift_factor
    }

    /// Encodes to the model-space posterior mean, untiled.
    ///
    /// # Errors
    /// See [`AutoencoderKl::encode_moments`].
    pub fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        Ok(self.moments_to_latent(self.encode_moments(image)?))
    }

    /// Decodes a model-space latent `[N, C, h, w]` to `[N, 3, h·f, w·f]`, untiled.
    ///
    /// # Errors
    /// [`ultrares_core::Error`] for a wrong shape or non-finite input.
    pub fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        self.check_latent(&latent)?;
        let z = self.post_quant(self.to_dtype(self.from_model_space(latent)));
        let image = self.decoder.forward(z, self.partitioned, &mut self.ctx())?;
        Ok(to_f32(image))
    }
}

/// Largest image accepted: 2³⁴ elements (e.g. 16 384² × 3 × 21 images).
const MAX_ELEMENTS: usize = 1 << 34;

fn check_size(elements: usize) -> Result<()> {
    if elements > MAX_ELEMENTS {
        return Err(ultrares_core::Error::TooLarge {
            arg: "image",
            elements: elements as u128,
            limit: MAX_ELEMENTS as u128,
        }
        .into());
    }
    Ok(())
}

impl<B: NnBackend> LatentCodec<B> for AutoencoderKl<B> {
    type Error = Error;

    fn latent_channels(&self) -> usize {
        self.latent_channels
    }

    fn downscale_factor(&self) -> usize {
        self.factor
    }

    fn encode(&self, image: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        AutoencoderKl::encode(self, image)
    }

    fn decode(&self, latent: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        AutoencoderKl::decode(self, latent)
    }

    /// The seamless tiled encode ([`AutoencoderKl::encode_seamless`]) with core tiles of
    /// `tiling.stride` latents and a halo of `(tiling.tile − tiling.stride) / 2`.
    fn encode_tiled_with(
        &self,
        image: Tensor<B, 4>,
        tiling: &CodecTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        let tiling = SeamlessTiling::from_codec_tiling(tiling);
        let moments = self.encode_moments_seamless_with(image, &tiling, progress)?;
        Ok(self.moments_to_latent(moments))
    }

    /// The seamless tiled decode ([`AutoencoderKl::decode_seamless`]) with core tiles of
    /// `tiling.stride` latents and a halo of `(tiling.tile − tiling.stride) / 2`.
    fn decode_tiled_with(
        &self,
        latent: Tensor<B, 4>,
        tiling: &CodecTiling,
        progress: &mut Reporter<'_, B>,
    ) -> Result<Tensor<B, 4>> {
        self.decode_seamless_with(latent, &SeamlessTiling::from_codec_tiling(tiling), progress)
    }
}

impl<B: NnBackend> AutoencoderKl<B> {
    /// diffusers' tiling parameters for this model (`enable_tiling()` defaults).
    pub fn diffusers_tiling(&self) -> DiffusersTiling {
        DiffusersTiling::new(self.sample_size, self.tile_latent)
    }
}
