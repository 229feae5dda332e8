//! `Linear` layers through the backend's matrix product ([`NnBackend::nn_matmul`]): the
//! `[…, D_in]` input is flattened to one `[M, D_in] × [D_in, D_out]` product with the weight as
//! stored (no reshape, so a loaded weight's transposed view is not copied), then the bias is added. Same values as `burn::nn::Linear::forward` (`tests/it/linear.rs`), same state-dict names.

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
    let y = B::nn_matmul(x.reshape([m, d_in]), layer.weight.val());
    let y = match &layer.bias {
        Some(b) => y + b.val().reshape([1, d_out]),
        None => y,
    };
    let mut out = dims;
    out[D - 1] = d_out;
    y.reshape(out)
}

/// The f32 product `[M, K] × [K, N]` of host arrays with faer's parallel GEMM (AVX2/AVX-512
/// kernels, rayon threads), reading row- or column-major operands in place (a loaded `Linear`
/// weight is a transposed view) and copying any other layout: burn-ndarray's
/// [`NnBackend::nn_matmul`].
#[cfg(feature = "ndarray")]
pub(crate) fn host_matmul(
    a: ndarray::ArrayView<'_, f32, ndarray::IxDyn>,
    b: ndarray::ArrayView<'_, f32, ndarray::IxDyn>,
    [m, k, n]: [usize; 3],
) -> Vec<f32> {
    use faer::MatRef;
    let (a_owned, b_owned);
    let lhs = if let Some(s) = a.clone().reversed_axes().to_slice() {
        MatRef::from_column_major_slice(s, m, k)
    } else {
        a_owned = crate::ops::row_major(&a);
        MatRef::from_row_major_slice(&a_owned, m, k)
    };
    let rhs = if let Some(s) = b.clone().reversed_axes().to_slice() {
        MatRef::from_column_major_slice(s, k, n)
    } else {
        b_owned = crate::ops::row_major(&b);
        MatRef::from_row_major_slice(&b_owned, k, n)
    };
    let mut out = vec![0f32; m * n];
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
