//! The integration tests of `ultrares-schedulers`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod analytic;
mod config;
mod diffusers;
