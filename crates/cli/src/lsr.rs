//! `ultrares upscale` (LIIF, RGB images) and `ultrares lsr` (LSRNA's LSR on latents).

use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use ultrares::core::image::{ValueRange, read_rgb8, rgb8_to_tensor, save_image, tensor_to_rgb8};
use ultrares::lsr::Liif;
use ultrares::nn::NnBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, dispatch};

/// The LIIF EDSR-baseline weights bundled with the workspace.
const BUNDLED_WEIGHTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../assets/liif/edsr-baseline-liif.safetensors"
);

/// Arguments of `ultrares upscale`.
#[derive(Debug, clap::Args)]
pub struct UpscaleArgs {
    /// Input image (PNG or JPEG).
    input: PathBuf,
    /// Output image (PNG).
    output: PathBuf,
    /// Scale factor (≥ 1); the default is 4 unless --size is given.
    #[arg(long, conflicts_with = "size")]
    scale: Option<f64>,
    /// Output size `HxW`.
    #[arg(long, value_parser = crate::parse_size)]
    size: Option<[usize; 2]>,
    /// LIIF checkpoint (.pth in LIIF's format, or .safetensors with its spec); default: the
    /// bundled EDSR-baseline weights.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Queries per chunk: bounds memory (≈ 4·chunk·256 floats of activations); 4096 is
    /// cache-sized on CPUs (upstream uses 30,000 for LIIF, 512² for LSRNA).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu] (the backend must be compiled in).
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ultrares lsr`.
#[derive(Debug, clap::Args)]
pub struct LsrArgs {
    /// LSR checkpoint: LSRNA's official `.pth` (`{'model': {'name', 'args', 'sd'}}`) or a
    /// safetensors conversion carrying the spec.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Input latent `.npy`, `[C, h, w]` or `[N, C, h, w]` (float32/64, UNet-space: scaled).
    input: PathBuf,
    /// Output `.npy` (float32, same rank).
    output: PathBuf,
    /// Target latent size `HxW`.
    #[arg(long, value_parser = crate::parse_size)]
    size: [usize; 2],
    /// Queries per chunk: bounds memory (≈ 4·chunk·256 floats of activations); 4096 is
    /// cache-sized on CPUs (upstream uses 30,000 for LIIF, 512² for LSRNA).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu] (the backend must be compiled in).
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

fn load<B: NnBackend>(
    path: &std::path::Path,
    chunk: usize,
    device: &B::Device,
) -> Result<Liif<B>, String> {
    if chunk == 0 {
        return Err("--chunk must be ≥ 1".into());
    }
    let mut model = Liif::<B>::from_checkpoint(path, device).map_err(|e| e.to_string())?;
    model.chunk = chunk;
    Ok(model)
}

fn bar(total: usize) -> Result<ProgressBar, String> {
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed_precise} ETA {eta}")
            .map_err(|e| e.to_string())?;
    Ok(ProgressBar::new(total as u64).with_style(style))
}

/// Runs `ultrares upscale` on the device it names.
pub fn run_upscale(a: UpscaleArgs) -> Result<String, CliError> {
    dispatch(a.device, Upscale(a))
}

struct Upscale(UpscaleArgs);

impl Job for Upscale {
    type Output = String;

    fn run<B: NnBackend>(self, device: &B::Device) -> Result<String, CliError> {
        upscale::<B>(self.0, device)
    }
}

fn upscale<B: NnBackend>(a: UpscaleArgs, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let weights = a
        .weights
        .clone()
        .unwrap_or_else(|| PathBuf::from(BUNDLED_WEIGHTS));
    let model = load::<B>(&weights, a.chunk, device)?;
    let img = read_rgb8(&a.input).map_err(|e| e.to_string())?;
    let (w, h) = img.dimensions();
    let [oh, ow] = match a.size {
        Some(s) => s,
        None => Liif::<B>::scaled_size([h as usize, w as usize], a.scale.unwrap_or(4.0))
            .map_err(|e| e.to_string())?,
    };
    let x = rgb8_to_tensor::<B>(&img, ValueRange::ZeroOne, device);
    let pb = bar(oh)?;
    let y = model
        .upscale_with_progress(x, [oh, ow], |done, _| pb.set_position(done as u64))
        .map_err(|e| e.to_string())?;
    pb.finish_and_clear();
    let out = tensor_to_rgb8(y, ValueRange::ZeroOne)
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("no output image")?;
    save_image(&out, &a.output).map_err(|e| CliError::Failure(e.to_string()))?;
    Ok(if a.json {
        serde_json::json!({
            "input": [h, w], "output": [oh, ow], "weights": weights,
            "seconds": t.elapsed().as_secs_f64(),
        })
        .to_string()
    } else {
        format!(
            "{h}×{w} → {oh}×{ow} in {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            a.output.display()
        )
    })
}

fn read_latent(path: &std::path::Path) -> Result<(Vec<f32>, Vec<usize>), String> {
    let bytes = crate::npy::read(path)?;
    let a: ArrayD<f32> = match ArrayD::<f32>::read_npy(bytes.as_slice()) {
        Ok(a) => a,
        Err(_) => ArrayD::<f64>::read_npy(bytes.as_slice())
            .map_err(|e| {
                format!(
                    "{}: expected a float32 or float64 .npy ({e})",
                    path.display()
                )
            })?
            .mapv(|v| v as f32),
    };
    Ok((a.iter().copied().collect(), a.shape().to_vec()))
}

/// Runs `ultrares lsr` on the device it names.
pub fn run_lsr(a: LsrArgs) -> Result<String, CliError> {
    dispatch(a.device, Lsr(a))
}

struct Lsr(LsrArgs);

impl Job for Lsr {
    type Output = String;

    fn run<B: NnBackend>(self, device: &B::Device) -> Result<String, CliError> {
        lsr::<B>(self.0, device)
    }
}

fn lsr<B: NnBackend>(a: LsrArgs, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let model = load::<B>(&a.checkpoint, a.chunk, device)?;
    let (data, shape) = read_latent(&a.input)?;
    let dims = match shape.as_slice() {
        [c, h, w] => [1, *c, *h, *w],
        [n, c, h, w] => [*n, *c, *h, *w],
        other => {
            return Err(format!(
                "{}: expected [C, h, w] or [N, C, h, w], got {other:?}",
                a.input.display()
            )
            .into());
        }
    };
    let x = Tensor::<B, 4>::from_data(TensorData::new(data, dims), device);
    let pb = bar(a.size[0])?;
    let y = model
        .forward_with_progress(x, a.size, |done, _| pb.set_position(done as u64))
        .map_err(|e| e.to_string())?;
    pb.finish_and_clear();
    let [n, c, oh, ow] = y.dims();
    let out_shape = if shape.len() == 3 {
        vec![c, oh, ow]
    } else {
        vec![n, c, oh, ow]
    };
    let v = y
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| CliError::Failure(format!("reading the result back: {e:?}")))?;
    let arr = ArrayD::from_shape_vec(IxDyn(&out_shape), v).map_err(|e| e.to_string())?;
    let f = File::create(&a.output).map_err(|e| format!("writing {}: {e}", a.output.display()))?;
    arr.write_npy(f)
        .map_err(|e| CliError::Failure(format!("writing {}: {e}", a.output.display())))?;
    Ok(if a.json {
        serde_json::json!({"input": shape, "output": out_shape, "seconds": t.elapsed().as_secs_f64()}).to_string()
    } else {
        format!(
            "{shape:?} → {out_shape:?} in {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            a.output.display()
        )
    })
}
