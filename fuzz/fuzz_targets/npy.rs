//! `.npy` files as the CLI reads latents and features (ndarray-npy, f32/f64).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::npy(data);
});
