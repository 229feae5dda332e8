//! CLIP's byte-level BPE tokenizer, equal to transformers' `CLIPTokenizer` (5.x, the tokenizers engine).
//!
//! The pipeline is the one transformers builds from a `vocab.json` + `merges.txt` folder
//! (`convert_slow_tokenizer.CLIPConverter`; read back from `CLIPTokenizer.backend_tokenizer` of
//! transformers 5.24.0 by `tools/golden/gen_text.py`):
//! normalizer `NFC → Replace(\s+, " ") → Lowercase`; pre-tokenizer `Split(<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+,
//! Removed, invert) → ByteLevel(no prefix space)`; model `BPE(end_of_word_suffix "</w>", unk <|endoftext|>)`;
//! post-processor `RobertaProcessing(cls <|startoftext|>, sep <|endoftext|>)`. Encoding is what
//! diffusers' `encode_prompt` asks for: `padding="max_length", max_length=77, truncation=True`
//! (bos + the first 75 tokens + eos, then the pad id).
//!
//! A folder with a `tokenizer.json` is read as transformers 5 reads it: only the vocabulary and
//! merges are taken and the pipeline above is rebuilt around them (`TokenizersBackend`), so a file
//! written by another converter still tokenizes as transformers does.
//!
//! SDXL's two folders differ only in the pad token: `tokenizer/` pads with `<|endoftext|>` (49407),
//! `tokenizer_2/` with `!` (id 0), which its `tokenizer_config.json` also declares a special added
//! token, so every literal `!` in a prompt becomes id 0 (huggingface/diffusers#4153; replicated,
//! since diffusers is the reference).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use crate::TextError;

/// OpenAI CLIP's BPE vocabulary file `bpe_simple_vocab_16e6.txt.gz` (MIT), byte for byte as
/// `open-clip-torch==3.3.0` ships it: one header line, then the merges in rank order.
pub static OPENAI_BPE_GZ: &[u8] = include_bytes!("../assets/clip/bpe_simple_vocab_16e6.txt.gz");

/// Begin-of-text token.
pub const START_OF_TEXT: &str = "<|startoftext|>";
/// End-of-text token (also CLIP's unknown token and `tokenizer/`'s pad token).
pub const END_OF_TEXT: &str = "<|endoftext|>";
/// Sequence length of every CLIP text tower (`max_position_embeddings`).
pub const CLIP_MAX_LENGTH: usize = 77;

/// Which token pads the 77 ids: the one difference between SDXL's two tokenizer folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipPad {
    /// Pad with `<|endoftext|>` (49407): OpenAI CLIP ViT-L/14, SD 1.x and SDXL's `tokenizer/`.
    EndOfText,
    /// Pad with `!` (id 0), also matched as a special token inside prompts: OpenCLIP bigG,
    /// SD 2.x and SDXL's `tokenizer_2/`.
    Exclamation,
}

/// A token the tokenizer matches before BPE (transformers' `added_tokens_decoder` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    /// Its id in the vocabulary.
    pub id: u32,
    /// Its text.
    pub content: String,
    /// Matched after normalisation (lower-casing) rather than on the raw text.
    pub normalized: bool,
    /// Special: skipped when decoding with `skip_special_tokens`.
    pub special: bool,
    /// Swallows whitespace on its left.
    pub lstrip: bool,
    /// Swallows whitespace on its right.
    pub rstrip: bool,
    /// Only matched as a whole word.
    pub single_word: bool,
}

/// A CLIP tokenizer producing the fixed-length id rows a CLIP text encoder takes.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    /// Pads and truncates to `max_length`.
    fixed: Tokenizer,
    /// Neither pads nor truncates (token counts).
    plain: Tokenizer,
    max_length: usize,
    pad_id: u32,
    bos_id: u32,
    eos_id: u32,
}

/// Id of a special token the config names without an id (its vocabulary id is taken).
const UNNUMBERED: u32 = u32::MAX;

/// What `tokenizer_config.json` / `special_tokens_map.json` say (defaults: CLIP ViT-L/14's).
#[derive(Debug, Clone)]
struct Specials {
    pad: String,
    max_length: usize,
    added: Vec<AddedToken>,
}

impl ClipTokenizer {
    /// The OpenAI vocabulary compiled into this crate, with SDXL's `tokenizer/` (`EndOfText`) or
    /// `tokenizer_2/` (`Exclamation`) configuration. Equal to loading those folders.
    pub fn openai(pad: ClipPad) -> Result<Self, TextError> {
        let (vocab, merges) = openai_vocabulary()?;
        let vocab: Map<String, Value> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, json!(i)))
            .collect();
        let specials = Specials::for_pad(pad);
        Self::build(
            Value::Object(vocab),
            merges,
            specials,
            "the bundled OpenAI vocabulary",
        )
    }

    /// Loads a tokenizer folder: diffusers' `tokenizer/` or `tokenizer_2/` (vocab.json, merges.txt,
    /// tokenizer_config.json, special_tokens_map.json) or a folder with a `tokenizer.json`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TextError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(TextError::Missing {
                path: dir.to_path_buf(),
                expected: "a tokenizer folder (vocab.json + merges.txt, or tokenizer.json)".into(),
            });
        }
        let specials = Specials::read(dir)?;
        let tokenizer_json = dir.join("tokenizer.json");
        if tokenizer_json.is_file() {
            // transformers 5 keeps only the vocabulary and merges of a tokenizer.json and rebuilds
            // CLIP's pipeline around them (`TokenizersBackend`'s loading of `tokenizer.json`).
            let what = tokenizer_json.display().to_string();
            let mut file: Value = serde_json::from_str(&read(&tokenizer_json)?)
                .map_err(|e| TextError::json(&tokenizer_json, format!("not valid JSON: {e}")))?;
            let model = file
                .get_mut("model")
                .filter(|m| m.get("type").and_then(Value::as_str) == Some("BPE"));
            let Some(model) = model else {
                return Err(TextError::json(
                    &tokenizer_json,
                    "model: expected a BPE model (a CLIP tokenizer.json)",
                ));
            };
            let vocab = model
                .get_mut("vocab")
                .map(Value::take)
                .unwrap_or(Value::Null);
            let merges = match model.get_mut("merges").map(Value::take) {
                Some(Value::Array(list)) => list
                    .into_iter()
                    .map(|m| match m {
                        Value::String(s) => s
                            .split_once(' ')
                            .map(|(a, b)| (a.to_string(), b.to_string())),
                        Value::Array(pair) => match pair.as_slice() {
                            [Value::String(a), Value::String(b)] => Some((a.clone(), b.clone())),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        TextError::json(
                            &tokenizer_json,
                            "model.merges: expected \"a b\" strings or [a, b] pairs",
                        )
                    })?,
                _ => {
                    return Err(TextError::json(
                        &tokenizer_json,
                        "model.merges: expected a list",
                    ));
                }
            };
            return Self::from_vocab_merges(vocab, merges, specials, &what);
        }
        let vocab_path = dir.join("vocab.json");
        let merges_path = dir.join("merges.txt");
        for path in [&vocab_path, &merges_path] {
            if !path.is_file() {
                let hint = if dir.join("tokenizer").is_dir() {
                    format!(
                        "{} is a pipeline folder: pass its tokenizer/ or tokenizer_2/ subfolder",
                        dir.display()
                    )
                } else {
                    "a CLIP tokenizer folder holds vocab.json and merges.txt (or tokenizer.json)"
                        .into()
                };
                return Err(TextError::Missing {
                    path: path.clone(),
                    expected: hint,
                });
            }
        }
        let vocab: Value = serde_json::from_str(&read(&vocab_path)?)
            .map_err(|e| TextError::json(&vocab_path, format!("not valid JSON: {e}")))?;
        let merges = parse_merges(&read(&merges_path)?, &merges_path.display().to_string())?;
        Self::from_vocab_merges(vocab, merges, specials, &vocab_path.display().to_string())
    }

    fn from_vocab_merges(
        vocab: Value,
        merges: Vec<(String, String)>,
        specials: Specials,
        what: &str,
    ) -> Result<Self, TextError> {
        let Value::Object(map) = &vocab else {
            return Err(TextError::json(
                what,
                "expected an object mapping tokens to ids",
            ));
        };
        for token in [START_OF_TEXT, END_OF_TEXT] {
            if !map.contains_key(token) {
                return Err(TextError::Vocabulary {
                    what: what.into(),
                    message: format!("no {token} token"),
                });
            }
        }
        if let Some((k, _)) = map
            .iter()
            .find(|(_, v)| v.as_u64().is_none_or(|id| id > u32::MAX as u64))
        {
            return Err(TextError::json(
                what,
                format!("id of {k:?} is not a non-negative integer"),
            ));
        }
        Self::build(vocab, merges, specials, what)
    }

    /// Assembles the tokenizers pipeline transformers builds (module docs) around `vocab`/`merges`.
    fn build(
        vocab: Value,
        merges: Vec<(String, String)>,
        specials: Specials,
        what: &str,
    ) -> Result<Self, TextError> {
        let id = |t: &str| vocab.get(t).and_then(Value::as_u64).unwrap_or(0);
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                {"type": "Lowercase"}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex":
                    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
                 "behavior": "Removed", "invert": true},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
            "post_processor": {"type": "RobertaProcessing", "sep": [END_OF_TEXT, id(END_OF_TEXT)],
                               "cls": [START_OF_TEXT, id(START_OF_TEXT)], "trim_offsets": false, "add_prefix_space": false},
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": END_OF_TEXT, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges.into_iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()},
        });
        let bytes = serde_json::to_vec(&spec).map_err(|e| TextError::Engine(e.to_string()))?;
        let tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| TextError::Vocabulary {
            what: what.into(),
            message: format!("not a BPE vocabulary: {e}"),
        })?;
        Self::configure(tokenizer, specials, what)
    }

    /// Registers the added tokens (in id order, so new ones get the ids the config gives them), then
    /// sets padding and truncation to `max_length`.
    fn configure(mut plain: Tokenizer, specials: Specials, what: &str) -> Result<Self, TextError> {
        let vocab_error = |message: String| TextError::Vocabulary {
            what: what.into(),
            message,
        };
        for t in &specials.added {
            if t.id == UNNUMBERED && plain.token_to_id(&t.content).is_none() {
                return Err(vocab_error(format!(
                    "special token {:?} (from the config) is not in the vocabulary",
                    t.content
                )));
            }
            let token = tokenizers::AddedToken::from(t.content.clone(), t.special)
                .normalized(t.normalized)
                .lstrip(t.lstrip)
                .rstrip(t.rstrip)
                .single_word(t.single_word);
            let added = if t.special {
                plain.add_special_tokens([token])
            } else {
                plain.add_tokens([token])
            };
            added.map_err(|e| vocab_error(format!("cannot add token {:?}: {e}", t.content)))?;
            match plain.token_to_id(&t.content) {
                Some(id) if t.id == UNNUMBERED || id == t.id => {}
                found => {
                    return Err(vocab_error(format!(
                        "added token {:?} has id {} in the config but {found:?} in the vocabulary",
                        t.content, t.id
                    )));
                }
            }
        }
        let lookup = |t: &str| {
            plain.token_to_id(t).ok_or_else(|| {
                vocab_error(format!(
                    "token {t:?} (needed as a special token) is not in the vocabulary"
                ))
            })
        };
        let (bos_id, eos_id, pad_id) = (
            lookup(START_OF_TEXT)?,
            lookup(END_OF_TEXT)?,
            lookup(&specials.pad)?,
        );
        let mut fixed = plain.clone();
        fixed
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: specials.max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| TextError::Engine(e.to_string()))?;
        fixed.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(specials.max_length),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: specials.pad.clone(),
        }));
        Ok(Self {
            fixed,
            plain,
            max_length: specials.max_length,
            pad_id,
            bos_id,
            eos_id,
        })
    }

    /// The `max_length` ids of `text`: bos, the tokens (truncated), eos, then the pad id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TextError> {
        let enc = self
            .fixed
            .encode_fast(text, true)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// [`encode`](Self::encode) for many prompts, in parallel; one row per prompt.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<Vec<u32>>, TextError> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let enc = self
            .fixed
            .encode_batch_fast(inputs, true)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        Ok(enc.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The ids of `text` without truncation or padding: bos, every token, eos (what
    /// transformers returns without `truncation=True`; torchmetrics' CLIPScore cuts these at 77).
    pub fn encode_untruncated(&self, text: &str) -> Result<Vec<u32>, TextError> {
        Ok(self
            .plain
            .encode_fast(text, true)
            .map_err(|e| TextError::Engine(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// Number of ids `text` has before truncation, bos and eos included (diffusers warns when it
    /// exceeds [`max_length`](Self::max_length)).
    pub fn token_count(&self, text: &str) -> Result<usize, TextError> {
        Ok(self.encode_untruncated(text)?.len())
    }

    /// Text of `ids` (special tokens skipped), as transformers' `decode(skip_special_tokens=True)`:
    /// byte-level decoding, then `</w>` → space and surrounding whitespace stripped
    /// (`CLIPTokenizer._wrap_decode_method_backend_tokenizer`).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TextError> {
        let text = self
            .plain
            .decode(ids, true)
            .map_err(|e| TextError::Engine(e.to_string()))?;
        Ok(text.replace("</w>", " ").trim().to_string())
    }

    /// The pipeline as a `tokenizer.json` (tokenizers' format, without padding and truncation,
    /// which `tokenizer_config.json` carries): what transformers saves with `save_pretrained`.
    pub fn to_tokenizer_json(&self) -> Result<String, TextError> {
        self.plain
            .to_string(false)
            .map_err(|e| TextError::Engine(e.to_string()))
    }

    /// Length of every row (`model_max_length`, 77 for CLIP).
    pub fn max_length(&self) -> usize {
        self.max_length
    }
    /// Id of the pad token.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }
    /// Id of `<|startoftext|>`.
    pub fn bos_id(&self) -> u32 {
        self.bos_id
    }
    /// Id of `<|endoftext|>` (the text encoders pool at its first position).
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }
    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.plain.get_vocab_size(true)
    }
}

impl Specials {
    fn for_pad(pad: ClipPad) -> Self {
        let special = |id, content: &str, normalized| AddedToken {
            id,
            content: content.into(),
            normalized,
            special: true,
            lstrip: false,
            rstrip: false,
            single_word: false,
        };
        let mut added = vec![
            special(49406, START_OF_TEXT, true),
            special(49407, END_OF_TEXT, true),
        ];
        let pad = match pad {
            ClipPad::EndOfText => END_OF_TEXT,
            ClipPad::Exclamation => {
                added.insert(0, special(0, "!", false));
                "!"
            }
        };
        Self {
            pad: pad.into(),
            max_length: CLIP_MAX_LENGTH,
            added,
        }
    }

    /// Reads `tokenizer_config.json` (then `special_tokens_map.json` for what it lacks).
    fn read(dir: &Path) -> Result<Self, TextError> {
        let config_path = dir.join("tokenizer_config.json");
        let config = read_json_object(&config_path)?;
        let map = read_json_object(&dir.join("special_tokens_map.json"))?;
        if let Some(class) = config.get("tokenizer_class") {
            let class = class.as_str().unwrap_or_default();
            if !matches!(class, "CLIPTokenizer" | "CLIPTokenizerFast") {
                return Err(TextError::json(
                    &config_path,
                    format!(
                        "tokenizer_class is {class:?}, expected \"CLIPTokenizer\" (a CLIP BPE tokenizer)"
                    ),
                ));
            }
        }
        let token = |key: &str| -> Result<Option<String>, TextError> {
            match config.get(key).or_else(|| map.get(key)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Object(o)) => match o.get("content") {
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    _ => Err(TextError::json(
                        &config_path,
                        format!("{key}: an object without a \"content\" string"),
                    )),
                },
                Some(_) => Err(TextError::json(
                    &config_path,
                    format!("{key}: expected a token string"),
                )),
            }
        };
        let pad = token("pad_token")?.unwrap_or_else(|| END_OF_TEXT.into());
        let max_length = match config.get("model_max_length") {
            None => CLIP_MAX_LENGTH,
            Some(v) => match v.as_u64() {
                Some(n @ 3..=100_000) => n as usize,
                _ => {
                    return Err(TextError::json(
                        &config_path,
                        format!(
                            "model_max_length is {v}, expected the text encoder's sequence length (77 for CLIP)"
                        ),
                    ));
                }
            },
        };
        let mut added = Vec::new();
        match config.get("added_tokens_decoder") {
            None => {}
            Some(Value::Object(decoder)) => {
                for (id, entry) in decoder {
                    added.push(
                        parse_added(id, entry).map_err(|m| TextError::json(&config_path, m))?,
                    );
                }
                added.sort_by_key(|t| t.id);
            }
            Some(_) => {
                return Err(TextError::json(
                    &config_path,
                    "added_tokens_decoder: expected an object",
                ));
            }
        }
        // transformers registers the configured special tokens as added special tokens.
        for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            if let Some(content) = token(key)?
                && !added.iter().any(|t| t.content == content)
            {
                added.push(AddedToken {
                    id: UNNUMBERED,
                    content,
                    normalized: false,
                    special: true,
                    lstrip: false,
                    rstrip: false,
                    single_word: false,
                });
            }
        }
        Ok(Self {
            pad,
            max_length,
            added,
        })
    }
}

fn parse_added(id: &str, entry: &Value) -> Result<AddedToken, String> {
    let id: u32 = id
        .parse()
        .map_err(|_| format!("added_tokens_decoder: key {id:?} is not a token id"))?;
    let content = entry
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("added_tokens_decoder.{id}: no \"content\" string"))?;
    let flag = |k: &str, default: bool| entry.get(k).and_then(Value::as_bool).unwrap_or(default);
    let special = flag("special", false);
    Ok(AddedToken {
        id,
        content: content.into(),
        normalized: flag("normalized", !special),
        special,
        lstrip: flag("lstrip", false),
        rstrip: flag("rstrip", false),
        single_word: flag("single_word", false),
    })
}

fn read(path: &Path) -> Result<String, TextError> {
    std::fs::read_to_string(path).map_err(|e| TextError::io(path, e))
}

/// The object in `path`, or an empty one when the file does not exist.
pub(crate) fn read_json_object(path: &Path) -> Result<Map<String, Value>, TextError> {
    if !path.exists() {
        return Ok(Map::new());
    }
    match serde_json::from_str(&read(path)?) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(TextError::json(path, "expected a JSON object")),
        Err(e) => Err(TextError::json(path, format!("not valid JSON: {e}"))),
    }
}

/// `merges.txt`: an optional `#version` line, then one `left right` pair per line.
fn parse_merges(text: &str, what: &str) -> Result<Vec<(String, String)>, TextError> {
    let mut merges = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if (i == 0 && line.starts_with("#version")) || line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                merges.push((a.into(), b.into()))
            }
            _ => {
                return Err(TextError::Vocabulary {
                    what: what.into(),
                    message: format!(
                        "line {}: expected two tokens separated by one space, got {line:?}",
                        i + 1
                    ),
                });
            }
        }
    }
    Ok(merges)
}

/// BPE merges in rank order: `(left, right)`.
pub type Merges = Vec<(String, String)>;

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100….
fn bytes_to_unicode() -> Vec<char> {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let kept = (0..256).filter(|&b| printable(b));
    let moved = (0..256u32)
        .filter(|&b| !printable(b))
        .enumerate()
        .map(|(i, _)| 256 + i as u32);
    kept.chain(moved)
        .map(|c| char::from_u32(c).unwrap_or('?'))
        .collect()
}

/// The OpenAI vocabulary (49,408 tokens in id order) and its 48,894 merges, derived from
/// [`OPENAI_BPE_GZ`] exactly as OpenAI's `SimpleTokenizer` and transformers' CLIP files do.
pub fn openai_vocabulary() -> Result<(Vec<String>, Merges), TextError> {
    use std::io::Read;
    let what = "the bundled bpe_simple_vocab_16e6.txt.gz";
    let mut text = String::new();
    flate2::read::GzDecoder::new(OPENAI_BPE_GZ)
        .read_to_string(&mut text)
        .map_err(|e| TextError::Vocabulary {
            what: what.into(),
            message: e.to_string(),
        })?;
    let lines: Vec<&str> = text.split('\n').collect();
    let n_merges = 49152 - 256 - 2;
    if lines.len() < n_merges + 1 {
        return Err(TextError::Vocabulary {
            what: what.into(),
            message: format!("only {} lines", lines.len()),
        });
    }
    let merges = parse_merges(&lines[1..=n_merges].join("\n"), what)?;
    let bytes = bytes_to_unicode();
    let mut vocab: Vec<String> = bytes.iter().map(|c| c.to_string()).collect();
    vocab.extend(bytes.iter().map(|c| format!("{c}</w>")));
    vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
    vocab.push(START_OF_TEXT.into());
    vocab.push(END_OF_TEXT.into());
    Ok((vocab, merges))
}

/// Writes a diffusers tokenizer folder (`vocab.json`, `merges.txt`, `tokenizer_config.json`,
/// `special_tokens_map.json`) for the bundled OpenAI vocabulary: SDXL's `tokenizer/` with
/// [`ClipPad::EndOfText`], `tokenizer_2/` with [`ClipPad::Exclamation`].
pub fn write_openai_folder(dir: impl AsRef<Path>, pad: ClipPad) -> Result<(), TextError> {
    let dir = dir.as_ref();
    let (vocab, merges) = openai_vocabulary()?;
    let specials = Specials::for_pad(pad);
    let vocab: Map<String, Value> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, json!(i)))
        .collect();
    let mut merges_txt = String::from("#version: 0.2\n");
    for (a, b) in &merges {
        merges_txt.push_str(&format!("{a} {b}\n"));
    }
    let added: Map<String, Value> = specials
        .added
        .iter()
        .map(|t| {
            (t.id.to_string(), json!({"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized,
                                       "rstrip": t.rstrip, "single_word": t.single_word, "special": t.special}))
        })
        .collect();
    let config = json!({
        "add_prefix_space": false, "added_tokens_decoder": added, "bos_token": START_OF_TEXT,
        "clean_up_tokenization_spaces": true, "do_lower_case": true, "eos_token": END_OF_TEXT, "errors": "replace",
        "model_max_length": CLIP_MAX_LENGTH, "pad_token": specials.pad, "tokenizer_class": "CLIPTokenizer",
        "unk_token": END_OF_TEXT});
    let map = json!({"bos_token": START_OF_TEXT, "eos_token": END_OF_TEXT, "pad_token": specials.pad,
                     "unk_token": END_OF_TEXT});
    std::fs::create_dir_all(dir).map_err(|e| TextError::io(dir, e))?;
    let write = |name: &str, text: String| {
        let path: PathBuf = dir.join(name);
        std::fs::write(&path, text).map_err(|e| TextError::io(path, e))
    };
    write("vocab.json", Value::Object(vocab).to_string())?;
    write("merges.txt", merges_txt)?;
    write("tokenizer_config.json", format!("{config:#}"))?;
    write("special_tokens_map.json", format!("{map:#}"))
}
