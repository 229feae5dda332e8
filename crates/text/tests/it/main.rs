//! The integration tests of `ultrares-text`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod clip_text;
mod clip_tokenizer;
mod clip_vision;
mod common;
mod dtype;
mod flux_prompt;
mod lora;
mod sd3_prompt;
mod sdxl_prompt;
mod t5_encoder;
mod t5_tokenizer;
