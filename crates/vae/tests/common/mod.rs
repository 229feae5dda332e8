//! Shared by the vae tests.

use burn::prelude::*;
use burn::tensor::TensorData;
use ultrares_core::StateDict;
use ultrares_core::testing::det_weight;
use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig};

/// The model of `cfg` with gen_vae.py's hashed weights (`det_weight` of every state-dict key).
pub fn hashed<B: Backend>(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    let device = Default::default();
    let shapes = cfg.init::<B>(&device).expect("init").state_dict();
    let sd = StateDict::from_tensors(
        "hashed",
        shapes
            .keys()
            .map(|k| {
                let shape = shapes.get(k).expect("key").shape.clone();
                (k.to_string(), TensorData::new(det_weight(k, &shape), shape))
            })
            .collect::<Vec<_>>(),
    );
    cfg.load(&sd, &device).expect("load")
}
