//! Tensor helpers every network uses: zero padding and concatenation that keep the dtype and are
//! fast on the CPU backends, nearest-neighbour upsampling, dtype casts.

use burn::module::{ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

/// Zero padding `[top, bottom]` × `[left, right]` in `x`'s own dtype (`Tensor::pad` creates its
/// fill in the default float dtype, which half-precision tensors reject on some backends).
///
/// # Shapes
/// `[N, C, H, W] → [N, C, top + H + bottom, left + W + right]`.
pub fn pad_zeros<B: Backend>(x: Tensor<B, 4>, rows: [usize; 2], cols: [usize; 2]) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let shape = [n, c, h + rows[0] + rows[1], w + cols[0] + cols[1]];
    Tensor::zeros(shape, (&x.device(), x.dtype()))
        .slice_assign([0..n, 0..c, rows[0]..rows[0] + h, cols[0]..cols[0] + w], x)
}

/// `Tensor::cat(parts, dim)` written as one allocation and a `slice_assign` per part:
/// burn-ndarray's `cat` along a non-leading dimension copies element by element (≈ 30× slower
/// for a 128-channel 256² map). Parts must agree in every dimension but `dim`.
pub fn concat<B: Backend, const D: usize>(
    mut parts: Vec<Tensor<B, D>>,
    dim: usize,
) -> Tensor<B, D> {
    if parts.len() == 1 {
        return parts.swap_remove(0);
    }
    let Some(first) = parts.first() else {
        return Tensor::cat(parts, dim);
    };
    let mut shape = first.dims();
    shape[dim] = parts.iter().map(|p| p.dims()[dim]).sum();
    let mut out = Tensor::zeros(shape, (&first.device(), first.dtype()));
    let mut start = 0;
    for p in parts {
        let len = p.dims()[dim];
        let ranges: [std::ops::Range<usize>; D] = std::array::from_fn(|d| {
            if d == dim {
                start..start + len
            } else {
                0..shape[d]
            }
        });
        out = out.slice_assign(ranges, p);
        start += len;
    }
    out
}

/// Nearest-neighbour ×`f` upsampling (`F.interpolate(scale_factor=f, mode="nearest")`).
///
/// # Shapes
/// `[N, C, H, W] → [N, C, f·H, f·W]`.
pub fn upsample_nearest<B: Backend>(x: Tensor<B, 4>, f: usize) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        [h * f, w * f],
        InterpolateOptions::new(InterpolateMode::Nearest),
    )
}

/// `x` in `dtype` (no-op when it already is).
pub fn cast_to<B: Backend, const D: usize>(x: Tensor<B, D>, dtype: DType) -> Tensor<B, D> {
    if x.dtype() == dtype { x } else { x.cast(dtype) }
}

/// `x` in f32 (no-op when it already is).
pub fn to_f32<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    cast_to(x, DType::F32)
}

/// `x` in f32 when it is f16 or bf16, else unchanged: the upcast in front of statistics and
/// softmax.
pub fn upcast_half<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if matches!(x.dtype(), DType::F16 | DType::BF16) {
        x.cast(DType::F32)
    } else {
        x
    }
}

/// A [`ModuleMapper`] that casts every float parameter to `dtype`:
/// `module.map(&mut CastMapper { dtype })`.
pub struct CastMapper {
    /// The target dtype.
    pub dtype: DType,
}

impl<B: Backend> ModuleMapper<B> for CastMapper {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.cast(self.dtype), mapper)
    }
}

/// The row-major elements of a host array view: borrowed when it is contiguous, otherwise copied
/// through a fixed-rank view (ndarray's dynamic-rank iterator costs tens of ns per element: it
/// had made the UNet's attention, whose q/k/v are head-split `swap_dims` views, slower than the
/// tensor-op path).
#[cfg(feature = "ndarray")]
pub(crate) fn row_major<'a>(view: &'a ndarray::ArrayViewD<'a, f32>) -> std::borrow::Cow<'a, [f32]> {
    use ndarray::{Ix2, Ix3, Ix4};
    if let Some(s) = view.to_slice() {
        return std::borrow::Cow::Borrowed(s);
    }
    fn copy<D: ndarray::Dimension>(v: ndarray::ArrayView<'_, f32, D>) -> Vec<f32> {
        v.as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0
    }
    let v = view.view();
    std::borrow::Cow::Owned(
        match v.ndim() {
            2 => v.into_dimensionality::<Ix2>().map(copy),
            3 => v.into_dimensionality::<Ix3>().map(copy),
            4 => v.into_dimensionality::<Ix4>().map(copy),
            _ => Ok(view.iter().copied().collect()),
        }
        .unwrap_or_else(|_| view.iter().copied().collect()),
    )
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    use super::*;

    type B = NdArray<f32>;

    #[test]
    fn concat_equals_tensor_cat_on_every_dim() {
        let device = Default::default();
        let a = Tensor::<B, 4>::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &device);
        for dim in 0..4 {
            let mut dims = [2, 3, 4, 5];
            dims[dim] = 2;
            let b = Tensor::<B, 4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
            let want = Tensor::cat(vec![a.clone(), b.clone()], dim);
            let got = concat(vec![a.clone(), b], dim);
            assert_eq!(got.into_data(), want.into_data(), "dim {dim}");
        }
    }

    #[test]
    fn pad_zeros_keeps_the_interior_and_fills_zeros() {
        let device = Default::default();
        let x = Tensor::<B, 4>::random([1, 2, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let got = pad_zeros(x.clone(), [0, 1], [2, 3]);
        assert_eq!(got.dims(), [1, 2, 4, 9]);
        let interior = got.clone().slice([0..1, 0..2, 0..3, 2..6]);
        assert_eq!(interior.into_data(), x.clone().into_data());
        let total: f32 = got.abs().sum().into_scalar();
        let inner: f32 = x.abs().sum().into_scalar();
        assert!((total - inner).abs() < 1e-5);
    }
}
