//! A safetensors file (header length, JSON header, data) as `ultrares weights` and every loader read it.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::safetensors(data);
});
