//! PyTorch's bicubic convolution kernel (`aten/src/ATen/native/UpSample.h`,
//! `get_cubic_upsample_coefficients`), shared by `F.interpolate(mode='bicubic')` and
//! `grid_sample(mode='bicubic')`.

/// The four weights, for taps `⌊x⌋ − 1 … ⌊x⌋ + 2`, of a sample at fractional offset `t`
/// (`A = −0.75`), in f32 as PyTorch's CPU kernels compute them.
pub fn cubic_coefficients(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let conv1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let conv2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let u = 1.0 - t;
    [conv2(t + 1.0), conv1(t), conv1(u), conv2(u + 1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_coefficients_partition_unity() {
        for t in [0.0f32, 0.1, 0.5, 0.9] {
            let s: f32 = cubic_coefficients(t).iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
        assert_eq!(cubic_coefficients(0.0), [0.0, 1.0, 0.0, 0.0]);
    }
}
