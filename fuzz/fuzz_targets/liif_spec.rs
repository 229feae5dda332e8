//! The LIIF/LSRNA checkpoint spec dict (`{'name', 'args'}`) as JSON, and a state dict built from it.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::liif_spec(data);
});
