//! Writing PyTorch checkpoints: a state dict as `torch.save(model.state_dict(), path)` stores it
//! (the zip format of torch ≥ 1.6), so that official training and test scripts `torch.load` what
//! ultrares trained.
//!
//! The archive holds `archive/data.pkl` (a protocol-2 pickle of a `collections.OrderedDict` of
//! name → `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`,
//! each storage a persistent id `("storage", torch.<Dtype>Storage, "<i>", "cpu", numel)`),
//! `archive/data/<i>` (each tensor's little-endian bytes, 64-byte aligned as torch aligns them),
//! `archive/byteorder` (`little`) and `archive/version` (`3`). Only globals on
//! `torch.load(weights_only=True)`'s allow-list are used.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use burn::tensor::{DType, TensorData};
use zip::write::SimpleFileOptions;

use crate::{Error, Result};

/// Pickle opcodes (protocol 2).
mod op {
    pub const PROTO: u8 = 0x80;
    pub const GLOBAL: u8 = b'c';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const REDUCE: u8 = b'R';
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const SETITEMS: u8 = b'u';
    pub const BINUNICODE: u8 = b'X';
    pub const BININT: u8 = b'J';
    pub const LONG1: u8 = 0x8a;
    pub const BINPERSID: u8 = b'Q';
    pub const NEWFALSE: u8 = 0x89;
    pub const STOP: u8 = b'.';
}

/// A protocol-2 pickle under construction.
#[derive(Default)]
struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, op: u8) {
        self.0.push(op);
    }

    fn global(&mut self, module: &str, name: &str) {
        self.op(op::GLOBAL);
        self.0
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    }

    fn str(&mut self, s: &str) {
        self.op(op::BINUNICODE);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: usize) {
        match i32::try_from(v) {
            Ok(v) => {
                self.op(op::BININT);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Err(_) => {
                self.op(op::LONG1);
                self.0.push(8);
                self.0.extend_from_slice(&(v as i64).to_le_bytes());
            }
        }
    }

    fn tuple_of(&mut self, values: &[usize]) {
        if values.is_empty() {
            self.op(op::EMPTY_TUPLE);
            return;
        }
        self.op(op::MARK);
        for &v in values {
            self.int(v);
        }
        self.op(op::TUPLE);
    }

    fn ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.op(op::EMPTY_TUPLE);
        self.op(op::REDUCE);
    }
}

/// torch's storage class of a dtype.
fn storage_class(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::F64 => "DoubleStorage",
        DType::F32 | DType::Flex32 => "FloatStorage",
        DType::F16 => "HalfStorage",
        DType::BF16 => "BFloat16Storage",
        DType::I64 => "LongStorage",
        DType::I32 => "IntStorage",
        DType::I16 => "ShortStorage",
        DType::I8 => "CharStorage",
        DType::U8 => "ByteStorage",
        _ => return None,
    })
}

/// Writes `tensors` to `path` as `torch.save` writes a state dict (see the module docs), in
/// their own dtypes and in key order, through a temporary file renamed into place (a reader never
/// sees half a checkpoint).
///
/// # Errors
/// [`Error::Weights`] for a dtype torch has no storage for, or a file that cannot be written.
pub fn write_pth(path: &Path, tensors: &BTreeMap<String, TensorData>) -> Result<()> {
    let source = path.display().to_string();
    let err = |m: String| Error::weights(&source, m);
    let mut pkl = Pickle::default();
    pkl.op(op::PROTO);
    pkl.0.push(2);
    pkl.ordered_dict();
    pkl.op(op::MARK);
    for (i, (name, data)) in tensors.iter().enumerate() {
        let class = storage_class(data.dtype).ok_or_else(|| {
            err(format!(
                "tensor {name}: dtype {:?} has no torch storage",
                data.dtype
            ))
        })?;
        let shape: &[usize] = &data.shape;
        let numel = shape.iter().product::<usize>();
        let mut stride = vec![1; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * shape[d + 1];
        }
        pkl.str(name);
        pkl.global("torch._utils", "_rebuild_tensor_v2");
        pkl.op(op::MARK);
        pkl.op(op::MARK);
        pkl.str("storage");
        pkl.global("torch", class);
        pkl.str(&i.to_string());
        pkl.str("cpu");
        pkl.int(numel);
        pkl.op(op::TUPLE);
        pkl.op(op::BINPERSID);
        pkl.int(0);
        pkl.tuple_of(shape);
        pkl.tuple_of(&stride);
        pkl.op(op::NEWFALSE);
        pkl.ordered_dict();
        pkl.op(op::TUPLE);
        pkl.op(op::REDUCE);
    }
    pkl.op(op::SETITEMS);
    pkl.op(op::STOP);

    let io = |e: std::io::Error| err(format!("writing: {e}"));
    let zerr = |e: zip::result::ZipError| err(format!("writing: {e}"));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(
            tensors
                .values()
                .any(|d| d.as_bytes().len() >= u32::MAX as usize),
        );
    let mut put = |name: &str, bytes: &[u8], align: u16| -> Result<()> {
        zip.start_file(format!("archive/{name}"), opts.with_alignment(align))
            .map_err(zerr)?;
        zip.write_all(bytes).map_err(io)
    };
    put("data.pkl", &pkl.0, 1)?;
    put("byteorder", b"little", 1)?;
    for (i, data) in tensors.values().enumerate() {
        put(&format!("data/{i}"), data.as_bytes(), 64)?;
    }
    put("version", b"3\n", 1)?;
    zip.finish().map_err(zerr)?.flush().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
