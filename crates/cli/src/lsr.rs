//! `ultrares upscale` (LIIF, RGB images) and `ultrares lsr` (LSRNA's LSR on latents).

use std::fs::File;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use ultrares::core::image::{ValueRange, read_rgb8, rgb8_to_tensor, save_image, tensor_to_rgb8};
use ultrares::core::{Observer, Progress, Reporter, Stage};
use ultrares::lsr::Liif;
use ultrares::nn::NnBackend;
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::output::Output;

/// Largest output `upscale` makes without `--force`: 8192² pixels (8K).
pub const MAX_UPSCALE_PIXELS: usize = 8192 * 8192;
/// Largest latent `lsr` makes without `--force`: 1024² per channel (an 8K SDXL image).
pub const MAX_LSR_PIXELS: usize = 1024 * 1024;

/// A request above `limit` output pixels needs `--force`; the message states the size and the
/// estimated time and memory (`px_per_s` and `bytes_per_px` measured on a 2-core CPU, see
/// docs/benchmarks.md).
fn check_size(
    [h, w]: [usize; 2],
    limit: usize,
    px_per_s: f64,
    bytes_per_px: f64,
    force: bool,
) -> Result<(), CliError> {
    let px = h.saturating_mul(w);
    if px <= limit || force {
        return Ok(());
    }
    let secs = px as f64 / px_per_s;
    let time = if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.0} min", secs / 60.0)
    };
    let side = (limit as f64).sqrt() as usize;
    Err(CliError::Usage(format!(
        "the output would be {h}×{w} (H×W) = {:.1} MP, above the {:.1} MP ({side}²) limit: about {time} on a 2-core CPU and {:.1} GB of memory; pass --force to run it anyway",
        px as f64 / 1e6,
        limit as f64 / 1e6,
        px as f64 * bytes_per_px / 1e9
    )))
}

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
    /// Output size `HxW`: height first, as every size in ultrares (e.g. 2160x3840 for 4K UHD
    /// landscape).
    #[arg(long, value_parser = crate::parse_size)]
    size: Option<[usize; 2]>,
    /// LIIF checkpoint (.pth in LIIF's format, or .safetensors with its spec); default: the
    /// EDSR-baseline weights compiled into the binary.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Allow outputs above 8192² pixels (8K; hours on a CPU).
    #[arg(long)]
    force: bool,
    /// Queries per chunk: bounds memory (≈ 4·chunk·256 floats of activations); 4096 is
    /// cache-sized on CPUs (upstream uses 30,000 for LIIF, 512² for LSRNA).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu] (the backend must be compiled in).
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Weight and compute dtype: f32, f16 or bf16 (half precision needs a GPU device; input
    /// and output stay f32).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
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
    /// Target latent size `HxW`, height first (e.g. 512x512 for a 4096² SDXL image).
    #[arg(long, value_parser = crate::parse_size)]
    size: [usize; 2],
    /// Allow latents above 1024² (an 8K image).
    #[arg(long)]
    force: bool,
    /// Queries per chunk: bounds memory (≈ 4·chunk·256 floats of activations); 4096 is
    /// cache-sized on CPUs (upstream uses 30,000 for LIIF, 512² for LSRNA).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu] (the backend must be compiled in).
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Weight and compute dtype: f32, f16 or bf16 (half precision needs a GPU device; input
    /// and output stay f32).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// The model of `path`, or the bundled EDSR-baseline.
fn load<B: NnBackend>(
    path: Option<&std::path::Path>,
    chunk: usize,
    dtype: DType,
    device: &B::Device,
) -> Result<Liif<B>, CliError> {
    if chunk == 0 {
        return Err(CliError::Usage("--chunk must be ≥ 1".into()));
    }
    let mut model = match path {
        Some(p) => Liif::<B>::from_checkpoint(p, device),
        None => Liif::<B>::edsr_baseline_pretrained(device),
    }
    .map_err(|e| e.to_string())?
    .with_dtype(dtype);
    model.chunk = chunk;
    Ok(model)
}

/// LIIF's row reports onto a progress bar.
struct RowBar<'p>(&'p ProgressBar);

impl<B: Backend> Observer<B> for RowBar<'_> {
    fn on_progress(&mut self, p: Progress) -> ControlFlow<()> {
        self.0.set_position(p.step as u64);
        ControlFlow::Continue(())
    }
}

fn bar(total: usize) -> Result<ProgressBar, String> {
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed_precise} ETA {eta}")
            .map_err(|e| e.to_string())?;
    Ok(ProgressBar::new(total as u64).with_style(style))
}

/// Runs `ultrares upscale` on the device it names.
pub fn run_upscale(a: UpscaleArgs) -> Result<String, CliError> {
    check_dtype(a.dtype, a.device)?;
    dispatch(a.device, Upscale(a))
}

struct Upscale(UpscaleArgs);

impl Job for Upscale {
    type Output = String;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<String, CliError> {
        upscale::<B>(self.0, device)
    }
}

fn upscale<B: NnBackend>(a: UpscaleArgs, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let out = Output::new(&a.output, "output", &["png", "jpg", "jpeg"])?;
    let [h, w] = ultrares::core::image::image_size(&a.input).map_err(|e| e.to_string())?;
    let [oh, ow] = match a.size {
        Some(s) => s,
        None => {
            Liif::<B>::scaled_size([h, w], a.scale.unwrap_or(4.0)).map_err(|e| e.to_string())?
        }
    };
    // 2048² took 219 s on 2 cores; output f32 + u8 planes and the encoder's features.
    check_size([oh, ow], MAX_UPSCALE_PIXELS, 19_000.0, 27.0, a.force)?;
    let model = load::<B>(a.weights.as_deref(), a.chunk, a.dtype, device)?;
    if model.in_chans() != 3 || model.out_dim() != 3 {
        return Err(CliError::Input(format!(
            "{}: a {} → {} channel model; `ultrares upscale` needs an RGB → RGB LIIF (for LSRNA's latent models use `ultrares lsr`)",
            a.weights
                .as_deref()
                .map_or("the model".into(), |p| p.display().to_string()),
            model.in_chans(),
            model.out_dim()
        )));
    }
    let img = read_rgb8(&a.input).map_err(|e| e.to_string())?;
    let x = rgb8_to_tensor::<B>(&img, ValueRange::ZeroOne, device);
    let pb = bar(oh)?;
    let y = model
        .upscale_with_progress(
            x,
            [oh, ow],
            &mut Reporter::new(Stage::Upsample, &mut RowBar(&pb)),
        )
        .map_err(|e| e.to_string())?;
    pb.finish_and_clear();
    let img_out = tensor_to_rgb8(y, ValueRange::ZeroOne)
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("no output image")?;
    save_image(&img_out, out.tmp()).map_err(|e| CliError::Failure(e.to_string()))?;
    out.commit()?;
    let weights = a
        .weights
        .as_ref()
        .map_or("bundled EDSR-baseline".into(), |p| p.display().to_string());
    Ok(if a.json {
        serde_json::json!({
            "input": [h, w], "output": [oh, ow], "weights": weights,
            "seconds": t.elapsed().as_secs_f64(),
        })
        .to_string()
    } else {
        format!(
            "{h}×{w} → {oh}×{ow} (H×W) in {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            a.output.display()
        )
    })
}

pub(crate) fn read_latent(path: &std::path::Path) -> Result<(Vec<f32>, Vec<usize>), String> {
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
    check_dtype(a.dtype, a.device)?;
    dispatch(a.device, Lsr(a))
}

struct Lsr(LsrArgs);

impl Job for Lsr {
    type Output = String;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<String, CliError> {
        lsr::<B>(self.0, device)
    }
}

fn lsr<B: NnBackend>(a: LsrArgs, device: &B::Device) -> Result<String, CliError> {
    let t = Instant::now();
    let out = Output::new(&a.output, "output", &["npy"])?;
    // 128² → 512² took 17.7 s on 2 cores; f32 output and the features of the input.
    check_size(a.size, MAX_LSR_PIXELS, 14_800.0, 64.0, a.force)?;
    let (data, shape) = read_latent(&a.input)?;
    let model = load::<B>(Some(&a.checkpoint), a.chunk, a.dtype, device)?;
    let c = shape[shape.len().saturating_sub(3)..]
        .first()
        .copied()
        .unwrap_or(0);
    if model.in_chans() != model.out_dim() || model.in_chans() == 3 || model.in_chans() != c {
        return Err(CliError::Input(format!(
            "{}: a {} → {} channel model ({}), but `ultrares lsr` maps {c}-channel latents ({}); for RGB images use `ultrares upscale`",
            a.checkpoint.display(),
            model.in_chans(),
            model.out_dim(),
            if model.in_chans() == 3 {
                "an RGB image model such as LIIF's"
            } else {
                "not a latent model"
            },
            a.input.display()
        )));
    }
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
        .forward_with_progress(
            x,
            a.size,
            &mut Reporter::new(Stage::Upsample, &mut RowBar(&pb)),
        )
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
    let f = File::create(out.tmp())
        .map_err(|e| CliError::Failure(format!("writing {}: {e}", a.output.display())))?;
    arr.write_npy(f)
        .map_err(|e| CliError::Failure(format!("writing {}: {e}", a.output.display())))?;
    out.commit()?;
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
