//! [`HighResConfig`]: every knob of the high-resolution strategies, with the upstream defaults.

use ultrares_core::CodecTiling;
use ultrares_rna::RegionNoiseConfig;

use crate::{Error, Result};

/// How the high-resolution latent is produced (spec `lsrna.md` §4–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Denoise the full target latent in one piece from pure noise (the baseline; memory and
    /// quality degrade past the model's native size).
    Direct,
    /// DemoFusion (`PRIS-CV/DemoFusion:pipeline_demofusion_sdxl.py`): a reference at the native
    /// size, then one phase per scale `2..=s`, each upsampling the previous latent bicubically,
    /// re-noising it to the first timestep and running all steps with skip residuals,
    /// MultiDiffusion views and dilated sampling.
    DemoFusion,
    /// LSRNA-DemoFusion (`3587jjh/LSRNA:pipeline_lsrna_demofusion_sdxl.py`): one jump from the
    /// reference to the target with the [`LatentUpsampler`](ultrares_core::LatentUpsampler)
    /// (LSR), region-wise noise (RNA) from the decoded reference's edges, then only the last
    /// `inversion_depth` steps of DemoFusion's denoising.
    LsrnaDemoFusion,
}

/// How the final latent is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecodeMode {
    /// [`LatentCodec::decode`](ultrares_core::LatentCodec::decode) of the whole latent (what
    /// diffusers' `vae.decode` does, tiled inside the codec if it tiles itself).
    Full,
    /// [`LatentCodec::decode_tiled`](ultrares_core::LatentCodec::decode_tiled): bounded memory.
    Tiled(CodecTiling),
}

/// Configuration of [`HighResPipeline`](crate::HighResPipeline). Build it with a preset
/// ([`HighResConfig::lsrna_demofusion`], [`HighResConfig::demofusion`],
/// [`HighResConfig::direct`]) and adjust fields.
///
/// The guidance scale and negative prompt live in the denoiser's conditioning
/// ([`GuidedCond`](crate::GuidedCond)); the number of steps in the scheduler (LSRNA and
/// DemoFusion use DDIM with 50 steps).
#[derive(Debug, Clone, PartialEq)]
pub struct HighResConfig {
    /// Target height in pixels.
    pub height: usize,
    /// Target width in pixels.
    pub width: usize,
    /// The strategy.
    pub strategy: Strategy,
    /// The model's native resolution in pixels (UNet `sample_size`·8 = 1024 for SDXL); the scale
    /// is `s = max(height, width) / native_size`, which must be an integer for LSRNA.
    pub native_size: usize,
    /// View size in latent units (the UNet `sample_size`, 128 for SDXL).
    pub window: usize,
    /// View stride in latent units (`int(window·stride_ratio)`, 64).
    pub stride: usize,
    /// Views per denoiser call (LSRNA 8, DemoFusion 16).
    pub view_batch_size: usize,
    /// Random view jitter within `(window − stride)/4` (DemoFusion's `random_jitter`, on).
    pub jitter: bool,
    /// Skip-residual exponent α₁ (3).
    pub cosine_scale_1: f64,
    /// Local/global mixing exponent α₂ (1).
    pub cosine_scale_2: f64,
    /// Blur-σ exponent α₃ (1).
    pub cosine_scale_3: f64,
    /// Gaussian σ of dilated sampling (LSRNA 0.8, DemoFusion 1.0).
    pub sigma: f64,
    /// LSRNA: the number of final steps run at the target size (30 of 50, so sampling starts
    /// at step index 20, t = 581).
    pub inversion_depth: usize,
    /// LSRNA's region-wise noise; `None` disables it (the paper's "LSR only" ablation).
    pub rna: Option<RegionNoiseConfig>,
    /// Re-standardise the final latent to the reference latent's mean and std (both upstream
    /// pipelines do).
    pub restandardize: bool,
    /// How the target latent is decoded.
    pub decode: DecodeMode,
}

/// The largest target side accepted, in pixels (16K).
pub const MAX_SIDE: usize = 16384;

impl HighResConfig {
    /// LSRNA-DemoFusion with `main.py`'s arguments: views 128/64, batch 8, α = (3, 1, 1),
    /// σ 0.8, inversion depth 30, RNA [0, 1.2] with Canny (0, 255), tiled decoding.
    pub fn lsrna_demofusion(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            strategy: Strategy::LsrnaDemoFusion,
            native_size: 1024,
            window: 128,
            stride: 64,
            view_batch_size: 8,
            jitter: true,
            cosine_scale_1: 3.0,
            cosine_scale_2: 1.0,
            cosine_scale_3: 1.0,
            sigma: 0.8,
            inversion_depth: 30,
            rna: Some(RegionNoiseConfig::demofusion()),
            restandardize: true,
            decode: DecodeMode::Tiled(CodecTiling::default()),
        }
    }

    /// DemoFusion with its pipeline defaults: view batch 16, σ 1.0 (its README example uses 0.8),
    /// progressive phases, no RNA.
    pub fn demofusion(height: usize, width: usize) -> Self {
        Self {
            strategy: Strategy::DemoFusion,
            view_batch_size: 16,
            sigma: 1.0,
            rna: None,
            ..Self::lsrna_demofusion(height, width)
        }
    }

    /// Plain generation at the target size.
    pub fn direct(height: usize, width: usize) -> Self {
        Self {
            strategy: Strategy::Direct,
            rna: None,
            ..Self::lsrna_demofusion(height, width)
        }
    }

    /// Checks the configuration against a codec with downscale factor `f` and a schedule of
    /// `steps` steps; returns the scale `s`.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the offending field.
    pub fn validate(&self, f: usize, steps: usize) -> Result<usize> {
        let (h, w) = (self.height, self.width);
        if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE || f == 0 || h % f != 0 || w % f != 0 {
            return Err(Error::argument(
                "height, width",
                format!("multiples of the latent factor {f} between {f} and {MAX_SIDE} px"),
                format!("{h}×{w}"),
            ));
        }
        if steps == 0 {
            return Err(Error::argument(
                "steps",
                "a schedule of at least one step",
                0,
            ));
        }
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !(ok(self.cosine_scale_1) && ok(self.cosine_scale_2) && ok(self.cosine_scale_3)) {
            return Err(Error::argument(
                "cosine_scale_1/2/3",
                "finite exponents ≥ 0",
                format!(
                    "{}, {}, {}",
                    self.cosine_scale_1, self.cosine_scale_2, self.cosine_scale_3
                ),
            ));
        }
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(Error::argument("sigma", "a finite σ > 0", self.sigma));
        }
        if self.strategy == Strategy::Direct {
            return Ok(1);
        }
        if self.window == 0 || self.stride == 0 || self.stride > self.window {
            return Err(Error::argument(
                "window, stride",
                "0 < stride ≤ window",
                format!("{}, {}", self.window, self.stride),
            ));
        }
        if self.view_batch_size == 0 {
            return Err(Error::argument("view_batch_size", "≥ 1", 0));
        }
        if self.native_size == 0 || !self.native_size.is_multiple_of(f) {
            return Err(Error::argument(
                "native_size",
                format!("a positive multiple of {f}"),
                self.native_size,
            ));
        }
        let long = h.max(w);
        if long < 2 * self.native_size {
            return Err(Error::argument(
                "height, width",
                format!(
                    "a target whose long side is at least twice the native size {} px (the reference is generated at the native size)",
                    self.native_size
                ),
                format!("{h}×{w}"),
            ));
        }
        if self.strategy == Strategy::LsrnaDemoFusion {
            if long % self.native_size != 0 {
                return Err(Error::argument(
                    "height, width",
                    format!(
                        "a long side divisible by the native size {} px (LSRNA's rule)",
                        self.native_size
                    ),
                    format!("{h}×{w}"),
                ));
            }
            let s = long / self.native_size;
            if !(h / s).is_multiple_of(f) || !(w / s).is_multiple_of(f) {
                return Err(Error::argument(
                    "height, width",
                    format!("a reference size (h/{s}, w/{s}) in multiples of {f}"),
                    format!("{h}×{w}"),
                ));
            }
            if self.inversion_depth == 0 || self.inversion_depth > steps {
                return Err(Error::argument(
                    "inversion_depth",
                    format!("1..={steps} (the schedule's steps)"),
                    self.inversion_depth,
                ));
            }
        }
        Ok(long / self.native_size)
    }
}
