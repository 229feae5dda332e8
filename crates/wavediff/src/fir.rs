//! StyleGAN2's FIR resampling with the `[1, 3, 3, 1]` kernel, as NCSN++ and the DDGAN
//! discriminator use it (`WaveDiff:score_sde/models/up_or_down_sampling.py`, `upfirdn2d` with
//! the kernel `outer(k, k) / sum`). The 2-D kernel is separable, so each function runs two 1-D
//! passes of slices and sums (no convolution), zero outside the image.

use burn::prelude::*;
use ultrares_nn::ops::pad_zeros;

#[derive(Clone, Copy)]
enum Axis {
    Rows,
    Cols,
}

impl Axis {
    fn dim(self) -> usize {
        match self {
            Axis::Rows => 2,
            Axis::Cols => 3,
        }
    }

    fn pad<B: Backend>(self, x: Tensor<B, 4>, before: usize, after: usize) -> Tensor<B, 4> {
        match self {
            Axis::Rows => pad_zeros(x, [before, after], [0, 0]),
            Axis::Cols => pad_zeros(x, [0, 0], [before, after]),
        }
    }

    /// `x[start .. start + len]` along the axis.
    fn narrow<B: Backend>(self, x: &Tensor<B, 4>, start: usize, len: usize) -> Tensor<B, 4> {
        x.clone().narrow(self.dim(), start, len)
    }

    /// Even and odd positions along the axis (even length).
    fn deinterleave<B: Backend>(self, x: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [n, c, h, w] = x.dims();
        match self {
            Axis::Rows => {
                let x5: Tensor<B, 5> = x.reshape([n, c, h / 2, 2, w]);
                let pick = |i| x5.clone().narrow(3, i, 1).reshape([n, c, h / 2, w]);
                (pick(0), pick(1))
            }
            Axis::Cols => {
                let x5: Tensor<B, 5> = x.reshape([n, c, h, w / 2, 2]);
                let pick = |i| x5.clone().narrow(4, i, 1).reshape([n, c, h, w / 2]);
                (pick(0), pick(1))
            }
        }
    }

    /// `y[2i] = even[i]`, `y[2i + 1] = odd[i]` along the axis.
    fn interleave<B: Backend>(self, even: Tensor<B, 4>, odd: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = even.dims();
        match self {
            Axis::Rows => Tensor::stack::<5>(vec![even, odd], 3).reshape([n, c, 2 * h, w]),
            Axis::Cols => Tensor::stack::<5>(vec![even, odd], 4).reshape([n, c, h, 2 * w]),
        }
    }

    /// `(x[2i−1] + 3x[2i] + 3x[2i+1] + x[2i+2]) / 8`.
    fn down<B: Backend>(self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let half = x.dims()[self.dim()] / 2;
        let (e, o) = self.deinterleave(self.pad(x, 1, 1));
        let inner = self.narrow(&o, 0, half) + self.narrow(&e, 1, half);
        let outer = self.narrow(&e, 0, half) + self.narrow(&o, 1, half);
        (inner.mul_scalar(3.0) + outer).mul_scalar(0.125)
    }

    /// `y[2i] = (x[i−1] + 3x[i]) / 4`, `y[2i+1] = (3x[i] + x[i+1]) / 4`.
    fn up<B: Backend>(self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let len = x.dims()[self.dim()];
        let xp = self.pad(x, 1, 1);
        let mid = self.narrow(&xp, 1, len).mul_scalar(0.75);
        let even = self.narrow(&xp, 0, len).mul_scalar(0.25) + mid.clone();
        let odd = mid + self.narrow(&xp, 2, len).mul_scalar(0.25);
        self.interleave(even, odd)
    }

    /// `(x[n−2] + 3x[n−1] + 3x[n] + x[n+1]) / 8` for `n = 0 ..= L` (length `L + 1`).
    fn blur<B: Backend>(self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let len = x.dims()[self.dim()] + 1;
        let xp = self.pad(x, 2, 2);
        let inner = self.narrow(&xp, 1, len) + self.narrow(&xp, 2, len);
        let outer = self.narrow(&xp, 0, len) + self.narrow(&xp, 3, len);
        (inner.mul_scalar(3.0) + outer).mul_scalar(0.125)
    }
}

/// `downsample_2d(x, [1, 3, 3, 1], factor=2)`.
///
/// # Shapes
/// `[N, C, H, W] → [N, C, H/2, W/2]` (H, W even).
pub fn downsample_2d<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    Axis::Cols.down(Axis::Rows.down(x))
}

/// `upsample_2d(x, [1, 3, 3, 1], factor=2)`.
///
/// # Shapes
/// `[N, C, H, W] → [N, C, 2H, 2W]`.
pub fn upsample_2d<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    Axis::Cols.up(Axis::Rows.up(x))
}

/// The FIR pre-filter of `conv_downsample_2d` (`upfirdn2d(x, k, pad=(2, 2))`): a stride-2
/// valid 3×3 convolution of the result completes it.
///
/// # Shapes
/// `[N, C, H, W] → [N, C, H + 1, W + 1]`.
pub fn blur_for_conv_down<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    Axis::Cols.blur(Axis::Rows.blur(x))
}
