//! DemoFusion's latent upsampler: `F.interpolate(z, size, mode='bicubic', align_corners=False)`.

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::LatentUpsampler;
use ultrares_core::cubic::cubic_coefficients;

use crate::{Error, Result};

/// PyTorch's bicubic interpolation (`A = −0.75`, `align_corners=False`, out-of-range taps
/// clamped to the edge) to any size, as two matrix products with host-built weight matrices.
#[derive(Debug, Clone, Copy, Default)]
pub struct BicubicUpsampler;

/// The `[out, in]` matrix of PyTorch's 1-D bicubic resampling from `n_in` to `n_out` samples.
pub fn bicubic_matrix(n_in: usize, n_out: usize) -> Vec<f32> {
    // f32 throughout, as PyTorch's CPU kernel (`opmath_t` of float).
    let scale = n_in as f32 / n_out as f32;
    let mut m = vec![0f32; n_out * n_in];
    for o in 0..n_out {
        // area_pixel_compute_source_index(cubic=True): no clamping of the source coordinate.
        let src = scale * (o as f32 + 0.5) - 0.5;
        let i0 = src.floor();
        let t = src - i0;
        for (k, wk) in cubic_coefficients(t).into_iter().enumerate() {
            let idx = (i0 as i64 - 1 + k as i64).clamp(0, n_in as i64 - 1) as usize;
            m[o * n_in + idx] += wk;
        }
    }
    m
}

impl BicubicUpsampler {
    /// Resamples `[N, C, h, w]` to `[N, C, size[0], size[1]]`.
    ///
    /// # Errors
    /// A zero-sized input or output.
    pub fn resize<B: Backend>(&self, x: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = x.dims();
        if n * c * h * w == 0 || size[0] == 0 || size[1] == 0 {
            return Err(Error::argument(
                "size",
                "a non-empty input and output",
                format!("{:?} → {:?}", x.dims(), size),
            ));
        }
        let device = x.device();
        let ry = Tensor::<B, 2>::from_data(
            TensorData::new(bicubic_matrix(h, size[0]), [size[0], h]),
            &device,
        );
        let rx = Tensor::<B, 2>::from_data(
            TensorData::new(bicubic_matrix(w, size[1]), [size[1], w]),
            &device,
        );
        // Rows then columns, as PyTorch's separable kernel (the order only changes rounding).
        let x = x.reshape([n * c, h, w]);
        let y = ry.unsqueeze::<3>().expand([n * c, size[0], h]).matmul(x);
        let z = y.matmul(rx.transpose().unsqueeze::<3>().expand([n * c, w, size[1]]));
        Ok(z.reshape([n, c, size[0], size[1]]))
    }
}

impl<B: Backend> LatentUpsampler<B> for BicubicUpsampler {
    type Error = Error;

    fn upsample(&self, latent: Tensor<B, 4>, size: [usize; 2]) -> Result<Tensor<B, 4>> {
        self.resize(latent, size)
    }
}
