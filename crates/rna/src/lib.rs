//! # ultrares-rna
//!
//! LSRNA's Region-wise Noise Addition (CVPR 2025, §3.2; `3587jjh/LSRNA:utils.py`,
//! `pipeline_lsrna_demofusion_sdxl.py`): the decoded reference image's Canny edges, pooled to the
//! target latent size and mapped to per-pixel noise scales in `[e_min, e_max]`, modulate seeded
//! Gaussian noise added to the upsampled latent, so that detailed regions receive more noise.
//!
//! * [`canny`](mod@canny): OpenCV-exact Canny on the host (rayon over rows);
//! * [`canny_device`]: the same computation in Burn tensor ops on any backend, tested equal;
//! * [`pool`]: PyTorch's `AdaptiveAvgPool2d` bins;
//! * [`region_noise`]: [`RegionNoiseConfig`] with the DemoFusion and Pixelsmith presets.
#![warn(missing_docs)]

pub mod canny;
pub mod canny_device;
mod error;
pub mod pool;
pub mod region_noise;

pub use canny::{CannyConfig, canny};
pub use error::{Error, Result};
pub use region_noise::RegionNoiseConfig;
