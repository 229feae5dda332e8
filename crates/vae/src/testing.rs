//! Test support shared with other crates' tests (not part of the API): the model with
//! `tools/golden/gen_vae.py`'s deterministic hashed weights.

use burn::tensor::TensorData;
use ultrares_core::testing::det_weight;
use ultrares_nn::{NnBackend, StateDict};

use crate::{AutoencoderKl, AutoencoderKlConfig, Result};

/// The model of `cfg` with every state-dict tensor set to `det_weight(key, shape)`, as
/// gen_vae.py's `hashed` does on the Python side.
///
/// # Errors
/// The config's own errors (see [`AutoencoderKlConfig::init`]).
pub fn hashed<B: NnBackend>(
    cfg: &AutoencoderKlConfig,
    device: &B::Device,
) -> Result<AutoencoderKl<B>> {
    let shapes = cfg.init::<B>(device)?.state_dict();
    let mut tensors = Vec::new();
    for k in shapes.keys() {
        if let Some(t) = shapes.info(k) {
            let shape = t.shape.clone();
            tensors.push((k.to_string(), TensorData::new(det_weight(k, &shape), shape)));
        }
    }
    cfg.load(&StateDict::from_tensors("hashed", tensors), device)
}
