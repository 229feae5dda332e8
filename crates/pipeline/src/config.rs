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
    /// Pixelsmith (Tragakis et al., NeurIPS 2024; `Thanos-DB/Pixelsmith`): a reference, then
    /// phases at ×2, ×4, … (the README's cascade), each guided by the previous image resized
    /// with PIL's Lanczos in RGB and encoded; random 128-latent patches are denoised where the
    /// per-latent timestep is highest, with Fourier phase mixing and checkerboard replacement
    /// from the guide for the first `slider` steps.
    Pixelsmith,
    /// LSRNA-Pixelsmith (LSRNA paper, App. B; no code released): Pixelsmith's patch sampler in
    /// one jump, guided by the LSR-upsampled reference latent with region-wise noise
    /// ([0.4, 0.8]), over the last `inversion_depth` (30) steps. The open choices (lsrna.md §10.2)
    /// are documented on [`HighResConfig::lsrna_pixelsmith`].
    LsrnaPixelsmith,
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
    /// Pixelsmith's Slider per phase (the number of first steps with guidance); the last entry
    /// serves the remaining phases. README: 20 for ×2, 30 for ×4.
    pub sliders: Vec<usize>,
    /// Pixelsmith: half-width of the box filter feathering the time mask (`gradient_width`, 10).
    pub gradient_width: usize,
    /// Pixelsmith: pass the patch's column as both crop coordinates, as upstream does
    /// (`time_ids[2] = time_ids[3] = (j − 64)·8`); `false` passes the row as the top.
    pub pixelsmith_upstream_crop: bool,
    /// How a Pixelsmith phase's guide image is encoded (its posterior mean: LatentCodec gives no
    /// sample; upstream uses `tiled_encode(...).latent_dist.sample()`).
    pub encode_tiling: CodecTiling,
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
            sliders: vec![20, 30],
            gradient_width: 10,
            pixelsmith_upstream_crop: true,
            encode_tiling: CodecTiling::default(),
        }
    }

    /// Pixelsmith with its README's cascade ×2 (Slider 20) → ×4 (Slider 30) → …, patches of 128
    /// latents, `gradient_width` 10, no RNA, no re-standardisation. Use a DDIM scheduler with
    /// `set_alpha_to_one = true`, as upstream's `generate_image`.
    pub fn pixelsmith(height: usize, width: usize) -> Self {
        Self {
            strategy: Strategy::Pixelsmith,
            rna: None,
            restandardize: false,
            ..Self::lsrna_demofusion(height, width)
        }
    }

    /// LSRNA-Pixelsmith. The paper gives LSR + RNA [0.4, 0.8] as the guide and 30 of 50 steps;
    /// the rest is this crate's choice: one jump to the target, sampling starts at step index
    /// 50 − 30 (t = 581, as LSRNA-DemoFusion) with the guide noised from there, Slider 12 (40 %
    /// of the steps, the same share as Pixelsmith's 20 of 50 at ×2), no re-standardisation.
    pub fn lsrna_pixelsmith(height: usize, width: usize) -> Self {
        Self {
            strategy: Strategy::LsrnaPixelsmith,
            rna: Some(RegionNoiseConfig::pixelsmith()),
            restandardize: false,
            sliders: vec![12],
            ..Self::lsrna_demofusion(height, width)
        }
    }

    /// The scales of the high-resolution phases: `[s]` for the one-jump strategies, DemoFusion's
    /// `2..=s`, Pixelsmith's `2, 4, …` below `s`, then `s`.
    pub fn phases(&self, s: usize) -> Vec<usize> {
        match self.strategy {
            Strategy::Direct => Vec::new(),
            Strategy::LsrnaDemoFusion | Strategy::LsrnaPixelsmith => vec![s],
            Strategy::DemoFusion => (2..=s).collect(),
            Strategy::Pixelsmith => {
                let mut v: Vec<usize> = std::iter::successors(Some(2), |k| Some(k * 2))
                    .take_while(|&k| k < s)
                    .collect();
                v.push(s);
                v
            }
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
        if self.view_batch_size == 0 {
            return Err(Error::argument("view_batch_size", "≥ 1", 0));
        }
        if matches!(
            self.strategy,
            Strategy::LsrnaDemoFusion | Strategy::LsrnaPixelsmith
        ) {
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
        let s = long / self.native_size;
        if h / s < f || w / s < f {
            return Err(Error::argument(
                "height, width",
                format!("a reference (h/{s}, w/{s}) of at least one latent per side"),
                format!("{h}×{w}"),
            ));
        }
        if matches!(
            self.strategy,
            Strategy::Pixelsmith | Strategy::LsrnaPixelsmith
        ) {
            self.validate_pixelsmith(f, s, steps)?;
        }
        Ok(s)
    }

    fn validate_pixelsmith(&self, f: usize, s: usize, steps: usize) -> Result<()> {
        let p = self.window;
        if !p.is_multiple_of(2) || self.gradient_width >= p {
            return Err(Error::argument(
                "window, gradient_width",
                "an even patch size larger than the feather width",
                format!("{p}, {}", self.gradient_width),
            ));
        }
        let begin = if self.strategy == Strategy::LsrnaPixelsmith {
            steps - self.inversion_depth
        } else {
            0
        };
        if self.sliders.is_empty() || self.sliders.iter().any(|&k| k == 0 || begin + k > steps) {
            return Err(Error::argument(
                "sliders",
                format!("one or more Sliders in 1..={}", steps - begin),
                format!("{:?}", self.sliders),
            ));
        }
        for k in self.phases(s) {
            let [ph, pw] = self.phase_size(k, s, f);
            if ph / f < p || pw / f < p {
                return Err(Error::argument(
                    "height, width",
                    format!(
                        "every Pixelsmith phase at least one {p}-latent patch in both directions"
                    ),
                    format!("{}×{} (phase ×{k}: {ph}×{pw} px)", self.height, self.width),
                ));
            }
        }
        Ok(())
    }

    /// The pixel size of the phase at scale `k` of `s`: `(h·k/s, w·k/s)` floored to multiples
    /// of `f` (the target itself at `k = s`).
    pub fn phase_size(&self, k: usize, s: usize, f: usize) -> [usize; 2] {
        [self.height * k / s / f * f, self.width * k / s / f * f]
    }
}
