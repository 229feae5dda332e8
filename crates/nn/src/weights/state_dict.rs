//! [`StateDict`]: a checkpoint's tensors by upstream name, read lazily.
//!
//! Accepted inputs ([`StateDict::read`]):
//! * a `.safetensors` file: only the header is read; each tensor's bytes are read when a model
//!   asks for it ([`super::safetensors`]);
//! * a sharded checkpoint's `*.safetensors.index.json` (`weight_map`: name → shard file), every
//!   shard read lazily as above ([`super::sharded`]);
//! * a PyTorch `.pth`/`.pt`/`.ckpt`/`.bin` through burn-store's pickle reader, tensors kept in
//!   their stored dtype ([`super::pickle`]); LIIF's and LSRNA's official `{'model': {'name',
//!   'args', 'sd'}}` layout gives its tensors from `model.sd` and its spec from `model.name` /
//!   `model.args`;
//! * a safetensors file carrying a model spec as metadata `name` and `args` (JSON), as
//!   `tools/golden/gen_lsr.py` writes the bundled LIIF weights.
//!
//! Tensors keep their stored dtype; [`super::Loader`] converts each one to its parameter's dtype
//! as it moves it into a module, so f16 weights stay f16 in a half-precision model and peak
//! host memory while loading is the model plus one tensor.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use burn::tensor::{DType, TensorData};
use serde_json::Value;

use crate::{Error, Result};

/// A tensor's dtype and shape, known without reading its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The stored dtype, `None` for a safetensors dtype Burn has no type for (F8, F4, …).
    pub dtype: Option<DType>,
    /// The stored dtype as safetensors spells it (`"F16"`).
    pub dtype_name: String,
    /// The shape.
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone)]
enum Storage {
    /// Bytes `start..end` of a file, read on demand.
    File {
        file: Arc<File>,
        path: Arc<str>,
        start: u64,
        end: u64,
    },
    /// Data in memory.
    Owned(Arc<TensorData>),
    /// Bytes `start..end` of a safetensors file compiled into the program.
    Static(&'static [u8]),
    /// Byte ranges of another storage, concatenated ([`StateDict::select_rows`]).
    Rows {
        base: Box<Storage>,
        ranges: Vec<(u64, u64)>,
    },
}

impl Storage {
    /// Bytes `start..end` of this storage (relative to its first byte; not of a
    /// [`Storage::Rows`]).
    fn read_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        let slice = |b: &[u8]| {
            b.get(start as usize..end as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::weights(key, "row range outside the tensor"))
        };
        match self {
            Storage::File {
                file,
                path,
                start: s0,
                ..
            } => {
                let len = usize::try_from(end - start).map_err(|_| {
                    Error::weights(path.to_string(), format!("tensor {key}: too large"))
                })?;
                let mut bytes = vec![0u8; len];
                read_exact_at(file, &mut bytes, s0 + start).map_err(|e| {
                    Error::weights(path.to_string(), format!("reading tensor {key}: {e}"))
                })?;
                Ok(bytes)
            }
            Storage::Owned(data) => slice(data.as_bytes()),
            Storage::Static(bytes) => slice(bytes),
            Storage::Rows { .. } => Err(Error::weights(key, "rows of rows are not supported")),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    info: TensorInfo,
    storage: Storage,
}

/// Named tensors of a checkpoint, plus the model spec (`{"name", "args"}`) when the file has one.
#[derive(Debug, Clone)]
pub struct StateDict {
    source: String,
    entries: BTreeMap<String, Entry>,
    spec: Option<Value>,
}

/// The safetensors spelling of a Burn dtype.
pub fn dtype_name(dtype: DType) -> String {
    match dtype {
        DType::F64 => "F64",
        DType::F32 | DType::Flex32 => "F32",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        DType::I64 => "I64",
        DType::I32 => "I32",
        DType::I16 => "I16",
        DType::I8 => "I8",
        DType::U64 => "U64",
        DType::U32 => "U32",
        DType::U16 => "U16",
        DType::U8 => "U8",
        DType::Bool(_) => "BOOL",
        other => return format!("{other:?}"),
    }
    .to_string()
}

/// The Burn dtype of a safetensors dtype name.
pub fn dtype_of(name: &str) -> Option<DType> {
    Some(match name {
        "F64" => DType::F64,
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "I64" => DType::I64,
        "I32" => DType::I32,
        "I16" => DType::I16,
        "I8" => DType::I8,
        "U64" => DType::U64,
        "U32" => DType::U32,
        "U16" => DType::U16,
        "U8" => DType::U8,
        "BOOL" => DType::Bool(burn::tensor::BoolStore::Native),
        _ => return None,
    })
}

impl StateDict {
    /// Reads a checkpoint (see the module docs): `.safetensors`, `*.safetensors.index.json`, or a
    /// `.pth`/`.pt`/`.ckpt`/`.bin` pickle.
    ///
    /// # Errors
    /// [`Error::Weights`] if the file is missing, unreadable, corrupt or of another format.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let source = path.display().to_string();
        if !path.is_file() {
            return Err(Error::weights(source, "no such file"));
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".index.json") {
            return super::sharded::read_index(path);
        }
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "safetensors" => Self::read_safetensors(path),
            "pth" | "pt" | "ckpt" | "bin" => super::pickle::read_pickle(path, source),
            other => Err(Error::weights(
                source,
                format!(
                    "expected a .pth/.pt/.ckpt/.bin, .safetensors or .safetensors.index.json file, got extension {other:?}"
                ),
            )),
        }
    }

    /// Reads a single safetensors file lazily (only its header now).
    ///
    /// # Errors
    /// As [`StateDict::read`].
    pub fn read_safetensors(path: &Path) -> Result<Self> {
        let source = path.display().to_string();
        let header = super::safetensors::read_header(path)?;
        let file = Arc::new(File::open(path).map_err(|e| Error::weights(&source, e.to_string()))?);
        let path_str: Arc<str> = Arc::from(source.as_str());
        Ok(Self::from_header(source, header, |start, end| {
            Storage::File {
                file: file.clone(),
                path: path_str.clone(),
                start,
                end,
            }
        }))
    }

    /// A safetensors file held in the program (`include_bytes!`), validated as
    /// [`StateDict::read_safetensors`] validates a file; tensors are copied out when asked for.
    /// `source` names it in error messages.
    ///
    /// # Errors
    /// [`Error::Weights`] if the bytes are not a valid safetensors file.
    pub fn from_static_safetensors(
        source: impl Into<String>,
        bytes: &'static [u8],
    ) -> Result<Self> {
        let source = source.into();
        let header = super::safetensors::parse(bytes).map_err(|m| Error::weights(&source, m))?;
        Ok(Self::from_header(source, header, |start, end| {
            Storage::Static(&bytes[start as usize..end as usize])
        }))
    }

    fn from_header(
        source: String,
        header: super::safetensors::Header,
        mut storage: impl FnMut(u64, u64) -> Storage,
    ) -> Self {
        let entries = header
            .tensors
            .into_iter()
            .map(|(name, e)| {
                let info = TensorInfo {
                    dtype: dtype_of(&e.dtype),
                    dtype_name: e.dtype,
                    shape: e.shape,
                };
                let storage = storage(e.start, e.end);
                (name, Entry { info, storage })
            })
            .collect();
        let meta = &header.metadata;
        let spec = meta
            .get("name")
            .zip(meta.get("args"))
            .and_then(|(name, args)| {
                let args: Value = serde_json::from_str(args).ok()?;
                Some(serde_json::json!({ "name": name, "args": args }))
            });
        Self {
            source,
            entries,
            spec,
        }
    }

    /// A state dict from tensors already in memory (`source` names it in error messages).
    pub fn from_tensors(
        source: impl Into<String>,
        tensors: impl IntoIterator<Item = (String, TensorData)>,
    ) -> Self {
        let entries = tensors
            .into_iter()
            .map(|(name, data)| {
                let info = TensorInfo {
                    dtype: Some(data.dtype),
                    dtype_name: dtype_name(data.dtype),
                    shape: data.shape.to_vec(),
                };
                let storage = Storage::Owned(Arc::new(data));
                (name, Entry { info, storage })
            })
            .collect();
        Self {
            source: source.into(),
            entries,
            spec: None,
        }
    }

    /// Merges `other`'s tensors into this one (used for shards).
    ///
    /// # Errors
    /// [`Error::Weights`] if a name appears in both.
    pub(crate) fn merge(&mut self, other: StateDict) -> Result<()> {
        for (name, entry) in other.entries {
            if self.entries.contains_key(&name) {
                return Err(self.error(format!("tensor {name} appears in two shards")));
            }
            self.entries.insert(name, entry);
        }
        Ok(())
    }

    /// Renames the state dict's source (shown in error messages).
    pub(crate) fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The same tensors with a model spec `{"name": …, "args": {…}}` attached.
    pub fn with_spec(mut self, spec: Value) -> Self {
        self.spec = Some(spec);
        self
    }

    /// The model spec (`{"name", "args"}`) stored with the weights, if any.
    pub fn spec(&self) -> Option<&Value> {
        self.spec.as_ref()
    }

    /// Where the tensors came from (a path, or the name given to [`StateDict::from_tensors`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The tensor names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether a tensor is called `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Dtype and shape of the tensor `key`, without reading it.
    pub fn info(&self, key: &str) -> Option<&TensorInfo> {
        self.entries.get(key).map(|e| &e.info)
    }

    /// Reads the tensor `key` in its stored dtype (`None` if there is none).
    ///
    /// # Errors
    /// [`Error::Weights`] if the file cannot be read or the dtype has no Burn type.
    pub fn data(&self, key: &str) -> Option<Result<TensorData>> {
        let entry = self.entries.get(key)?;
        Some(self.read_entry(key, entry))
    }

    fn read_entry(&self, key: &str, entry: &Entry) -> Result<TensorData> {
        let info = &entry.info;
        let Some(dtype) = info.dtype else {
            return Err(self.error(format!(
                "tensor {key}: dtype {} is not supported",
                info.dtype_name
            )));
        };
        match &entry.storage {
            Storage::Owned(data) => {
                let data = TensorData::clone(data);
                Ok(if data.shape.as_slice() == info.shape.as_slice() {
                    data
                } else {
                    TensorData::from_bytes_vec(
                        data.into_bytes().to_vec(),
                        info.shape.clone(),
                        dtype,
                    )
                })
            }
            Storage::File { start, end, .. } => Ok(TensorData::from_bytes_vec(
                entry.storage.read_range(key, 0, end - start)?,
                info.shape.clone(),
                dtype,
            )),
            Storage::Static(bytes) => Ok(TensorData::from_bytes_vec(
                bytes.to_vec(),
                info.shape.clone(),
                dtype,
            )),
            Storage::Rows { base, ranges } => {
                let mut bytes = Vec::new();
                for &(start, end) in ranges {
                    bytes.extend(base.read_range(key, start, end)?);
                }
                Ok(TensorData::from_bytes_vec(bytes, info.shape.clone(), dtype))
            }
        }
    }

    /// Adds the tensor `to` made of the rows `rows` of `from` (ranges along dimension 0,
    /// concatenated in the given order), without reading any data: the lazy `torch.chunk` /
    /// `torch.cat` of checkpoint converters (a fused `qkv` split into `q`, `k`, `v`; a
    /// `[shift, scale]` modulation swapped to `[scale, shift]`). `from` stays until
    /// [`remove`](Self::remove)d.
    ///
    /// # Errors
    /// [`Error::Weights`] if `from` is missing, is a scalar, has an unsupported dtype, is
    /// itself a selection, or a range is empty or beyond its rows.
    pub fn select_rows(
        &mut self,
        from: &str,
        to: impl Into<String>,
        rows: &[std::ops::Range<usize>],
    ) -> Result<()> {
        let entry = self
            .entries
            .get(from)
            .ok_or_else(|| self.error(format!("no tensor {from} to take rows of")))?;
        let (Some(dtype), Some(&n)) = (entry.info.dtype, entry.info.shape.first()) else {
            return Err(self.error(format!("tensor {from}: no rows to take")));
        };
        if matches!(entry.storage, Storage::Rows { .. }) {
            return Err(self.error(format!("tensor {from}: already a row selection")));
        }
        let row_bytes = (entry.info.shape[1..].iter().product::<usize>() * dtype.size()) as u64;
        let mut ranges = Vec::with_capacity(rows.len());
        let mut count = 0;
        for r in rows {
            if r.start >= r.end || r.end > n {
                return Err(self.error(format!("tensor {from}: rows {r:?} outside 0..{n}")));
            }
            ranges.push((r.start as u64 * row_bytes, r.end as u64 * row_bytes));
            count += r.end - r.start;
        }
        let mut info = entry.info.clone();
        info.shape[0] = count;
        let storage = Storage::Rows {
            base: Box::new(entry.storage.clone()),
            ranges,
        };
        self.entries.insert(to.into(), Entry { info, storage });
        Ok(())
    }

    /// Removes the tensor `key`; whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An [`Error::Weights`] naming this state dict's source.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::weights(self.source.clone(), message)
    }

    /// The tensors renamed by `rename` (`None` drops a tensor), without reading them.
    ///
    /// # Errors
    /// [`Error::Weights`] if two tensors get the same name.
    pub fn renamed(&self, mut rename: impl FnMut(&str) -> Option<String>) -> Result<Self> {
        let mut entries = BTreeMap::new();
        for (name, entry) in &self.entries {
            let Some(new) = rename(name) else { continue };
            if entries.insert(new.clone(), entry.clone()).is_some() {
                return Err(self.error(format!("two tensors map to {new}")));
            }
        }
        Ok(Self {
            source: self.source.clone(),
            entries,
            spec: self.spec.clone(),
        })
    }

    /// Gives the tensor `key` another shape with the same number of elements (e.g. a 1×1
    /// convolution's `[O, I, 1, 1]` as a linear layer's `[O, I]`), without reading it.
    ///
    /// # Errors
    /// [`Error::Weights`] if there is no such tensor or the element counts differ.
    pub fn reshape(&mut self, key: &str, shape: Vec<usize>) -> Result<()> {
        let count = |s: &[usize]| s.iter().product::<usize>();
        let source = self.source.clone();
        let entry = self
            .entries
            .get_mut(key)
            .ok_or_else(|| Error::weights(&source, format!("no tensor {key} to reshape")))?;
        if count(&entry.info.shape) != count(&shape) {
            return Err(Error::weights(
                source,
                format!(
                    "tensor {key}: cannot reshape {:?} to {shape:?}",
                    entry.info.shape
                ),
            ));
        }
        entry.info.shape = shape;
        Ok(())
    }

    /// Replaces the 2-D tensor `key` by its transpose (read now, kept in memory): a projection
    /// stored as `x @ W` (OpenCLIP's `text_projection`, `[in, out]`) for a linear layer's
    /// `[out, in]`.
    ///
    /// # Errors
    /// [`Error::Weights`] if there is no such tensor, it is not 2-D, or it cannot be read.
    pub fn transpose(&mut self, key: &str) -> Result<()> {
        let data = self
            .data(key)
            .ok_or_else(|| self.error(format!("no tensor {key} to transpose")))??;
        let &[rows, cols] = data.shape.as_slice() else {
            return Err(self.error(format!(
                "tensor {key}: cannot transpose shape {:?} (not 2-D)",
                data.shape
            )));
        };
        let size = data.dtype.size();
        let bytes = data.as_bytes();
        let mut out = vec![0u8; bytes.len()];
        for r in 0..rows {
            for c in 0..cols {
                let (src, dst) = ((r * cols + c) * size, (c * rows + r) * size);
                out[dst..dst + size].copy_from_slice(&bytes[src..src + size]);
            }
        }
        let data = TensorData::from_bytes_vec(out, vec![cols, rows], data.dtype);
        let info = TensorInfo {
            dtype: Some(data.dtype),
            dtype_name: dtype_name(data.dtype),
            shape: vec![cols, rows],
        };
        let storage = Storage::Owned(Arc::new(data));
        self.entries
            .insert(key.to_string(), Entry { info, storage });
        Ok(())
    }

    /// Total bytes of the stored tensors.
    pub fn bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.storage {
                Storage::File { start, end, .. } => end - start,
                Storage::Owned(d) => d.as_bytes().len() as u64,
                Storage::Static(b) => b.len() as u64,
                Storage::Rows { ranges, .. } => ranges.iter().map(|(s, e)| e - s).sum(),
            })
            .sum()
    }
}

/// Fills `buf` from `file` at byte `offset` (a positional read: no shared cursor).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut done, mut offset) = (0, offset);
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
            offset += n as u64;
        }
        Ok(())
    }
}
