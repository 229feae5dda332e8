//! The Haar kernels for CubeCL backends (CUDA, ROCm, wgpu/Vulkan/Metal, …), one thread per 2×2
//! block, for every float dtype the device runs (f32, f16, bf16): the dtype is a launch
//! argument, not a type parameter.
//!
//! Fused backends (`Fusion<CubeBackend>`, what `burn::backend::{Cuda, Wgpu}` are with the
//! `fusion` feature) keep the trait's generic default, which their fuser compiles from plain
//! tensor ops.

use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use super::{WaveletBackend, default_dwt2, default_idwt2, is_hot_case};
use crate::{Mode, Result, Wavelet};

#[cube(launch_unchecked)]
fn haar_dwt2_kernel<E: Float>(
    input: &Tensor<E>,
    a: &mut Tensor<E>,
    h: &mut Tensor<E>,
    v: &mut Tensor<E>,
    d: &mut Tensor<E>,
    units: u32,
    w2: u32,
    #[define(E)] _dtype: StorageType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= units as usize {
        terminate!();
    }
    let w2 = w2 as usize;
    let w = 2 * w2;
    let k = pos % w2;
    let row = pos / w2;
    // Row `row` of the bands (plane·h/2 + r) reads input rows 2·row and 2·row + 1.
    let top = 2 * row * w + 2 * k;
    let p00 = input[top];
    let p01 = input[top + 1];
    let p10 = input[top + w];
    let p11 = input[top + w + 1];
    let s0 = p00 + p01;
    let d0 = p00 - p01;
    let s1 = p10 + p11;
    let d1 = p10 - p11;
    let half = E::new(0.5);
    a[pos] = (s0 + s1) * half;
    h[pos] = (s0 - s1) * half;
    v[pos] = (d0 + d1) * half;
    d[pos] = (d0 - d1) * half;
}

#[cube(launch_unchecked)]
fn haar_idwt2_kernel<E: Float>(
    a: &Tensor<E>,
    h: &Tensor<E>,
    v: &Tensor<E>,
    d: &Tensor<E>,
    output: &mut Tensor<E>,
    units: u32,
    w2: u32,
    #[define(E)] _dtype: StorageType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= units as usize {
        terminate!();
    }
    let w2 = w2 as usize;
    let w = 2 * w2;
    let k = pos % w2;
    let row = pos / w2;
    let top = 2 * row * w + 2 * k;
    let ahs = a[pos] + h[pos];
    let ahd = a[pos] - h[pos];
    let vds = v[pos] + d[pos];
    let vdd = v[pos] - d[pos];
    let half = E::new(0.5);
    output[top] = (ahs + vds) * half;
    output[top + 1] = (ahs - vds) * half;
    output[top + w] = (ahd + vdd) * half;
    output[top + w + 1] = (ahd - vdd) * half;
}

fn dims<R: CubeRuntime>(t: &CubeTensor<R>) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Haar analysis of a contiguous-or-not `(N, C, H, W)` tensor with even H and W.
pub fn haar_dwt2<R: CubeRuntime>(x: CubeTensor<R>) -> [CubeTensor<R>; 4] {
    let x = into_contiguous(x);
    let [n, c, h, w] = dims(&x);
    let shape = Shape::new([n, c, h / 2, w / 2]);
    let client = x.client.clone();
    let dtype = x.dtype;
    // Contiguous outputs: `empty_device_dtype` may pitch rows (CUDA does for narrow rows), and
    // the kernels index linearly.
    let out = [0; 4].map(|_| {
        empty_device_contiguous_dtype(client.clone(), x.device.clone(), shape.clone(), dtype)
    });
    let units = shape.num_elements();
    let cube_dim = CubeDim::new(&client, units);
    let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
    // SAFETY: the output buffers hold `units` elements each and the kernel returns early past
    // them; the input is contiguous with 4·units elements, and every index the kernel reads
    // (< 2·(row+1)·W) is inside it because H and W are even.
    unsafe {
        haar_dwt2_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            x.into_tensor_arg(),
            out[0].clone().into_tensor_arg(),
            out[1].clone().into_tensor_arg(),
            out[2].clone().into_tensor_arg(),
            out[3].clone().into_tensor_arg(),
            units as u32,
            (w / 2) as u32,
            dtype.into(),
        );
    }
    out
}

/// Haar synthesis of four `(N, C, h, w)` bands of one shape.
pub fn haar_idwt2<R: CubeRuntime>(bands: [CubeTensor<R>; 4]) -> CubeTensor<R> {
    let [a, h, v, d] = bands.map(into_contiguous);
    let [n, c, h2, w2] = dims(&a);
    let client = a.client.clone();
    let dtype = a.dtype;
    let output = empty_device_contiguous_dtype(
        client.clone(),
        a.device.clone(),
        Shape::new([n, c, 2 * h2, 2 * w2]),
        dtype,
    );
    let units = n * c * h2 * w2;
    let cube_dim = CubeDim::new(&client, units);
    let cube_count = calculate_cube_count_elemwise(&client, units, cube_dim);
    // SAFETY: the bands hold `units` elements each (same shape, contiguous), the kernel returns
    // early past them, and it writes rows 2·row and 2·row + 1 of the 4·units-element output.
    unsafe {
        haar_idwt2_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            a.into_tensor_arg(),
            h.into_tensor_arg(),
            v.into_tensor_arg(),
            d.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            units as u32,
            w2 as u32,
            dtype.into(),
        );
    }
    output
}

impl<R, F, I, BT> WaveletBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    fn wavelet_dwt2(x: CubeTensor<R>, wavelet: &Wavelet, mode: Mode) -> Result<[CubeTensor<R>; 4]> {
        if is_hot_case(wavelet, dims(&x)) {
            return Ok(haar_dwt2(x));
        }
        default_dwt2::<Self>(x, wavelet, mode)
    }

    fn wavelet_idwt2(
        bands: [CubeTensor<R>; 4],
        wavelet: &Wavelet,
        mode: Mode,
    ) -> Result<CubeTensor<R>> {
        if wavelet.is_haar() {
            return Ok(haar_idwt2(bands));
        }
        default_idwt2::<Self>(bands, wavelet, mode)
    }
}

impl<B: burn_fusion::FusionBackend> WaveletBackend for burn_fusion::Fusion<B> {}
