//! Every random draw of a pipeline run, behind one trait so that a run is reproducible from a
//! seed and a reference run's draws can be replayed.

use crate::noise::gaussian_vec;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::Result;

/// What a Gaussian draw is for (the pipelines' noise streams, spec `lsrna.md` §9 "seed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Draw {
    /// The initial noise of the reference (or direct) generation.
    Initial,
    /// LSRNA's region-wise noise ε.
    RegionNoise,
    /// The forward-noising ε shared by every skip-residual target of a high-resolution phase.
    Inversion,
    /// The noise of a stochastic scheduler step.
    Step,
    /// A GAN generator's latent `z` (WaveDiff's DDGAN generator, one per step).
    Latent,
}

/// The source of every random draw of a pipeline run.
pub trait Randomness {
    /// `n` standard-normal values for `draw`.
    ///
    /// # Errors
    /// Implementations may fail (e.g. a replay that ran out of recorded draws).
    fn gaussian(&mut self, draw: Draw, n: usize) -> Result<Vec<f32>>;

    /// A uniform integer in `[low, high]` (both inclusive, as Python's `random.randint`): the
    /// view jitter of DemoFusion's `get_views`.
    ///
    /// # Errors
    /// Implementations may fail (e.g. a replay that ran out of recorded draws).
    fn randint(&mut self, low: i64, high: i64) -> Result<i64>;

    /// A uniform value in `[0, 1)` (`torch.rand(1)`: Pixelsmith's checkerboard shifts).
    ///
    /// # Errors
    /// Implementations may fail (e.g. a replay that ran out of recorded draws).
    fn uniform(&mut self) -> Result<f64>;

    /// A uniform index in `0..n` (`torch.randperm(n)[0]`: Pixelsmith's patch choice among the
    /// latents with the highest remaining timestep).
    ///
    /// # Errors
    /// Implementations may fail (e.g. a replay that ran out of recorded draws).
    fn index(&mut self, n: usize) -> Result<usize>;
}

/// Draws from one `u64` seed: the k-th Gaussian draw of a run is
/// [`crate::noise::gaussian_vec`] with seed `seed + k` (k = 0, 1, … in call order), and
/// the integers and uniforms come from a ChaCha8 stream keyed with `seed` on stream `u64::MAX`
/// (integers without modulo bias, uniforms as the top 53 bits of one word). The same seed and configuration give the same run on every backend.
#[derive(Debug, Clone)]
pub struct SeededRandomness {
    seed: u64,
    draws: u64,
    ints: ChaCha8Rng,
}

impl SeededRandomness {
    /// The draws of `seed`.
    pub fn new(seed: u64) -> Self {
        let mut ints = ChaCha8Rng::seed_from_u64(seed);
        ints.set_stream(u64::MAX);
        Self {
            seed,
            draws: 0,
            ints,
        }
    }
}

impl Randomness for SeededRandomness {
    fn gaussian(&mut self, _draw: Draw, n: usize) -> Result<Vec<f32>> {
        let v = gaussian_vec(n, self.seed.wrapping_add(self.draws))?;
        self.draws += 1;
        Ok(v)
    }

    fn randint(&mut self, low: i64, high: i64) -> Result<i64> {
        if high < low {
            return Err(crate::Error::argument(
                "randint",
                "low ≤ high",
                format!("[{low}, {high}]"),
            ));
        }
        let Some(span) = (high.wrapping_sub(low) as u64).checked_add(1) else {
            return Ok(self.ints.next_u64() as i64);
        };
        // Rejection sampling: accept below the largest multiple of `span`.
        let zone = (u64::MAX / span) * span;
        loop {
            let v = self.ints.next_u64();
            if v < zone {
                return Ok(low.wrapping_add((v % span) as i64));
            }
        }
    }

    fn uniform(&mut self) -> Result<f64> {
        Ok((self.ints.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64))
    }

    fn index(&mut self, n: usize) -> Result<usize> {
        if n == 0 {
            return Err(crate::Error::argument("index", "n ≥ 1", 0));
        }
        Ok(self.randint(0, n as i64 - 1)? as usize)
    }
}
