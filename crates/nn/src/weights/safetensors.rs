//! The safetensors format read by hand: the 8-byte header length, the JSON header (names,
//! dtypes, shapes, byte ranges, `__metadata__`), then each tensor's bytes with one positional
//! read. Nothing but the header is read until a tensor is asked for, so listing a file costs its
//! header and loading a model costs one tensor's bytes at a time.
//!
//! Validation (as the `safetensors` crate's `SafeTensors::deserialize`, and fuzzed): header length
//! within the file and ≤ 100 MB, UTF-8 JSON object, every entry with a known dtype, a shape whose
//! element count does not overflow, byte ranges inside the data section and exactly
//! `elements × dtype size` long.
//!
//! Why positional reads and not a memory map: the tensors must be copied into Burn's owned
//! `TensorData` either way, and a mapping's touched pages count in the resident set until the
//! kernel evicts them, so a mapped 5 GB file looks like 5 GB of extra RSS while it loads. A read
//! per tensor keeps the peak at the model plus one tensor, needs no `unsafe`, and is as fast on
//! the page cache.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

/// Largest header accepted, as the `safetensors` crate (`MAX_HEADER_SIZE`).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One tensor of a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEntry {
    /// The dtype as safetensors spells it (`"F16"`, `"BF16"`, `"F32"`, `"I64"`, …).
    pub dtype: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// Absolute byte range in the file.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The parsed header of a safetensors file.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Tensors by name.
    pub tensors: BTreeMap<String, HeaderEntry>,
    /// The `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// Bits per element of a safetensors dtype, `None` for an unknown one.
pub fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Reads and validates the header of the safetensors file at `path`.
///
/// # Errors
/// [`Error::Weights`] naming the file and what is wrong (see the module docs).
pub fn read_header(path: &Path) -> Result<Header> {
    let source = path.display().to_string();
    let err = |m: String| Error::weights(&source, m);
    let mut file = File::open(path).map_err(|e| err(e.to_string()))?;
    let file_len = file.metadata().map_err(|e| err(e.to_string()))?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|_| {
        err(format!(
            "not a safetensors file: {file_len} bytes, shorter than its 8-byte header length"
        ))
    })?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES || n > file_len - 8 {
        return Err(err(format!(
            "not a safetensors file or truncated: header length {n} bytes, file {file_len} bytes (at most {MAX_HEADER_BYTES})"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|e| err(format!("reading the header: {e}")))?;
    parse_header(&header, file_len - 8 - n, 8 + n).map_err(err)
}

/// Parses and validates a whole safetensors file held in memory (what [`read_header`] checks on
/// a file, for callers that have the bytes, and for fuzzing).
///
/// # Errors
/// A message saying what is wrong.
pub fn parse(bytes: &[u8]) -> std::result::Result<Header, String> {
    let len = bytes.len() as u64;
    let Some(n) = bytes.get(..8) else {
        return Err(format!(
            "not a safetensors file: {len} bytes, shorter than its 8-byte header length"
        ));
    };
    let mut raw = [0u8; 8];
    raw.copy_from_slice(n);
    let n = u64::from_le_bytes(raw);
    if n > MAX_HEADER_BYTES || n > len - 8 {
        return Err(format!(
            "not a safetensors file or truncated: header length {n} bytes, file {len} bytes (at most {MAX_HEADER_BYTES})"
        ));
    }
    let header = &bytes[8..8 + n as usize];
    parse_header(header, len - 8 - n, 8 + n)
}

/// Parses a header of `header` bytes whose data section of `data_len` bytes starts at file offset
/// `data_start`.
fn parse_header(
    header: &[u8],
    data_len: u64,
    data_start: u64,
) -> std::result::Result<Header, String> {
    let text = std::str::from_utf8(header).map_err(|e| format!("header is not UTF-8: {e}"))?;
    let value: Value = serde_json::from_str(text.trim_end_matches(' '))
        .map_err(|e| format!("header is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("header is not a JSON object".into());
    };
    let mut out = Header::default();
    for (name, v) in map {
        if name == "__metadata__" {
            let Value::Object(meta) = v else {
                return Err("__metadata__ is not an object of strings".into());
            };
            for (k, v) in meta {
                let Value::String(s) = v else {
                    return Err(format!("__metadata__.{k} is not a string"));
                };
                out.metadata.insert(k, s);
            }
            continue;
        }
        let bad = |what: &str| format!("tensor {name}: {what}");
        let dtype = v
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no dtype string"))?
            .to_string();
        let bits = dtype_bits(&dtype).ok_or_else(|| bad(&format!("unknown dtype {dtype:?}")))?;
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no shape list"))?
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("shape is not a list of non-negative integers"))?;
        let offsets: Vec<u64> = v
            .get("data_offsets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let [begin, end] = offsets[..] else {
            return Err(bad("data_offsets is not two non-negative integers"));
        };
        let elements = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| bad("element count overflows"))?;
        let bytes = elements
            .checked_mul(bits)
            .map(|b| b.div_ceil(8))
            .ok_or_else(|| bad("byte size overflows"))?;
        if begin > end || end > data_len {
            return Err(bad(&format!(
                "byte range {begin}..{end} outside the data section of {data_len} bytes (truncated file?)"
            )));
        }
        if end - begin != bytes {
            return Err(bad(&format!(
                "{} bytes for a {dtype} tensor of shape {shape:?}, expected {bytes}",
                end - begin
            )));
        }
        out.tensors.insert(
            name,
            HeaderEntry {
                dtype,
                shape,
                start: data_start + begin,
                end: data_start + end,
            },
        );
    }
    Ok(out)
}

/// Writes `tensors` (any float dtype, stored as F32) to a safetensors file at `path`, through a
/// temporary file renamed into place so a reader never sees half a file (checkpoints).
///
/// # Errors
/// [`Error::Weights`] naming the file for unconvertible data or I/O failures.
pub fn write_f32(path: &Path, tensors: &BTreeMap<String, burn::tensor::TensorData>) -> Result<()> {
    let fail = |m: String| Error::weights(path.display().to_string(), m);
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        let values = data
            .clone()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| fail(format!("{name}: {e:?}")))?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name, data.shape.to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            ::safetensors::tensor::TensorView::new(::safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.to_string(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let tmp = path.with_extension("safetensors.tmp");
    ::safetensors::serialize_to_file(views, None, &tmp).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> std::result::Result<Header, String> {
        parse_header(json.as_bytes(), 16, 8)
    }

    #[test]
    fn rejects_malformed_headers() {
        let cases = [
            ("[]", "not a JSON object"),
            ("{", "not JSON"),
            (
                r#"{"a": {"dtype": "X", "shape": [2], "data_offsets": [0, 8]}}"#,
                "unknown dtype",
            ),
            (
                r#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
                "expected 12",
            ),
            (
                r#"{"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}"#,
                "outside",
            ),
            (
                r#"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
                "non-negative",
            ),
            (
                r#"{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}}"#,
                "overflows",
            ),
            (r#"{"a": {"dtype": "F32", "shape": [1]}}"#, "data_offsets"),
            (r#"{"__metadata__": {"k": 1}}"#, "not a string"),
        ];
        for (json, want) in cases {
            let e = header(json).expect_err(json);
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn accepts_a_valid_header() {
        let h = header(
            r#"{"__metadata__": {"format": "pt"}, "a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}, "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}"#,
        )
        .expect("valid");
        assert_eq!(h.metadata["format"], "pt");
        assert_eq!(h.tensors["a"].shape, vec![2, 2]);
        assert_eq!((h.tensors["b"].start, h.tensors["b"].end), (16, 24));
    }
}
