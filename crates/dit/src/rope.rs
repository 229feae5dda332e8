//! Flux's rotary position embedding (`FluxPosEmbed` and `apply_rotary_emb` in diffusers
//! `transformer_flux.py` / `embeddings.py`; Su et al., *RoFormer*, 2021): every token has three
//! ids (t, h, w); axis `i` takes `d_i` of the head's dimensions with frequencies
//! `ω_j = 1/θ^(2j/d_i)`, computed in f64 and rounded to f32 as diffusers does, each angle
//! repeated for an adjacent pair (interleaved rotation, not rotate-half).

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use ultrares_nn::ops::cast_to;

use crate::{DitError, Result};

/// The cosines and sines of every token's rotation, `[S, head_dim]` each, in f32.
#[derive(Debug, Clone)]
pub struct Rope<B: Backend> {
    /// `cos(pos·ω)` repeated per pair, `[S, head_dim]`.
    pub cos: Tensor<B, 2>,
    /// `sin(pos·ω)` repeated per pair, `[S, head_dim]`.
    pub sin: Tensor<B, 2>,
}

impl<B: Backend> Rope<B> {
    /// `FluxPosEmbed(theta, axes_dim)(ids)`.
    ///
    /// # Shapes
    /// `ids`: `[S, axes]` (float ids, text first then image, as Flux concatenates them).
    ///
    /// # Errors
    /// [`DitError::Input`] if `ids` has another number of columns than `axes_dim`.
    pub fn new(ids: Tensor<B, 2>, axes_dim: &[usize], theta: f64) -> Result<Self> {
        let [s, axes] = ids.dims();
        if axes != axes_dim.len() {
            return Err(DitError::input(
                "ids",
                format!("[S, {}] (one column per RoPE axis)", axes_dim.len()),
                format!("{:?}", ids.dims()),
            ));
        }
        let device = ids.device();
        let pos: Vec<f32> = ids
            .cast(DType::F32)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|e| DitError::input("ids", "float ids", format!("{e:?}")))?;
        let width: usize = axes_dim.iter().sum();
        let (mut cos, mut sin) = (vec![0f32; s * width], vec![0f32; s * width]);
        for t in 0..s {
            let mut col = 0;
            for (a, &d) in axes_dim.iter().enumerate() {
                let p = f64::from(pos[t * axes + a]);
                for j in 0..d / 2 {
                    let omega = 1.0 / theta.powf((2 * j) as f64 / d as f64);
                    let (sv, cv) = (p * omega).sin_cos();
                    for k in 0..2 {
                        cos[t * width + col + 2 * j + k] = cv as f32;
                        sin[t * width + col + 2 * j + k] = sv as f32;
                    }
                }
                col += d;
            }
        }
        Ok(Self {
            cos: Tensor::from_data(TensorData::new(cos, [s, width]), &device),
            sin: Tensor::from_data(TensorData::new(sin, [s, width]), &device),
        })
    }

    /// Rotates adjacent pairs: `x·cos + (−x₁, x₀)·sin`, in f32, returned in `x`'s dtype.
    ///
    /// # Shapes
    /// `x`: `[N, H, S, head_dim]`.
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let dtype = x.dtype();
        let x = cast_to(x, DType::F32);
        let [n, h, s, d] = x.dims();
        let pairs = x.clone().reshape([n, h, s, d / 2, 2]);
        let x0 = pairs.clone().narrow(4, 0, 1);
        let x1 = pairs.narrow(4, 1, 1);
        let rotated = Tensor::cat(vec![x1.neg(), x0], 4).reshape([n, h, s, d]);
        let cos = self.cos.clone().reshape([1, 1, s, d]);
        let sin = self.sin.clone().reshape([1, 1, s, d]);
        cast_to(x * cos + rotated * sin, dtype)
    }
}
