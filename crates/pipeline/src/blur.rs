//! The Gaussian blur and global re-standardisation of DemoFusion's dilated sampling
//! (`3587jjh/LSRNA:utils.py` `gaussian_kernel`/`gaussian_filter`, `PRIS-CV/DemoFusion`).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// The normalised 1-D Gaussian `exp(−(x − (k−1)/2)²/(2σ²))`, `x = 0..k`, in f32 as PyTorch
/// computes it.
pub fn gaussian_kernel_1d(kernel_size: usize, sigma: f32) -> Vec<f32> {
    let c = (kernel_size as f32 - 1.0) / 2.0;
    let g: Vec<f32> = (0..kernel_size)
        .map(|x| (-((x as f32 - c).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = g.iter().sum();
    g.into_iter().map(|v| v / sum).collect()
}

/// Depthwise `k × k` Gaussian blur of `x` (`[N, C, H, W]`) with zero padding `k/2`: the outer
/// product of [`gaussian_kernel_1d`] with itself, as `gaussian_filter` (`F.conv2d`, groups = C).
pub fn gaussian_filter<B: Backend>(
    x: Tensor<B, 4>,
    kernel_size: usize,
    sigma: f32,
) -> Tensor<B, 4> {
    let [_, c, _, _] = x.dims();
    let g = gaussian_kernel_1d(kernel_size, sigma);
    let k2: Vec<f32> = (0..c)
        .flat_map(|_| g.iter().flat_map(|&a| g.iter().map(move |&b| a * b)))
        .collect();
    let weight = Tensor::from_data(
        TensorData::new(k2, [c, 1, kernel_size, kernel_size]),
        &x.device(),
    );
    let p = kernel_size / 2;
    conv2d(x, weight, None, ConvOptions::new([1, 1], [p, p], [1, 1], c))
}

/// Mean and unbiased standard deviation of every element (`x.mean()`, `x.std()`).
pub fn mean_std<B: Backend, const D: usize>(x: &Tensor<B, D>) -> (f64, f64) {
    let n = x.shape().num_elements();
    let mean = x.clone().mean().into_scalar().elem::<f64>();
    let ss = (x.clone() - mean)
        .powi_scalar(2)
        .sum()
        .into_scalar()
        .elem::<f64>();
    (mean, (ss / (n.max(2) - 1) as f64).sqrt())
}

/// `(x − mean(x))/std(x)·std + mean`: gives `x` the global statistics `(mean, std)`.
pub fn restandardize<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    mean: f64,
    std: f64,
) -> Tensor<B, D> {
    let (m, s) = mean_std(&x);
    (x - m).mul_scalar(std / s).add_scalar(mean)
}
