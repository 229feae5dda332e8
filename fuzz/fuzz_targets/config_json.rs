//! `config.json` / `scheduler_config.json`: the nn reader, the VAE's and the schedulers' parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz/support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    support::config_json(data);
});
