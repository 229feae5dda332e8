//! Input validation shared by the model crates.

use burn::prelude::*;

use crate::{Error, Result};

/// Fails with [`Error::NonFinite`] if `x` holds NaN or ±∞, counting them on the host.
///
/// The count is done on the host because a device-side `(x − x).is_nan()` reported no NaN for
/// NaN/∞ inputs on burn-ndarray with its `simd` feature. It reads the whole tensor back: call it
/// on model inputs, which are small next to the activations.
///
/// # Errors
/// [`Error::NonFinite`], or [`Error::Readback`] if the data cannot be read as f32.
pub fn check_finite<B: Backend, const D: usize>(x: &Tensor<B, D>, arg: &'static str) -> Result<()> {
    let data = x.to_data().convert::<f32>();
    let count = data
        .as_slice::<f32>()
        .map_err(|e| Error::Readback {
            arg,
            message: format!("{e:?}"),
        })?
        .iter()
        .filter(|v| !v.is_finite())
        .count();
    if count > 0 {
        return Err(Error::NonFinite { arg, count });
    }
    Ok(())
}
