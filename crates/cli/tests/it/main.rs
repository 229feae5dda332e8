//! The integration tests of `ultrares-cli`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod aesthetics;
mod cli;
mod clip_score;
mod common;
mod encode_prompt;
mod first_hour;
mod generate;
mod tokenize;
mod wavediff_train;
