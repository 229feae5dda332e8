//! The integration tests of `ultrares-rna`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod canny;
mod common;
mod device;
mod region_noise;
