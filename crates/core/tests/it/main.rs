//! The integration tests of `ultrares-core`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod image;
mod noise;
mod resize;
mod tiling;
mod traits;
