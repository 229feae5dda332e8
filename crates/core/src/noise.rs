//! Seeded noise drawn on the host, identical on every backend.
//!
//! # The generator (a stable, documented contract)
//!
//! The output of `n` values is cut into consecutive blocks of [`NOISE_BLOCK`] values. Block `b`
//! is produced by a ChaCha8 stream cipher (`rand_chacha::ChaCha8Rng`) keyed with
//! `ChaCha8Rng::seed_from_u64(seed)` and switched to stream `b` (`set_stream(b)`), read from word
//! 0. Blocks are independent, so they are generated in parallel (rayon) and the result does not
//! depend on the number of threads. A shorter draw is a prefix of a longer one with the same seed.
//!
//! * **Uniform** `[0, 1)`: each value is the top 24 bits of one `next_u32()`, times 2⁻²⁴; every
//!   f32 of the form k·2⁻²⁴ is equally likely and 1.0 is never produced.
//! * **Gaussian** N(0, 1): values are produced in pairs by the Box–Muller transform in f64 from two
//!   `next_u64()` draws, `u1 = (1 + (a >> 11))·2⁻⁵³ ∈ (0, 1]`, `u2 = (b >> 11)·2⁻⁵³ ∈ [0, 1)`:
//!   `z0 = √(−2 ln u1)·cos(2π u2)`, `z1 = √(−2 ln u1)·sin(2π u2)`, rounded to f32.
//!
//! The values are then uploaded with [`Tensor::from_data`], so the same seed gives bit-identical
//! noise on every backend and device. Seed-for-seed parity with `torch.randn` is impossible (a
//! different generator); tests that compare with PyTorch inject the noise tensor instead.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::{Error, Result};

/// Number of values drawn from one ChaCha8 stream (see the module docs).
pub const NOISE_BLOCK: usize = 1 << 16;

/// The largest number of values one call may draw (2³⁴ ≈ 1.7·10¹⁰, 64 GiB of f32).
pub const MAX_NOISE_ELEMENTS: usize = 1 << 34;

fn block_rng(seed: u64, block: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(block as u64);
    rng
}

fn check_shape(arg: &'static str, shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Err(Error::shape(arg, "every dimension ≥ 1", shape));
    }
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_NOISE_ELEMENTS);
    n.ok_or_else(|| Error::TooLarge {
        arg,
        elements: shape.iter().map(|&d| d as u128).product(),
        limit: MAX_NOISE_ELEMENTS as u128,
    })
}

fn fill_blocks(out: &mut [f32], seed: u64, fill: impl Fn(&mut ChaCha8Rng, &mut [f32]) + Sync) {
    out.par_chunks_mut(NOISE_BLOCK)
        .enumerate()
        .for_each(|(b, chunk)| fill(&mut block_rng(seed, b), chunk));
}

/// `n` standard-normal values drawn with the documented generator (see the module docs).
///
/// # Errors
/// [`Error::TooLarge`] when `n` exceeds [`MAX_NOISE_ELEMENTS`].
pub fn gaussian_vec(n: usize, seed: u64) -> Result<Vec<f32>> {
    check_shape("n", &[n.max(1)])?;
    let mut out = vec![0f32; n];
    fill_blocks(&mut out, seed, |rng, chunk| {
        for pair in chunk.chunks_mut(2) {
            let u1 = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
            let u2 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            let r = (-2.0 * u1.ln()).sqrt();
            let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
            pair[0] = (r * c) as f32;
            if let Some(z1) = pair.get_mut(1) {
                *z1 = (r * s) as f32;
            }
        }
    });
    Ok(out)
}

/// `n` values uniform in `[0, 1)` drawn with the documented generator (see the module docs).
///
/// # Errors
/// [`Error::TooLarge`] when `n` exceeds [`MAX_NOISE_ELEMENTS`].
pub fn uniform_vec(n: usize, seed: u64) -> Result<Vec<f32>> {
    check_shape("n", &[n.max(1)])?;
    let mut out = vec![0f32; n];
    fill_blocks(&mut out, seed, |rng, chunk| {
        for v in chunk {
            *v = (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
        }
    });
    Ok(out)
}

/// A tensor of standard-normal noise N(0, 1) of `shape`, drawn on the host from `seed` and
/// uploaded to `device` (f32, or the device's default float dtype).
///
/// The same `(shape, seed)` gives the same values on every backend. Equivalent in role to
/// `torch.randn(shape, generator=torch.Generator().manual_seed(seed))`, not in values.
///
/// # Errors
/// [`Error::Shape`] for a zero-sized dimension, [`Error::TooLarge`] past [`MAX_NOISE_ELEMENTS`].
pub fn gaussian<B: Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &B::Device,
) -> Result<Tensor<B, D>> {
    let n = check_shape("shape", &shape)?;
    Ok(Tensor::from_data(
        TensorData::new(gaussian_vec(n, seed)?, shape),
        device,
    ))
}

/// A tensor of noise uniform in `[low, high)` of `shape`, drawn on the host from `seed`.
///
/// # Errors
/// [`Error::Shape`] for a zero-sized dimension, [`Error::TooLarge`] past [`MAX_NOISE_ELEMENTS`],
/// [`Error::Argument`] unless `low < high` and both are finite.
pub fn uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    low: f32,
    high: f32,
    seed: u64,
    device: &B::Device,
) -> Result<Tensor<B, D>> {
    if !(low.is_finite() && high.is_finite() && low < high) {
        return Err(Error::argument(
            "low, high",
            "finite bounds with low < high",
            format!("[{low}, {high})"),
        ));
    }
    let n = check_shape("shape", &shape)?;
    let mut v = uniform_vec(n, seed)?;
    let span = high - low;
    let top = high.next_down();
    v.par_iter_mut()
        .for_each(|x| *x = (low + span * *x).min(top));
    Ok(Tensor::from_data(TensorData::new(v, shape), device))
}
