//! Band layouts used in the field: PyWavelets/pytorch_wavelets order, WaveCNet's order and the
//! channel stacking of WaveDiff and Diffusion-4K (spec `wavelet.md` §1.2–1.3).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::{Coeffs2, Details2, Error, Result};

/// The order of the three detail bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BandOrder {
    /// `[cH, cV, cD]`: PyWavelets, pytorch_wavelets (`yh[:, :, 0..3]`), ptwt, Diffusion-4K, and
    /// WaveDiff's image transform with `--use_pytorch_wavelet` (cifar10, stl10, celeba_512,
    /// lsun).
    #[default]
    Pywt,
    /// `[cV, cH, cD]`: WaveCNet's `DWT_2D` returns `LL, LH, HL, HH` where its `LH` is high-pass
    /// along the **width** (PyWavelets' `cV`). WaveDiff's celeba_256 and celeba_1024
    /// checkpoints and every WaveDiff generator-internal wavelet layer use it.
    WaveCnet,
}

impl BandOrder {
    fn order<T>(self, h: T, v: T, d: T) -> [T; 3] {
        match self {
            BandOrder::Pywt => [h, v, d],
            BandOrder::WaveCnet => [v, h, d],
        }
    }
}

/// Channel stacking `cat([LL, b1, b2, b3], dim=1) · scale`: `(N, C, h, w)` bands become one
/// `(N, 4C, h, w)` tensor with all `C` approximation channels first, then each detail group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stacking {
    /// Detail order of `b1, b2, b3`.
    pub order: BandOrder,
    /// Factor applied to every band when stacking (divided out when unstacking).
    pub scale: f64,
}

impl Stacking {
    /// WaveDiff's image ↔ diffusion-space transform (`train_wddgan.py`): all 12 channels ÷ 2,
    /// with the detail order of the checkpoint's DWT backend.
    pub fn wavediff(order: BandOrder) -> Self {
        Self { order, scale: 0.5 }
    }

    /// Diffusion-4K's wavelet loss (`train_flux_4k_wavelet.py`): `[LL, cH, cV, cD]`, unscaled.
    pub fn diffusion_4k() -> Self {
        Self {
            order: BandOrder::Pywt,
            scale: 1.0,
        }
    }

    /// Stacks one level's bands into `(N, 4C, h, w)`.
    pub fn stack<B: Backend>(&self, c: Coeffs2<B>) -> Tensor<B, 4> {
        let [b1, b2, b3] = self.order.order(c.h, c.v, c.d);
        let t = Tensor::cat(vec![c.a, b1, b2, b3], 1);
        if self.scale == 1.0 {
            t
        } else {
            t.mul_scalar(self.scale)
        }
    }

    /// The exact inverse of [`Stacking::stack`].
    ///
    /// # Errors
    /// [`Error::Shape`] if the channel count is not a positive multiple of 4;
    /// [`Error::Argument`] if the scale is zero or not finite.
    pub fn unstack<B: Backend>(&self, t: Tensor<B, 4>) -> Result<Coeffs2<B>> {
        let [n, c4, h, w] = t.dims();
        if c4 == 0 || c4 % 4 != 0 {
            return Err(Error::shape(format!(
                "stacked bands need 4·C channels, got {c4}"
            )));
        }
        if !self.scale.is_finite() || self.scale == 0.0 {
            return Err(Error::Argument(format!(
                "stacking scale must be finite and non-zero, got {}",
                self.scale
            )));
        }
        let t = if self.scale == 1.0 {
            t
        } else {
            t.div_scalar(self.scale)
        };
        let c = c4 / 4;
        let band = |i: usize| t.clone().slice([0..n, i * c..(i + 1) * c, 0..h, 0..w]);
        let (a, b1, b2, b3) = (band(0), band(1), band(2), band(3));
        let (h, v) = match self.order {
            BandOrder::Pywt => (b1, b2),
            BandOrder::WaveCnet => (b2, b1),
        };
        Ok(Coeffs2 { a, h, v, d: b3 })
    }
}

impl<B: Backend> Details2<B> {
    /// pytorch_wavelets' `yh[j]` layout `(N, C, 3, h, w)` with index 2 = `[cH, cV, cD]`.
    pub fn to_pytorch_wavelets(self) -> Tensor<B, 5> {
        Tensor::stack(vec![self.h, self.v, self.d], 2)
    }

    /// From pytorch_wavelets' `(N, C, 3, h, w)` layout.
    ///
    /// # Errors
    /// [`Error::Shape`] if dimension 2 is not 3.
    pub fn from_pytorch_wavelets(t: Tensor<B, 5>) -> Result<Self> {
        let [n, c, three, h, w] = t.dims();
        if three != 3 {
            return Err(Error::shape(format!(
                "pytorch_wavelets detail tensors are (N, C, 3, h, w), got {:?}",
                t.dims()
            )));
        }
        let band = |i: usize| {
            t.clone()
                .slice([0..n, 0..c, i..i + 1, 0..h, 0..w])
                .reshape([n, c, h, w])
        };
        Ok(Self {
            h: band(0),
            v: band(1),
            d: band(2),
        })
    }
}

impl<B: Backend> Coeffs2<B> {
    /// The bands as WaveCNet's `DWT_2D` returns them: `(LL, LH, HL, HH) = (a, v, h, d)`.
    pub fn to_wavecnet(self) -> [Tensor<B, 4>; 4] {
        [self.a, self.v, self.h, self.d]
    }

    /// From WaveCNet's `(LL, LH, HL, HH)` (the argument order of its `IDWT_2D`).
    pub fn from_wavecnet([ll, lh, hl, hh]: [Tensor<B, 4>; 4]) -> Self {
        Self {
            a: ll,
            h: hl,
            v: lh,
            d: hh,
        }
    }
}
