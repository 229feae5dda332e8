//! # ultrares-metrics
//!
//! Detail metrics for 2K–8K images, equal to the reference tools:
//!
//! - [`graycomatrix`] / [`Glcm::prop`]: scikit-image's gray-level co-occurrence matrix and its
//!   properties (contrast, dissimilarity, homogeneity, ASM, energy, correlation, mean, variance,
//!   std, entropy);
//! - [`glcm_score`]: Diffusion-4K's GLCM Score (Zhang et al., CVPR 2025, `eval.py`): OpenCV
//!   gray, 64 levels, 64×64 patches of the top-left 2048², distances 1–4 × 4 angles,
//!   non-symmetric normalised GLCM, and scikit-image's `shannon_entropy` of that tensor — the
//!   entropy of its distinct values, not the textbook GLCM entropy;
//! - [`FeatureStats`], [`frechet_distance`] / [`fid`], [`kid`] / [`kid_f32`], [`inception_score`]: FID, KID and
//!   IS from feature or logit vectors (streaming f64 statistics, faer eigendecompositions);
//! - [`PatchSampler`] / [`reference_to_size`]: LSRNA's pFID/pKID crops (ground truth cropped to
//!   the generated aspect ratio, Pillow Lanczos resize, seeded random 1024² crops at identical
//!   locations in both sets);
//! - [`InceptionV3`]: pytorch-fid's FID network (pool3 features and logits) from its weight file;
//! - [`CompressionRatio`] / [`compression_ratio`]: Diffusion-4K's raw-RGB / JPEG-bytes ratio,
//!   with [`encode_jpeg`], a baseline JPEG encoder whose output equals libjpeg-turbo's (Pillow's)
//!   byte for byte.
#![warn(missing_docs)]

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod aesthetics;
mod amx;
mod clip_score;
mod compression_ratio;
mod error;
pub mod glcm;
mod glcm_score;
pub mod inception;
pub mod jpeg;
mod patches;
mod stats;

pub use aesthetics::AestheticPredictor;
pub use clip_score::{ClipImageProcessor, ClipResize, ClipScorer, clip_score};
pub use compression_ratio::{CompressionRatio, compression_ratio};
pub use error::{Error, Result};
pub use glcm::{Glcm, GlcmConfig, GlcmProp, graycomatrix};
pub use glcm_score::{GlcmScoreConfig, PatchScore, glcm_score, glcm_score_gray, glcm_score_mean};
pub use inception::{InceptionV3, InceptionV3Config};
pub use jpeg::{JpegConfig, Subsampling, encode_jpeg, encode_jpeg_gray};
pub use patches::{PatchSampler, reference_to_size};
pub use stats::{FeatureStats, fid, frechet_distance, inception_score, kid, kid_f32};
