//! `ultrares wavediff sample`: images from a WaveDiff generator checkpoint, as the official
//! `test_wddgan.py` makes them (2–4 posterior steps, `×2`, IDWT, clamp); `wavediff train` is in
//! `wavediff_train.rs`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::DType;
use clap::Subcommand;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use ultrares::core::image::{RgbImage, ValueRange, save_image};
use ultrares::wavediff::{
    Ncsnpp, OfficialArgs, Preset, SampleNoise, Sampler, WaveDiffBackend, checkpoint,
};

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::output::Output;

/// `ultrares wavediff …`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Samples images from a generator checkpoint (the official `netG_*.pth`).
    Sample(SampleArgs),
    /// Trains a generator and discriminator on a folder of images, as `train_wddgan.py`.
    Train(crate::wavediff_train::TrainArgs),
}

/// `ultrares wavediff sample`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Generator checkpoint: the official `netG_{epoch}.pth` (with or without DDP's `module.`
    /// prefix), or a `.safetensors` with the same names.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The dataset preset of the checkpoint: cifar10, stl10, celeba_256, celeba_512,
    /// celeba_1024 or lsun (the configurations of the official `run.sh`).
    #[arg(long, value_parser = |s: &str| s.parse::<Preset>().map_err(|e| e.to_string()),
          required_unless_present = "config", conflicts_with = "config")]
    preset: Option<Preset>,
    /// Or the model's official argparse namespace as JSON (`train_wddgan.py`'s `args`, the
    /// object itself or `{"args": {…}}`): for checkpoints trained with other settings.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    num: usize,
    /// Images per generator call (default: all at once, at most 64).
    #[arg(long)]
    batch: Option<usize>,
    /// Seed: image k of a run uses the draws of seed + k, whatever the batch size.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output: a grid image (`.png`/`.jpg`, 8 per row, no padding, as the official test
    /// script saves samples) or a folder that receives `0.png`, `1.png`, …
    #[arg(long)]
    out: Option<PathBuf>,
    /// Writes the images in [−1, 1] as float32 `.npy` `[N, 3, H, W]` (after ×2, IDWT and the
    /// clamp, before the mapping to [0, 1]).
    #[arg(long)]
    save_array: Option<PathBuf>,
    /// Replays a reference run's noise from an `.npz`: `x_T` `[N, 12, H/2, W/2]` and, for each
    /// step label i = T−1 … 0, `z_{i}` `[N, nz]` and `eps_{i}` `[N, 12, H/2, W/2]`.
    /// Overrides --num and --seed.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// cpu, cuda[:N] or wgpu[:N|:cpu].
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// Weight and activation dtype: f32, f16 or bf16 (half precision needs a GPU device).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
}

/// Runs `ultrares wavediff …`.
///
/// # Errors
/// Usage, input and model errors as one line.
pub fn run(a: Args) -> Result<String, CliError> {
    match a.command {
        Sub::Sample(s) => sample(s),
        Sub::Train(t) => crate::wavediff_train::train(t),
    }
}

enum Destination {
    Grid(Output),
    Folder(PathBuf),
}

fn sample(a: SampleArgs) -> Result<String, CliError> {
    if a.out.is_none() && a.save_array.is_none() {
        return Err(CliError::Usage(
            "give --out GRID.png or --out FOLDER, --save-array FILE.npy, or both".into(),
        ));
    }
    if a.replay.is_none() && a.num == 0 {
        return Err(CliError::Usage("--num must be at least 1".into()));
    }
    if a.batch == Some(0) {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    check_dtype(a.dtype, a.device)?;
    if !a.checkpoint.is_file() {
        return Err(CliError::Input(format!(
            "--checkpoint {}: no such file",
            a.checkpoint.display()
        )));
    }
    // Outputs are checked before any work.
    let dest = match &a.out {
        None => None,
        Some(p) => {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("png" | "jpg" | "jpeg") => Some(Destination::Grid(Output::new(
                    p,
                    "--out",
                    &["png", "jpg", "jpeg"],
                )?)),
                _ if p.is_file() => {
                    return Err(CliError::Usage(format!(
                        "--out {}: expected a .png/.jpg grid or a folder",
                        p.display()
                    )));
                }
                _ => Some(Destination::Folder(p.clone())),
            }
        }
    };
    if let Some(Destination::Folder(dir)) = &dest {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::Input(format!(
                "--out {}: cannot create the folder ({e})",
                dir.display()
            ))
        })?;
    }
    let array = a
        .save_array
        .as_ref()
        .map(|p| Output::new(p, "--save-array", &["npy"]))
        .transpose()?;
    let model = match (a.preset, &a.config) {
        (Some(p), _) => (p.to_string(), p.official_args()),
        (None, Some(path)) => {
            let cfg = ultrares::nn::ConfigJson::read(path)
                .map_err(|e| CliError::Input(format!("--config: {e}")))?;
            let args = OfficialArgs::from_json(&cfg)
                .map_err(|e| CliError::Input(format!("--config {}: {e}", path.display())))?;
            (path.display().to_string(), args)
        }
        (None, None) => return Err(CliError::Usage("give --preset or --config".into())),
    };
    let replay = a.replay.as_deref().map(read_replay).transpose()?;
    let device = a.device;
    let started = std::time::Instant::now();
    let images = dispatch(
        device,
        SampleJob {
            args: &a,
            model: &model.1,
            replay,
        },
    )?;
    let secs = started.elapsed().as_secs_f64();
    let n = images.shape()[0];
    if let Some(out) = array {
        let f = File::create(out.tmp())
            .map_err(|e| CliError::Failure(format!("{}: {e}", out.tmp().display())))?;
        images
            .write_npy(BufWriter::new(f))
            .map_err(|e| CliError::Failure(format!("--save-array: {e}")))?;
        out.commit()?;
    }
    match dest {
        Some(Destination::Grid(out)) => {
            write_grid(&images, out.tmp())?;
            out.commit()?;
        }
        Some(Destination::Folder(dir)) => write_folder(&images, &dir)?,
        None => {}
    }
    Ok(format!(
        "{n} samples of {} in {secs:.2} s ({:.3} s per image)",
        model.0,
        secs / n.max(1) as f64
    ))
}

/// The replay arrays: `x_T` and per step label `(z_i, eps_i)` as `(shape, values)`.
struct Replay {
    x_t: (Vec<usize>, Vec<f32>),
    steps: Vec<[(Vec<usize>, Vec<f32>); 2]>,
}

fn read_replay(path: &Path) -> Result<Replay, CliError> {
    let mut npz = crate::npy::Npz::open(path).map_err(CliError::Input)?;
    let mut get = |key: &str| -> Result<(Vec<usize>, Vec<f32>), CliError> {
        let bytes = npz
            .bytes(key)
            .map_err(|e| CliError::Input(format!("--replay {e}")))?;
        let arr = ArrayD::<f32>::read_npy(bytes.as_slice()).map_err(|e| {
            CliError::Input(format!(
                "--replay {}: {key}: expected a float32 array ({e})",
                path.display()
            ))
        })?;
        Ok((arr.shape().to_vec(), arr.iter().copied().collect()))
    };
    let x_t = get("x_T")?;
    let mut steps = vec![];
    let mut i = 0;
    while let Ok(z) = get(&format!("z_{i}")) {
        steps.push([z, get(&format!("eps_{i}"))?]);
        i += 1;
    }
    // Step labels run T−1 … 0; the arrays were read by label 0 … T−1.
    steps.reverse();
    Ok(Replay { x_t, steps })
}

struct SampleJob<'a> {
    args: &'a SampleArgs,
    model: &'a OfficialArgs,
    replay: Option<Replay>,
}

impl Job for SampleJob<'_> {
    type Output = ArrayD<f32>;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<ArrayD<f32>, CliError> {
        let a = self.args;
        let config = self.model.generator.clone();
        let mut g = Ncsnpp::<B>::new(config.clone(), device).map_err(model)?;
        checkpoint::load_generator(&mut g, &a.checkpoint, device)
            .map_err(|e| CliError::Input(format!("--checkpoint: {e}")))?;
        let g = g.with_dtype(a.dtype);
        let sampler = Sampler::official(self.model).map_err(model)?;
        let steps = sampler.steps();
        let tensor = |(shape, v): (Vec<usize>, Vec<f32>)| TensorData::new(v, shape);
        let noises: Vec<SampleNoise<B>> = match self.replay {
            Some(r) => {
                if r.steps.len() != steps {
                    return Err(CliError::Input(format!(
                        "--replay: a {steps}-step model needs z_0 … z_{} and eps_0 … eps_{}, found {} steps",
                        steps - 1,
                        steps - 1,
                        r.steps.len()
                    )));
                }
                let x_t = upload::<B, 4>(tensor(r.x_t), "x_T", device, a.dtype)?;
                let (mut z, mut eps) = (vec![], vec![]);
                for [zi, ei] in r.steps {
                    z.push(upload::<B, 2>(tensor(zi), "z_i", device, a.dtype)?);
                    eps.push(upload::<B, 4>(tensor(ei), "eps_i", device, a.dtype)?);
                }
                vec![SampleNoise { x_t, z, eps }]
            }
            None => {
                let batch = a.batch.unwrap_or(a.num.min(64));
                (0..a.num)
                    .step_by(batch)
                    .map(|start| {
                        let n = batch.min(a.num - start);
                        SampleNoise::<B>::seeded(a.seed, start..start + n, &config, steps, device)
                            .map(|s| s.cast(a.dtype))
                    })
                    .collect::<Result<_, _>>()
                    .map_err(model)?
            }
        };
        let mut parts = vec![];
        for noise in noises {
            let images = sampler
                .sample(&g, noise)
                .map_err(|e| CliError::Input(e.to_string()))?;
            parts.push(images.cast(DType::F32));
        }
        let images = Tensor::cat(parts, 0);
        let dims = images.dims();
        let v = images
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| CliError::Failure(format!("reading the images back: {e:?}")))?;
        ArrayD::from_shape_vec(IxDyn(&dims), v).map_err(|e| CliError::Failure(e.to_string()))
    }
}

fn model(e: ultrares::wavediff::WaveDiffError) -> CliError {
    CliError::Input(e.to_string())
}

/// A replayed array of rank `D` on `device` in `dtype`.
fn upload<B: WaveDiffBackend, const D: usize>(
    d: TensorData,
    key: &str,
    device: &B::Device,
    dtype: DType,
) -> Result<Tensor<B, D>, CliError> {
    if d.shape.len() != D {
        return Err(CliError::Input(format!(
            "--replay: {key} must have {D} dimensions, got {:?}",
            d.shape
        )));
    }
    Ok(Tensor::from_data(d, (device, dtype)))
}

/// `[N, 3, H, W]` in [−1, 1] as RGB8 images (clamped, rounded as the rest of the CLI).
fn rgb_images(images: &ArrayD<f32>) -> Result<Vec<RgbImage>, CliError> {
    let &[n, 3, h, w] = images.shape() else {
        return Err(CliError::Failure(format!(
            "expected [N, 3, H, W] images, got {:?}",
            images.shape()
        )));
    };
    (0..n)
        .map(|k| {
            let mut img = RgbImage::new(w as u32, h as u32);
            for (x, y, px) in img.enumerate_pixels_mut() {
                for ch in 0..3 {
                    let v = images[[k, ch, y as usize, x as usize]];
                    px.0[ch] = ValueRange::MinusOneOne.to_u8(v).ok_or_else(|| {
                        CliError::Failure(format!("image {k} holds NaN (a broken checkpoint?)"))
                    })?;
                }
            }
            Ok(img)
        })
        .collect()
}

fn write_folder(images: &ArrayD<f32>, dir: &Path) -> Result<(), CliError> {
    for (k, img) in rgb_images(images)?.iter().enumerate() {
        let path = dir.join(format!("{k}.png"));
        save_image(img, &path)
            .map_err(|e| CliError::Failure(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// `torchvision.utils.save_image(x, nrow=8, padding=0)`: 8 images per row.
pub(crate) fn write_grid(images: &ArrayD<f32>, path: &Path) -> Result<(), CliError> {
    let imgs = rgb_images(images)?;
    let (w, h) = imgs
        .first()
        .map(|i| (i.width(), i.height()))
        .ok_or_else(|| CliError::Failure("no images".into()))?;
    let cols = imgs.len().min(8) as u32;
    let rows = imgs.len().div_ceil(8) as u32;
    let mut grid = RgbImage::new(w * cols, h * rows);
    for (k, img) in imgs.iter().enumerate() {
        let (x0, y0) = ((k as u32 % 8) * w, (k as u32 / 8) * h);
        for (x, y, px) in img.enumerate_pixels() {
            grid.put_pixel(x0 + x, y0 + y, *px);
        }
    }
    save_image(&grid, path).map_err(|e| CliError::Failure(format!("{}: {e}", path.display())))
}
