//! The generator-internal Haar transform: WaveCNet's `DWT_2D("haar")`/`IDWT_2D("haar")`
//! (`WaveDiff:DWT_IDWT/DWT_IDWT_layer.py`), bands `(LL, LH, HL, HH)` with `LH` high-pass along
//! the width, through the backend's [`WaveletBackend`] kernels.

use burn::prelude::*;
use ultrares_wavelet::fast::{WaveletBackend, dwt2, idwt2};
use ultrares_wavelet::{Coeffs2, Mode, Wavelet};

use crate::Result;

/// `DWT_2D("haar")(x)`: `[LL, LH, HL, HH]`, each `[N, C, H/2, W/2]` (H, W even).
pub(crate) fn dwt<B: WaveletBackend>(x: Tensor<B, 4>) -> Result<[Tensor<B, 4>; 4]> {
    Ok(dwt2(x, &Wavelet::haar(), Mode::Zero)?.to_wavecnet())
}

/// `IDWT_2D("haar")(LL, LH, HL, HH)`: `[N, C, 2h, 2w]`.
pub(crate) fn idwt<B: WaveletBackend>(bands: [Tensor<B, 4>; 4]) -> Result<Tensor<B, 4>> {
    Ok(idwt2(
        Coeffs2::from_wavecnet(bands),
        &Wavelet::haar(),
        Mode::Zero,
    )?)
}
