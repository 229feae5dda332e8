//! `ultrares dwt` / `ultrares idwt`: PyWavelets-equal 2-D transforms of `.npy` arrays.
//!
//! Arrays of rank 2 (H, W), 3 (C, H, W) or 4 (N, C, H, W), f32 or f64, are transformed over
//! their last two axes in f64 on the CPU; outputs keep the input's rank and dtype. The `.npz`
//! keys are `a` (coarsest approximation) and `h1`, `v1`, `d1`, … (`cH`, `cV`, `cD`; level 1
//! is the finest), so `pywt.wavedec2(x, w, mode, level)` is
//! `[a, (hJ, vJ, dJ), …, (h1, v1, d1)]`.
//!
//! `dwt` also records how the arrays were made, so `idwt` cannot silently invert them with
//! another wavelet: `wavelet` and `mode` (their names as uint8 bytes; in NumPy
//! `bytes(z["wavelet"]).decode()`), `level` (int64 scalar) and `shape` (int64, the input's
//! shape). `idwt` uses them by default, refuses a contradicting `--wavelet`/`--mode`, and crops
//! the reconstruction to the recorded shape (`pywt.waverec2` returns one more row or column for
//! odd sizes). An `.npz` without them (written by PyWavelets users) needs `--wavelet` and `--mode`.

use std::fs::File;
use std::path::Path;

use burn::backend::NdArray;
use burn::tensor::{DType, Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzWriter, ReadNpyExt};
use ultrares::wavelet::{Decomposition2, Details2, Mode, Wavelet, wavedec2, waverec2};

use crate::CliError;
use crate::output::Output;

type Cpu = NdArray<f64>;

/// An array read from disk: its values as f64, its original shape and whether it was f32.
struct Array {
    data: ArrayD<f64>,
    f32: bool,
}

fn read_npy(path: &Path) -> Result<Array, String> {
    let bytes = crate::npy::read(path)?;
    if let Ok(data) = ArrayD::<f64>::read_npy(bytes.as_slice()) {
        return Ok(Array { data, f32: false });
    }
    ArrayD::<f32>::read_npy(bytes.as_slice())
        .map(|a| Array {
            data: a.mapv(f64::from),
            f32: true,
        })
        .map_err(|e| {
            format!(
                "{}: expected a float32 or float64 .npy array ({e})",
                path.display()
            )
        })
}

fn to_tensor(a: &ArrayD<f64>) -> Result<(Tensor<Cpu, 4>, Vec<usize>), String> {
    let shape = a.shape().to_vec();
    let dims4 = match shape.as_slice() {
        [h, w] => [1, 1, *h, *w],
        [c, h, w] => [1, *c, *h, *w],
        [n, c, h, w] => [*n, *c, *h, *w],
        other => {
            return Err(format!(
                "expected an array of rank 2, 3 or 4, got shape {other:?}"
            ));
        }
    };
    let data = TensorData::new(a.iter().copied().collect::<Vec<f64>>(), dims4);
    Ok((
        Tensor::from_data(data, (&Default::default(), DType::F64)),
        shape,
    ))
}

fn from_tensor(t: Tensor<Cpu, 4>, rank: usize) -> Result<ArrayD<f64>, String> {
    let [n, c, h, w] = t.dims();
    let shape: Vec<usize> = match rank {
        2 => vec![h, w],
        3 => vec![n * c, h, w],
        _ => vec![n, c, h, w],
    };
    let v = t
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .map_err(|e| format!("{e:?}"))?;
    ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(|e| e.to_string())
}

fn parse(wavelet: &str, mode: &str) -> Result<(Wavelet, Mode), String> {
    let err = |e: ultrares::wavelet::Error| e.to_string();
    Ok((wavelet.parse().map_err(err)?, mode.parse().map_err(err)?))
}

/// The `.npz` keys `dwt` records its parameters under.
const META: [&str; 4] = ["wavelet", "mode", "level", "shape"];

fn read_text(npz: &mut crate::npy::Npz, key: &str) -> Result<String, String> {
    let bytes = npz.bytes(key)?;
    let a = ndarray::Array1::<u8>::read_npy(bytes.as_slice())
        .map_err(|e| format!("array {key:?} is not the uint8 name dwt writes ({e})"))?;
    String::from_utf8(a.to_vec()).map_err(|e| format!("array {key:?}: {e}"))
}

fn read_ints(npz: &mut crate::npy::Npz, key: &str) -> Result<Vec<usize>, String> {
    let bytes = npz.bytes(key)?;
    let a = ArrayD::<i64>::read_npy(bytes.as_slice())
        .map_err(|e| format!("array {key:?} is not the int64 array dwt writes ({e})"))?;
    a.iter()
        .map(|&v| usize::try_from(v).map_err(|_| format!("array {key:?} holds {v}")))
        .collect()
}

/// What `dwt` recorded: wavelet, mode, levels, input shape.
struct Recorded {
    wavelet: Wavelet,
    mode: Mode,
    level: usize,
    shape: Vec<usize>,
}

fn recorded(npz: &mut crate::npy::Npz) -> Result<Option<Recorded>, String> {
    let names = npz.names();
    let has = |k: &str| names.iter().any(|n| n == k || *n == format!("{k}.npy"));
    if !META.iter().any(|k| has(k)) {
        return Ok(None);
    }
    let (wavelet, mode) = parse(&read_text(npz, "wavelet")?, &read_text(npz, "mode")?)?;
    let level = match read_ints(npz, "level")?.as_slice() {
        [l] => *l,
        other => {
            return Err(format!(
                "array \"level\" holds {other:?}, expected one value"
            ));
        }
    };
    Ok(Some(Recorded {
        wavelet,
        mode,
        level,
        shape: read_ints(npz, "shape")?,
    }))
}

/// `ultrares dwt`.
pub fn dwt(
    input: &Path,
    output: &Path,
    wavelet: &str,
    mode: &str,
    level: usize,
) -> Result<String, CliError> {
    let (w, mode) = parse(wavelet, mode)?;
    let out = Output::new(output, "output", &["npz"])?;
    let x = read_npy(input)?;
    let (t, shape) = to_tensor(&x.data)?;
    let dec = wavedec2(t, &w, mode, level).map_err(|e| e.to_string())?;
    let file = File::create(out.tmp()).map_err(|e| format!("writing {}: {e}", output.display()))?;
    let mut npz = NpzWriter::new(file);
    let failed = |e: ndarray_npy::WriteNpzError| {
        CliError::Failure(format!("writing {}: {e}", output.display()))
    };
    npz.add_array(
        "wavelet",
        &ndarray::Array1::from(w.name().as_bytes().to_vec()),
    )
    .map_err(failed)?;
    npz.add_array(
        "mode",
        &ndarray::Array1::from(mode.name().as_bytes().to_vec()),
    )
    .map_err(failed)?;
    npz.add_array("level", &ndarray::arr0(level as i64))
        .map_err(failed)?;
    npz.add_array(
        "shape",
        &ndarray::Array1::from(shape.iter().map(|&d| d as i64).collect::<Vec<_>>()),
    )
    .map_err(failed)?;
    let mut keys = Vec::new();
    let mut put = |key: String, t: Tensor<Cpu, 4>| -> Result<(), CliError> {
        let a = from_tensor(t, shape.len())?;
        keys.push(serde_json::json!({"key": key, "shape": a.shape()}));
        let r = if x.f32 {
            npz.add_array(key, &a.mapv(|v| v as f32))
        } else {
            npz.add_array(key, &a)
        };
        r.map_err(|e| CliError::Failure(format!("writing {}: {e}", output.display())))
    };
    put("a".into(), dec.a)?;
    for (i, d) in dec.details.into_iter().enumerate() {
        put(format!("h{}", i + 1), d.h)?;
        put(format!("v{}", i + 1), d.v)?;
        put(format!("d{}", i + 1), d.d)?;
    }
    npz.finish().map_err(failed)?;
    out.commit()?;
    Ok(serde_json::json!({"wavelet": w.name(), "mode": mode.name(), "level": level, "arrays": keys}).to_string())
}

/// `ultrares idwt`: with the parameters `dwt` recorded (see the module docs), or `wavelet` and
/// `mode` for an `.npz` without them.
pub fn idwt(
    input: &Path,
    output: &Path,
    wavelet: Option<&str>,
    mode: Option<&str>,
) -> Result<String, CliError> {
    let out = Output::new(output, "output", &["npy"])?;
    let mut npz = crate::npy::Npz::open(input)?;
    let shown = input.display();
    let rec = recorded(&mut npz).map_err(|e| format!("{shown}: {e}"))?;
    let (w, mode, level, shape) = match rec {
        Some(r) => {
            let given = parse(
                wavelet.unwrap_or(r.wavelet.name()),
                mode.unwrap_or(r.mode.name()),
            )?;
            if given.0.name() != r.wavelet.name() || given.1.name() != r.mode.name() {
                return Err(CliError::Usage(format!(
                    "{shown} was decomposed with --wavelet {} --mode {}; --wavelet {} --mode {} would reconstruct garbage (omit them to use the recorded ones)",
                    r.wavelet.name(),
                    r.mode.name(),
                    given.0.name(),
                    given.1.name()
                )));
            }
            (r.wavelet, r.mode, Some(r.level), Some(r.shape))
        }
        None => {
            let (Some(wv), Some(md)) = (wavelet, mode) else {
                return Err(CliError::Usage(format!(
                    "{shown} does not record its wavelet and mode (it was not written by `ultrares dwt`): give --wavelet and --mode as used for the decomposition"
                )));
            };
            let (w, m) = parse(wv, md)?;
            (w, m, None, None)
        }
    };
    let names: Vec<String> = npz
        .names()
        .into_iter()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .collect();
    let mut get = |key: &str| -> Result<Array, String> {
        let bytes = npz.bytes(key)?;
        if let Ok(data) = ArrayD::<f64>::read_npy(bytes.as_slice()) {
            return Ok(Array { data, f32: false });
        }
        ArrayD::<f32>::read_npy(bytes.as_slice())
            .map(|a| Array {
                data: a.mapv(f64::from),
                f32: true,
            })
            .map_err(|e| {
                format!(
                    "{}: array {key:?} is not float32/float64 ({e})",
                    input.display()
                )
            })
    };
    let a = get("a")?;
    let rank = a.data.ndim();
    let levels = (1..)
        .take_while(|l| {
            names
                .iter()
                .any(|n| n.trim_end_matches(".npy") == format!("h{l}"))
        })
        .count();
    if levels == 0 {
        return Err(format!("{}: no detail arrays h1, v1, d1", input.display()).into());
    }
    if let Some(l) = level.filter(|&l| l != levels) {
        return Err(format!(
            "{shown}: records level {l} but holds detail arrays for {levels} level(s)"
        )
        .into());
    }
    let mut details = Vec::with_capacity(levels);
    for l in 1..=levels {
        let mut band = |b: &str| -> Result<Tensor<Cpu, 4>, String> {
            let arr = get(&format!("{b}{l}"))?;
            if arr.data.ndim() != rank {
                return Err(format!(
                    "{b}{l} has rank {}, a has rank {rank}",
                    arr.data.ndim()
                ));
            }
            Ok(to_tensor(&arr.data)?.0)
        };
        details.push(Details2 {
            h: band("h")?,
            v: band("v")?,
            d: band("d")?,
        });
    }
    let dec = Decomposition2 {
        a: to_tensor(&a.data)?.0,
        details,
    };
    let mut x = waverec2(dec, &w, mode).map_err(|e| e.to_string())?;
    if let Some(rec) = &shape {
        // waverec2 returns one extra row/column per odd size; the input's shape is recorded.
        let [.., h, w] = rec.as_slice() else {
            return Err(format!("{shown}: recorded shape {rec:?} has rank < 2").into());
        };
        let [xn, xc, xh, xw] = x.dims();
        if rec.len() != rank || *h > xh || *w > xw {
            return Err(format!(
                "{shown}: recorded shape {rec:?} does not fit the arrays (a has rank {rank}, reconstruction {xh}×{xw})"
            )
            .into());
        }
        x = x.slice([0..xn, 0..xc, 0..*h, 0..*w]);
    }
    let arr = from_tensor(x, rank)?;
    let out_shape = arr.shape().to_vec();
    let r = if a.f32 {
        ndarray_npy::write_npy(out.tmp(), &arr.mapv(|v| v as f32))
    } else {
        ndarray_npy::write_npy(out.tmp(), &arr)
    };
    r.map_err(|e| CliError::Failure(format!("writing {}: {e}", output.display())))?;
    out.commit()?;
    Ok(serde_json::json!({"wavelet": w.name(), "mode": mode.name(), "levels": levels, "shape": out_shape}).to_string())
}
