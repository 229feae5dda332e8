//! T5's SentencePiece unigram tokenizer, equal to transformers 5's `T5Tokenizer` (the tokenizers
//! engine) as diffusers' SD3 and Flux pipelines call it (`_get_t5_prompt_embeds`:
//! `padding="max_length", max_length=max_sequence_length, truncation=True,
//! add_special_tokens=True`).
//!
//! Read as transformers 5 reads a `tokenizer.json` (`TokenizersBackend` then
//! `T5Tokenizer.__init__`, transformers 5.24 `models/t5/tokenization_t5.py`): from the file only
//! the unigram vocabulary with its scores, the SentencePiece `Precompiled` character map of the
//! normalizer, the post-processor (`$A </s>`) and the added tokens (`<pad>`, `</s>`, `<unk>`, the
//! `<extra_id_N>` sentinels) are kept; the pre-tokenizer is rebuilt as
//! `WhitespaceSplit → Metaspace("▁", prepend always, split)` and the decoder as `Metaspace`.
//! Padding and truncation saved in the file are ignored: the length is the caller's.

use std::path::Path;

use serde_json::{Value, json};
use tokenizers::{Encoding, PaddingDirection, Tokenizer, TruncationDirection};

use crate::TextError;

/// A T5 tokenizer (SD3's `tokenizer_3/`, Flux's `tokenizer_2/`).
#[derive(Debug, Clone)]
pub struct T5Tokenizer {
    tokenizer: Tokenizer,
    pad_id: u32,
    pad_token: String,
    eos_id: u32,
    model_max_length: usize,
}

impl T5Tokenizer {
    /// Loads a folder with `tokenizer.json` (and optionally `tokenizer_config.json`, whose
    /// `tokenizer_class`, `pad_token` and `model_max_length` are used). A folder with only
    /// `spiece.model` is refused: convert it once with transformers (`save_pretrained`).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TextError> {
        let dir = dir.as_ref();
        let path = dir.join("tokenizer.json");
        if !path.is_file() {
            let expected = if dir.join("spiece.model").is_file() {
                "a T5 tokenizer.json beside spiece.model (SentencePiece protobufs are not read: \
                 `T5TokenizerFast.from_pretrained(dir).save_pretrained(dir)` writes it)"
            } else {
                "a T5 tokenizer folder with tokenizer.json"
            };
            return Err(TextError::Missing {
                path,
                expected: expected.into(),
            });
        }
        let config_path = dir.join("tokenizer_config.json");
        let config = crate::clip_tokenizer::read_json_object(&config_path)?;
        if let Some(class) = config.get("tokenizer_class").and_then(Value::as_str)
            && !matches!(class, "T5Tokenizer" | "T5TokenizerFast")
        {
            return Err(TextError::json(
                &config_path,
                format!(
                    "tokenizer_class is {class:?}, expected \"T5Tokenizer\" (a T5 unigram tokenizer)"
                ),
            ));
        }
        let token = |key: &str, default: &str| match config.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string(),
            _ => default.to_string(),
        };
        let pad_token = token("pad_token", "<pad>");
        let eos_token = token("eos_token", "</s>");
        let model_max_length = match config.get("model_max_length").map(Value::as_u64) {
            None => 512,
            Some(Some(n @ 1..=1_000_000)) => n as usize,
            Some(_) => {
                return Err(TextError::json(
                    &config_path,
                    "model_max_length: expected the encoder's sequence length (e.g. 512)",
                ));
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| TextError::io(&path, e))?;
        let file: Value = serde_json::from_str(&text)
            .map_err(|e| TextError::json(&path, format!("not valid JSON: {e}")))?;
        let tokenizer = Self::rebuild(&file, &path)?;
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| TextError::Vocabulary {
                    what: path.display().to_string(),
                    message: format!("token {t:?} (from the config) is not in the vocabulary"),
                })
        };
        Ok(Self {
            pad_id: id(&pad_token)?,
            eos_id: id(&eos_token)?,
            pad_token,
            tokenizer,
            model_max_length,
        })
    }

    /// The pipeline transformers 5 builds around the file's vocabulary (module docs).
    fn rebuild(file: &Value, path: &Path) -> Result<Tokenizer, TextError> {
        let model = &file["model"];
        if model.get("type").and_then(Value::as_str) != Some("Unigram") {
            return Err(TextError::json(
                path,
                "model: expected a Unigram model (a T5 tokenizer.json)",
            ));
        }
        let Some(vocab) = model.get("vocab").filter(|v| v.is_array()) else {
            return Err(TextError::json(
                path,
                "model.vocab: expected a list of [piece, score] pairs",
            ));
        };
        let precompiled = |n: &Value| n.get("type").and_then(Value::as_str) == Some("Precompiled");
        let normalizer = match &file["normalizer"] {
            n if precompiled(n) => n.clone(),
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("Sequence") => o
                .get("normalizers")
                .and_then(Value::as_array)
                .and_then(|list| list.iter().find(|n| precompiled(n)).cloned())
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let metaspace = json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true});
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": file.get("added_tokens").cloned().unwrap_or(json!([])),
            "normalizer": normalizer,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
            "post_processor": file.get("post_processor").cloned().unwrap_or(Value::Null),
            "decoder": metaspace,
            "model": {"type": "Unigram", "unk_id": model.get("unk_id").cloned().unwrap_or(json!(2)),
                      "vocab": vocab, "byte_fallback": false},
        });
        let bytes = serde_json::to_vec(&spec).map_err(|e| TextError::Engine(e.to_string()))?;
        Tokenizer::from_bytes(bytes).map_err(|e| TextError::Vocabulary {
            what: path.display().to_string(),
            message: format!("not a T5 unigram tokenizer: {e}"),
        })
    }

    /// `max_length` ids of `text`: its tokens (truncated to leave room for `</s>`), `</s>`, then
    /// the pad id; `max_length` is diffusers' `max_sequence_length` (SD3 256, Flux 512).
    pub fn encode(&self, text: &str, max_length: usize) -> Result<Vec<u32>, TextError> {
        let enc = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        self.finish(enc, max_length)
    }

    /// [`encode`](Self::encode) for many prompts, in parallel.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        max_length: usize,
    ) -> Result<Vec<Vec<u32>>, TextError> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encs = self
            .tokenizer
            .encode_batch_fast(inputs, false)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        encs.into_iter()
            .map(|e| self.finish(e, max_length))
            .collect()
    }

    /// What tokenizers does inside `encode` with truncation and padding set: truncate the
    /// sequence to leave room for the special tokens, post-process, pad.
    fn finish(&self, mut enc: Encoding, max_length: usize) -> Result<Vec<u32>, TextError> {
        let added = self.tokenizer.get_post_processor().map_or(0, |p| {
            use tokenizers::PostProcessor;
            p.added_tokens(false)
        });
        if max_length <= added {
            return Err(TextError::Input(format!(
                "max_length {max_length}: expected more than {added} (the special tokens)"
            )));
        }
        enc.truncate(max_length - added, 0, TruncationDirection::Right);
        let mut enc = self
            .tokenizer
            .post_process(enc, None, true)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        enc.pad(
            max_length,
            self.pad_id,
            0,
            &self.pad_token,
            PaddingDirection::Right,
        );
        Ok(enc.get_ids().to_vec())
    }

    /// Number of ids before truncation, `</s>` included.
    pub fn token_count(&self, text: &str) -> Result<usize, TextError> {
        Ok(self
            .tokenizer
            .encode_fast(text, true)
            .map_err(|e| TextError::Engine(e.to_string()))?
            .len())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TextError> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| TextError::Engine(e.to_string()))
    }

    /// `model_max_length` of the config (512 when absent).
    pub fn model_max_length(&self) -> usize {
        self.model_max_length
    }
    /// Id of the pad token (`<pad>`, 0).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }
    /// Id of `</s>` (1).
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }
    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }
}
