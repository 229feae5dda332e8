//! Diffusion-4K's GLCM Score (`eval.py`, spec `wavelet.md` §4.1).

use rayon::prelude::*;
use ultrares_core::image::{GrayImage, RgbImage, rgb8_to_gray8};

use crate::glcm::{EntropyScratch, GlcmConfig, GlcmProp, graycomatrix, value_entropy_of};
use crate::{Error, Result};

/// What each patch contributes (`eval.py --prop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatchScore {
    /// `skimage.measure.shannon_entropy` of the normalised GLCM (the default, "entropy"): the
    /// entropy of its distinct values — see [`crate::Glcm::value_entropy`].
    #[default]
    ValueEntropy,
    /// `mean(graycoprops(P, prop).round(4))`.
    Prop(GlcmProp),
}

/// Configuration of [`glcm_score`] with Diffusion-4K's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GlcmScoreConfig {
    /// The evaluated square region `size × size` from the top-left corner (2048). Edge patches
    /// of an image smaller than `size` are truncated as the reference's numpy slices are; a
    /// patch that would start outside the image is an error (the reference raises on its empty
    /// array). `None` tiles the whole image instead (⌊H/p⌋ × ⌊W/p⌋ full patches).
    pub size: Option<usize>,
    /// Patch side (64).
    pub patch: usize,
    /// Per-patch score.
    pub score: PatchScore,
    /// GLCM parameters (distances 1–4, 4 angles, 64 levels, not symmetric).
    pub glcm: GlcmConfig,
}

impl Default for GlcmScoreConfig {
    fn default() -> Self {
        Self {
            size: Some(2048),
            patch: 64,
            score: PatchScore::ValueEntropy,
            glcm: GlcmConfig::diffusion_4k(),
        }
    }
}

/// The mean patch score of one image (gray levels 0–255, quantised to `levels` by integer
/// division by `256 / levels`, as `cv2.LUT` with `i // 4` does for 64 levels).
///
/// # Errors
/// [`Error::Argument`] for a zero patch size, levels that do not divide 256, or no patches;
/// [`Error::Image`] for an empty image.
pub fn glcm_score_gray(gray: &GrayImage, config: &GlcmScoreConfig) -> Result<f64> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::Image("empty image".into()));
    }
    let p = config.patch;
    let l = config.glcm.levels;
    if p == 0 || l == 0 || 256 % l != 0 {
        return Err(Error::Argument(format!(
            "patch = {p}, levels = {l} (levels must divide 256)"
        )));
    }
    // Levels divide 256, so the quantisation step 256 / levels is a power of two.
    let shift = (256 / l).trailing_zeros();
    let q = gray.as_raw();
    let (ny, nx) = match config.size {
        Some(s) => (s / p, s / p),
        None => (h / p, w / p),
    };
    if ny == 0 || nx == 0 {
        return Err(Error::Argument(format!(
            "no {p}×{p} patches in the evaluated region"
        )));
    }
    if (ny - 1) * p >= h || (nx - 1) * p >= w {
        return Err(Error::Image(format!(
            "a {w}×{h} image is too small for the {}² region: patches would start outside it",
            ny * p
        )));
    }
    let scores: Vec<f64> = (0..ny * nx)
        .into_par_iter()
        .map_init(
            || (EntropyScratch::default(), Vec::new()),
            |(scratch, patch), k| {
                let (i, j) = (k / nx, k % nx);
                // numpy slicing: [i·p, i·p + p) clipped to the image.
                let (r0, r1) = ((i * p).min(h), (i * p + p).min(h));
                let (c0, c1) = ((j * p).min(w), (j * p + p).min(w));
                patch.clear();
                for r in r0..r1 {
                    patch.extend(q[r * w + c0..r * w + c1].iter().map(|&v| v >> shift));
                }
                let (pw, ph) = (c1 - c0, r1 - r0);
                Ok(match config.score {
                    PatchScore::ValueEntropy => {
                        value_entropy_of(patch, pw, ph, &config.glcm, scratch)?
                    }
                    PatchScore::Prop(prop) => {
                        let v = graycomatrix(patch, pw, ph, &config.glcm)?.prop(prop);
                        // numpy's round(4): rint(x·10⁴)/10⁴.
                        v.iter()
                            .map(|x| (x * 1e4).round_ties_even() / 1e4)
                            .sum::<f64>()
                            / v.len() as f64
                    }
                })
            },
        )
        .collect::<Result<_>>()?;
    Ok(scores.iter().sum::<f64>() / scores.len() as f64)
}

/// [`glcm_score_gray`] of an RGB image converted with OpenCV's integer gray formula
/// (`cv2.cvtColor(·, COLOR_BGR2GRAY)` on the `cv2.imread` BGR image).
///
/// # Errors
/// As [`glcm_score_gray`].
pub fn glcm_score(rgb: &RgbImage, config: &GlcmScoreConfig) -> Result<f64> {
    glcm_score_gray(&rgb8_to_gray8(rgb), config)
}

/// The GLCM Score of a set of images: the mean of their scores (higher = richer texture).
///
/// # Errors
/// [`Error::Argument`] for an empty set, and the errors of [`glcm_score`].
pub fn glcm_score_mean<'a>(
    images: impl IntoIterator<Item = &'a RgbImage>,
    config: &GlcmScoreConfig,
) -> Result<f64> {
    let scores: Vec<f64> = images
        .into_iter()
        .map(|im| glcm_score(im, config))
        .collect::<Result<_>>()?;
    if scores.is_empty() {
        return Err(Error::Argument("no images".into()));
    }
    Ok(scores.iter().sum::<f64>() / scores.len() as f64)
}
