//! Text conditioning for ultrares's denoisers.
//!
//! * [`ClipTokenizer`]: CLIP's byte-level BPE, equal to transformers' `CLIPTokenizer` as
//!   diffusers' `encode_prompt` calls it (77 ids, padded and truncated), loaded from a diffusers
//!   `tokenizer/` / `tokenizer_2/` folder or a `tokenizer.json`; the real OpenAI vocabulary is
//!   compiled in ([`ClipTokenizer::openai`]).
//!
//! * [`T5Tokenizer`]: T5's SentencePiece unigram tokenizer, equal to transformers 5's `T5Tokenizer`
//!   from a `tokenizer.json` folder (SD3's `tokenizer_3/`, Flux's `tokenizer_2/`).
//! * [`T5EncoderModel`]: transformers' `T5EncoderModel` (T5 v1.1, gated GELU, relative position
//!   buckets, RMSNorm, `wo` kept f32 under half precision).
//! * [`ClipTextModel`]: transformers' `CLIPTextModel` / `CLIPTextModelWithProjection` (SDXL's
//!   two text towers) with its weight names, every hidden state and the pooled/projected output.
//! * [`SdxlTextEncoders`]: diffusers' SDXL `encode_prompt` over both towers (a pipeline folder
//!   loads with [`SdxlTextEncoders::from_pipeline_dir`]); [`Sd3TextEncoders`]: SD3's over CLIP-L,
//!   bigG and T5; [`FluxTextEncoders`]: Flux's over CLIP-L (pooled) and T5.
//! * Single-file checkpoints: the towers of `sd_xl_base_1.0.safetensors`-style files under
//!   transformers' names ([`single_file_text_encoder`], [`PipelineSource`]), as diffusers'
//!   `from_single_file`.
//! * LoRA files merged into the CLIP towers ([`ClipTextModel::merge_lora`],
//!   [`SdxlTextEncoders::merge_lora`]), kohya and diffusers/PEFT layouts.
//!
//! Spec: `shared/specs/sdxl.md` §4.1 (text towers), §5 (files, special tokens, the `!` pad of SDXL's second tokenizer).
#![warn(missing_docs)]

mod clip_text;
mod clip_tokenizer;
mod clip_vision;
mod error;
mod flux_prompt;
mod lora;
mod sd3_prompt;
mod sdxl_prompt;
mod single_file;
mod t5_encoder;
mod t5_tokenizer;

pub use clip_text::{
    ClipAttention, ClipEncoder, ClipEncoderLayer, ClipMlp, ClipTextConfig, ClipTextEmbeddings,
    ClipTextModel, ClipTextOutput, ClipTextTransformer,
};
pub use clip_tokenizer::{
    AddedToken, CLIP_MAX_LENGTH, ClipPad, ClipTokenizer, END_OF_TEXT, Merges, OPENAI_BPE_GZ,
    START_OF_TEXT, openai_vocabulary, write_openai_folder,
};
pub use clip_vision::{
    ClipVisionConfig, ClipVisionEmbeddings, ClipVisionModel, ClipVisionOutput,
    ClipVisionTransformer,
};
pub use error::TextError;
pub use flux_prompt::{FluxPromptEmbeds, FluxTextEncoders};
pub use lora::{ClipLoraPlan, ClipLoraTower};
pub use sd3_prompt::{Sd3Prompt, Sd3TextEncoders};
pub use sdxl_prompt::{PromptEmbeds, SdxlPrompt, SdxlTextEncoders};
pub use single_file::{PipelineSource, has_single_file_text_encoder, single_file_text_encoder};
pub use t5_encoder::{T5Attention, T5Block, T5EncoderConfig, T5EncoderModel, T5EncoderOutput};
pub use t5_tokenizer::T5Tokenizer;
