//! Shared by the vae tests.

use ultrares_vae::{AutoencoderKl, AutoencoderKlConfig};

/// The model of `cfg` with gen_vae.py's hashed weights (`det_weight` of every state-dict key).
pub fn hashed<B: ultrares_nn::NnBackend>(cfg: &AutoencoderKlConfig) -> AutoencoderKl<B> {
    ultrares_vae::testing::hashed(cfg, &Default::default()).expect("hashed VAE")
}
