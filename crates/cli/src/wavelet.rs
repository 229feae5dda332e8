//! `ultrares dwt` / `ultrares idwt`: PyWavelets-equal 2-D transforms of `.npy` arrays.
//!
//! Arrays of rank 2 (H, W), 3 (C, H, W) or 4 (N, C, H, W), f32 or f64, are transformed over
//! their last two axes in f64 on the CPU; outputs keep the input's rank and dtype. The `.npz`
//! keys are `a` (coarsest approximation) and `h1`, `v1`, `d1`, … (`cH`, `cV`, `cD`; level 1
//! is the finest), so `pywt.wavedec2(x, w, mode, level)` is
//! `[a, (hJ, vJ, dJ), …, (h1, v1, d1)]`.

use std::fs::File;
use std::path::Path;

use burn::backend::NdArray;
use burn::tensor::{DType, Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzWriter, ReadNpyExt};
use ultrares::wavelet::{Decomposition2, Details2, Mode, Wavelet, wavedec2, waverec2};

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

/// `ultrares dwt`.
pub fn dwt(
    input: &Path,
    output: &Path,
    wavelet: &str,
    mode: &str,
    level: usize,
) -> Result<String, String> {
    let (w, mode) = parse(wavelet, mode)?;
    let x = read_npy(input)?;
    let (t, shape) = to_tensor(&x.data)?;
    let dec = wavedec2(t, &w, mode, level).map_err(|e| e.to_string())?;
    let file = File::create(output).map_err(|e| format!("writing {}: {e}", output.display()))?;
    let mut npz = NpzWriter::new(file);
    let mut keys = Vec::new();
    let mut put = |key: String, t: Tensor<Cpu, 4>| -> Result<(), String> {
        let a = from_tensor(t, shape.len())?;
        keys.push(serde_json::json!({"key": key, "shape": a.shape()}));
        let r = if x.f32 {
            npz.add_array(key, &a.mapv(|v| v as f32))
        } else {
            npz.add_array(key, &a)
        };
        r.map_err(|e| format!("writing {}: {e}", output.display()))
    };
    put("a".into(), dec.a)?;
    for (i, d) in dec.details.into_iter().enumerate() {
        put(format!("h{}", i + 1), d.h)?;
        put(format!("v{}", i + 1), d.v)?;
        put(format!("d{}", i + 1), d.d)?;
    }
    npz.finish()
        .map_err(|e| format!("writing {}: {e}", output.display()))?;
    Ok(serde_json::json!({"wavelet": w.name(), "mode": mode.name(), "level": level, "arrays": keys}).to_string())
}

/// `ultrares idwt`.
pub fn idwt(input: &Path, output: &Path, wavelet: &str, mode: &str) -> Result<String, String> {
    let (w, mode) = parse(wavelet, mode)?;
    let mut npz = crate::npy::Npz::open(input)?;
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
        return Err(format!("{}: no detail arrays h1, v1, d1", input.display()));
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
    let x = waverec2(dec, &w, mode).map_err(|e| e.to_string())?;
    let arr = from_tensor(x, rank)?;
    let shape = arr.shape().to_vec();
    let r = if a.f32 {
        ndarray_npy::write_npy(output, &arr.mapv(|v| v as f32))
    } else {
        ndarray_npy::write_npy(output, &arr)
    };
    r.map_err(|e| format!("writing {}: {e}", output.display()))?;
    Ok(serde_json::json!({"wavelet": w.name(), "mode": mode.name(), "levels": levels, "shape": shape}).to_string())
}
