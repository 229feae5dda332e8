//! A torch `.pth` (zip + pickle) through burn-store's reader, as `StateDict::read` and the LIIF/LSRNA loaders open it.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::pth(data);
});
