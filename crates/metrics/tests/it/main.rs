//! The integration tests of `ultrares-metrics`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod aesthetics;
mod clip_score;
mod common;
mod inception;
mod jpeg;
mod patches;
mod skimage;
mod stats;
