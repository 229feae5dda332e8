//! LSRNA's pFID/pKID protocol (spec `lsrna.md` §6, after Anyres-GAN): crop the ground truth to
//! the generated image's aspect ratio, resize it to the generated resolution with Lanczos, and
//! take the same seeded random `1024²` crops from both images.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use ultrares_core::image::RgbImage;
use ultrares_core::resize::{PilFilter, resize_pil};

use crate::{Error, Result};

/// Where the patches of one image pair come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSampler {
    /// Patch side (1024 in LSRNA).
    pub patch: u32,
    /// Patches per image (LSRNA: 50,000 in total over the set).
    pub per_image: usize,
    /// Seed of every location; the same seed gives the same locations for every method.
    pub seed: u64,
}

impl Default for PatchSampler {
    fn default() -> Self {
        Self {
            patch: 1024,
            per_image: 50,
            seed: 0,
        }
    }
}

impl PatchSampler {
    /// Top-left corners `(x, y)` of the patches of image `index` (its position in the set) of
    /// size `width × height`: uniform over all `(W − p + 1)·(H − p + 1)` positions, drawn from
    /// ChaCha8 seeded with `seed`, stream `index` — independent of the image's content, so the
    /// ground truth and every generated set get the same crops.
    ///
    /// # Errors
    /// [`Error::Image`] when the image is smaller than a patch, [`Error::Argument`] for a zero
    /// patch size.
    pub fn locations(&self, index: u64, width: u32, height: u32) -> Result<Vec<(u32, u32)>> {
        if self.patch == 0 {
            return Err(Error::Argument("patch size must be ≥ 1".into()));
        }
        if width < self.patch || height < self.patch {
            return Err(Error::Image(format!(
                "{width}×{height} image is smaller than a {0}×{0} patch",
                self.patch
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index);
        let (nx, ny) = (
            u64::from(width - self.patch) + 1,
            u64::from(height - self.patch) + 1,
        );
        Ok((0..self.per_image)
            .map(|_| {
                // Unbiased for these ranges: rejection keeps every position equally likely.
                let x = uniform(&mut rng, nx) as u32;
                let y = uniform(&mut rng, ny) as u32;
                (x, y)
            })
            .collect())
    }

    /// The patches of `img` (image `index` of its set).
    pub fn patches(&self, index: u64, img: &RgbImage) -> Result<Vec<RgbImage>> {
        let locs = self.locations(index, img.width(), img.height())?;
        let p = self.patch;
        Ok(locs
            .into_iter()
            .map(|(x0, y0)| RgbImage::from_fn(p, p, |x, y| *img.get_pixel(x0 + x, y0 + y)))
            .collect())
    }
}

/// Uniform integer in `0..n` (Lemire's rejection, no modulo bias).
fn uniform(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// Step 1–2 of the protocol: the largest centred crop of `gt` with the aspect ratio
/// `width : height`, resized to `width × height` with Pillow's Lanczos.
///
/// The crop keeps the full height when `gt` is too wide (crop width `round(H·w/h)`), else the
/// full width; offsets are `⌊(excess)/2⌋`.
pub fn reference_to_size(gt: &RgbImage, width: u32, height: u32) -> Result<RgbImage> {
    let (gw, gh) = (u64::from(gt.width()), u64::from(gt.height()));
    if gw == 0 || gh == 0 || width == 0 || height == 0 {
        return Err(Error::Image(format!(
            "cannot fit a {gw}×{gh} reference to {width}×{height}"
        )));
    }
    let (w, h) = (u64::from(width), u64::from(height));
    let (cw, ch) = if gw * h > gh * w {
        (((gh * w * 2 + h) / (2 * h)).clamp(1, gw), gh)
    } else {
        (gw, ((gw * h * 2 + w) / (2 * w)).clamp(1, gh))
    };
    let (x0, y0) = ((gw - cw) / 2, (gh - ch) / 2);
    let cropped = if (cw, ch) == (gw, gh) {
        gt.clone()
    } else {
        RgbImage::from_fn(cw as u32, ch as u32, |x, y| {
            *gt.get_pixel(x0 as u32 + x, y0 as u32 + y)
        })
    };
    Ok(resize_pil(&cropped, width, height, PilFilter::Lanczos)?)
}
