//! `.npz` archives as the CLI reads pytorch-fid statistics and `idwt` its bands.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::npz(data);
});
