//! The integration tests of `ultrares-unet`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod checkpoints;
mod common;
mod errors;
mod golden;
mod real_topology;
mod topology;
