//! LSRNA's Region-wise Noise Addition (RNA).
//!
//! The official pipeline (`3587jjh/LSRNA:pipeline_lsrna_demofusion_sdxl.py`, `utils.py`):
//!
//! 1. the decoded reference image as 8-bit RGB → OpenCV gray (`cv2.COLOR_RGB2GRAY`);
//! 2. `E = cv2.Canny(gray, 0, 255)` (no blur, L1, aperture 3), values 0/255;
//! 3. `D = AdaptiveAvgPool2d((H, W))(E)` to the target latent size;
//! 4. `σ = (D − min D)/(max D − min D)·(e_max − e_min) + e_min` (global min-max);
//! 5. `latent += σ · ε` with `ε ~ N(0, I)` of the latent's shape, σ broadcast over channels.
//!
//! A constant pooled map (a flat reference: no edges at all) makes step 4 divide by zero, and the
//! official code returns NaN there. Here a constant map gives `σ = e_min` everywhere: a region
//! without detail receives the minimum noise, exactly as the least-detailed region of any other
//! image does.

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::image::{GrayImage, RgbImage, rgb8_to_gray8};
use ultrares_core::noise::gaussian;

use crate::canny::{CannyConfig, canny};
use crate::pool::adaptive_avg_pool2d;
use crate::{Error, Result};

/// Region-wise noise parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionNoiseConfig {
    /// Noise scale of the least-detailed region.
    pub e_min: f32,
    /// Noise scale of the most-detailed region.
    pub e_max: f32,
    /// Edge detector (LSRNA: `cv2.Canny(gray, 0, 255)`).
    pub canny: CannyConfig,
}

impl Default for RegionNoiseConfig {
    fn default() -> Self {
        Self::demofusion()
    }
}

impl RegionNoiseConfig {
    /// LSRNA-DemoFusion: `[e_min, e_max] = [0, 1.2]` (`main.py` defaults `--rna_min_std 0.0
    /// --rna_max_std 1.2`, paper Tab. 3).
    pub fn demofusion() -> Self {
        Self {
            e_min: 0.0,
            e_max: 1.2,
            canny: CannyConfig::lsrna(),
        }
    }

    /// LSRNA-Pixelsmith: `[e_min, e_max] = [0.4, 0.8]` (paper Tab. F, §5.4).
    pub fn pixelsmith() -> Self {
        Self {
            e_min: 0.4,
            e_max: 0.8,
            ..Self::demofusion()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.e_min.is_finite()
            && self.e_max.is_finite()
            && self.e_min >= 0.0
            && self.e_min <= self.e_max)
        {
            return Err(Error::argument(
                "e_min, e_max",
                "finite scales with 0 ≤ e_min ≤ e_max",
                format!("{}, {}", self.e_min, self.e_max),
            ));
        }
        self.canny.thresholds().map(|_| ())
    }

    /// The Canny edge map (0/255) of the reference image.
    ///
    /// # Errors
    /// Invalid parameters or an empty image.
    pub fn edge_map(&self, reference: &RgbImage) -> Result<GrayImage> {
        self.validate()?;
        canny(&rgb8_to_gray8(reference), &self.canny)
    }

    /// The noise-scale map σ (`size[0] × size[1]`, row-major) for a latent of spatial `size`.
    ///
    /// # Errors
    /// Invalid parameters, an empty image, or a latent larger than the reference along an axis.
    pub fn std_map(&self, reference: &RgbImage, size: [usize; 2]) -> Result<Vec<f32>> {
        // Checked before running Canny.
        check_latent_size(size, reference.dimensions(), "the reference")?;
        self.std_map_from_edges(&self.edge_map(reference)?, size)
    }

    /// σ from a given 0/255 edge map (e.g. [`RegionNoiseConfig::edge_map`] of another run, or
    /// edges from another detector): adaptive average pooling to `size`, then the min-max map
    /// onto `[e_min, e_max]`.
    ///
    /// # Errors
    /// Invalid parameters, an empty map, or a latent larger than the map along an axis.
    pub fn std_map_from_edges(&self, edges: &GrayImage, size: [usize; 2]) -> Result<Vec<f32>> {
        self.validate()?;
        let [h, w] = check_latent_size(size, edges.dimensions(), "the edge map")?;
        let d = adaptive_avg_pool2d(edges.as_raw(), [h, w], size)?;
        Ok(self.min_max(d))
    }

    /// Global min-max of a pooled map onto `[e_min, e_max]`, in f32 as torch does it.
    fn min_max(&self, mut d: Vec<f32>) -> Vec<f32> {
        let (lo, hi) = d
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let span = (self.e_max as f64 - self.e_min as f64) as f32;
        if hi > lo {
            let range = hi - lo;
            d.iter_mut()
                .for_each(|v| *v = (*v - lo) / range * span + self.e_min);
        } else {
            d.iter_mut().for_each(|v| *v = self.e_min);
        }
        d
    }

    /// σ as a `[1, 1, H, W]` tensor on `device`.
    ///
    /// # Errors
    /// As [`RegionNoiseConfig::std_map`].
    pub fn std_map_tensor<B: Backend>(
        &self,
        reference: &RgbImage,
        size: [usize; 2],
        device: &B::Device,
    ) -> Result<Tensor<B, 4>> {
        let m = self.std_map(reference, size)?;
        Ok(Tensor::from_data(
            TensorData::new(m, [1, 1, size[0], size[1]]),
            device,
        ))
    }

    /// `latent + σ·ε` with `ε` drawn from `seed` ([`ultrares_core::noise::gaussian`]) in the
    /// latent's shape `[N, C, H, W]`.
    ///
    /// # Errors
    /// NaN/inf in the latent, invalid parameters, or a latent larger than the reference.
    pub fn apply<B: Backend>(
        &self,
        latent: Tensor<B, 4>,
        reference: &RgbImage,
        seed: u64,
    ) -> Result<Tensor<B, 4>> {
        let noise = gaussian::<B, 4>(latent.dims(), seed, &latent.device())?;
        self.apply_with_noise(latent, reference, noise)
    }

    /// `latent + σ·noise` with caller-supplied noise of the latent's shape (to reproduce a
    /// reference run's draw).
    ///
    /// # Errors
    /// NaN/inf in the latent, mismatched noise shape, invalid parameters, or a latent larger than
    /// the reference.
    pub fn apply_with_noise<B: Backend>(
        &self,
        latent: Tensor<B, 4>,
        reference: &RgbImage,
        noise: Tensor<B, 4>,
    ) -> Result<Tensor<B, 4>> {
        let [_, _, h, w] = latent.dims();
        if noise.dims() != latent.dims() {
            return Err(ultrares_core::Error::shape(
                "noise",
                format!("the latent's shape {:?}", latent.dims()),
                &noise.dims(),
            )
            .into());
        }
        let bad = latent
            .clone()
            .is_finite()
            .bool_not()
            .int()
            .sum()
            .into_scalar()
            .elem::<i64>();
        if bad > 0 {
            return Err(ultrares_core::Error::NonFinite {
                arg: "latent",
                count: bad as usize,
            }
            .into());
        }
        let sigma = self.std_map_tensor::<B>(reference, [h, w], &latent.device())?;
        Ok(latent + noise * sigma)
    }
}

/// `size` must lie between 1×1 and the image's `(width, height)`; returns `[h, w]`.
fn check_latent_size(size: [usize; 2], (w, h): (u32, u32), what: &str) -> Result<[usize; 2]> {
    let (h, w) = (h as usize, w as usize);
    if size[0] == 0 || size[1] == 0 || size[0] > h || size[1] > w {
        return Err(Error::argument(
            "size",
            format!("a latent size between 1×1 and {what}'s size {h}×{w}"),
            format!("{}×{}", size[0], size[1]),
        ));
    }
    Ok([h, w])
}
