//! PNG/JPEG bytes decoded and turned into `[1, 3, H, W]` and `[1, 1, H, W]` tensors.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::image(data);
});
