//! `Linear` layers through the backend's matrix product ([`NnBackend::nn_matmul`]): the
//! `[…, D_in]` input is flattened to one `[M, D_in] × [D_in, D_out]` product (one large GEMM
//! instead of Burn's batched, broadcast `matmul` over the leading dimensions), then the bias is
//! added. Same values as `burn::nn::Linear::forward` (`tests/linear.rs`), same state-dict names.

use burn::nn::Linear;
use burn::prelude::*;

use crate::NnBackend;

/// `x · W + b` for a PyTorch `nn.Linear` held as Burn's [`Linear`] (`W` stored `[D_in, D_out]`).
///
/// # Shapes
/// `[…, D_in] → […, D_out]`.
pub fn linear<B: NnBackend, const D: usize>(layer: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dims = x.dims();
    let [d_in, d_out] = layer.weight.dims();
    let m = dims[..D - 1].iter().product::<usize>();
    let y = B::nn_matmul(
        x.reshape([1, m, d_in]),
        layer.weight.val().reshape([1, d_in, d_out]),
    );
    let y = match &layer.bias {
        Some(b) => y + b.val().reshape([1, 1, d_out]),
        None => y,
    };
    let mut out = dims;
    out[D - 1] = d_out;
    y.reshape(out)
}

/// The f32 product `[M, K] × [K, N]` of row-major host slices with faer's parallel GEMM
/// (AVX2/AVX-512 kernels, rayon threads): the CPU backends' [`NnBackend::nn_matmul`].
#[cfg(any(feature = "ndarray", feature = "flex"))]
pub(crate) fn host_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    let lhs = faer::MatRef::from_row_major_slice(a, m, k);
    let rhs = faer::MatRef::from_row_major_slice(b, k, n);
    let dst = faer::MatMut::from_row_major_slice_mut(&mut out, m, n);
    faer::linalg::matmul::matmul(
        dst,
        faer::Accum::Replace,
        lhs,
        rhs,
        1.0f32,
        faer::Par::rayon(0),
    );
    out
}

/// [`NnBackend::nn_matmul`] on a host backend: f32 products through [`host_matmul`] (batch by
/// batch, a batch of one broadcast), anything else through Burn's `matmul`.
#[cfg(any(feature = "ndarray", feature = "flex"))]
pub(crate) fn host_nn_matmul<B: Backend>(lhs: Tensor<B, 3>, rhs: Tensor<B, 3>) -> Tensor<B, 3> {
    use burn::tensor::{DType, TensorData};
    let ([b1, m, k], [b2, k2, n]) = (lhs.dims(), rhs.dims());
    let f32s = lhs.dtype() == DType::F32 && rhs.dtype() == DType::F32;
    if !f32s || k != k2 || !(b1 == b2 || b2 == 1) {
        return lhs.matmul(rhs);
    }
    let device = lhs.device();
    let (Ok(a), Ok(b)) = (
        lhs.clone().into_data().into_vec::<f32>(),
        rhs.clone().into_data().into_vec::<f32>(),
    ) else {
        return lhs.matmul(rhs);
    };
    let mut out = Vec::with_capacity(b1 * m * n);
    for i in 0..b1 {
        let j = if b2 == 1 { 0 } else { i };
        out.extend(host_matmul(
            &a[i * m * k..(i + 1) * m * k],
            &b[j * k * n..(j + 1) * k * n],
            m,
            k,
            n,
        ));
    }
    Tensor::from_data(TensorData::new(out, [b1, m, n]), &device)
}
