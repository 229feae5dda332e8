//! The integration tests of `ultrares-vae`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod common;
mod dtype;
mod errors;
mod golden;
mod sample;
