//! # ultrares-wavelet
//!
//! Two-dimensional discrete wavelet transforms on batched NCHW [Burn](https://burn.dev)
//! tensors of any backend, equal to [PyWavelets](https://pywavelets.readthedocs.io) band for
//! band, plus the band layouts and the wavelet loss of WaveDiff (Phung et al., CVPR 2023) and
//! Diffusion-4K (Zhang et al., CVPR 2025).
//!
//! - [`Wavelet`]: filters as data — `haar`, `db1`–`db38`, `sym2`–`sym20`, `coif1`–`coif17`
//!   (PyWavelets' coefficients), or custom orthogonal/biorthogonal banks.
//! - [`Mode`]: PyWavelets' signal extensions (`zero`, `constant`, `symmetric`, `reflect`,
//!   `periodic`, `periodization`, `antisymmetric`) and their output lengths.
//! - [`dwt2`]/[`idwt2`] (one level) and [`wavedec2`]/[`waverec2`] (multi-level), odd sizes
//!   included, differentiable under `burn::backend::Autodiff`.
//! - [`layout`]: PyWavelets/pytorch_wavelets vs WaveCNet detail order, WaveDiff's and
//!   Diffusion-4K's channel stacking with exact inverses.
//! - [`WaveletLoss`]: Diffusion-4K's wavelet latent fine-tuning loss with optional per-band
//!   weights and levels.
//! - [`fast`]: the hot case (Haar, one level, even sizes) as a backend extension
//!   ([`fast::WaveletBackend`]) with a CPU kernel for burn-ndarray (feature `ndarray`).
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::Tensor;
//! use ultrares_wavelet::{Mode, Wavelet, dwt2, idwt2};
//!
//! let device = Default::default();
//! let x = Tensor::<NdArray, 4>::ones([1, 3, 8, 8], &device);
//! let haar = Wavelet::new("haar")?;
//! let c = dwt2(x.clone(), &haar, Mode::Periodization)?;
//! assert_eq!(c.a.dims(), [1, 3, 4, 4]); // LL of a constant image v is 2v
//! let back = idwt2(c, &haar, Mode::Periodization)?;
//! assert!(back.sub(x).abs().max().into_scalar() < 1e-6);
//! # Ok::<(), ultrares_wavelet::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
pub mod fast;
mod filters_data;
pub mod layout;
mod loss;
mod mode;
mod plan;
mod transform;
mod wavelet;

pub use error::{Error, Result};
pub use layout::{BandOrder, Stacking};
pub use loss::{WaveletLoss, WaveletLossConfig};
pub use mode::Mode;
pub use transform::{Coeffs2, Decomposition2, Details2, dwt2, idwt2, wavedec2, waverec2};
pub use wavelet::Wavelet;

/// Number of coefficients per band along an axis of `len` samples (`pywt.dwt_coeff_len`).
pub fn coeff_len(len: usize, wavelet: &Wavelet, mode: Mode) -> usize {
    plan::coeff_len(len, wavelet.filter_len(), mode)
}
