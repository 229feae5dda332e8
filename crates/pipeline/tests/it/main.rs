//! The integration tests of `ultrares-pipeline`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod common;
mod errors;
mod golden;
mod statistics;
mod tiny_networks;
mod upscale;
