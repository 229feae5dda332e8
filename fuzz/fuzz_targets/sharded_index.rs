//! A `*.safetensors.index.json`, the weight map of a sharded checkpoint.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::sharded_index(data);
});
