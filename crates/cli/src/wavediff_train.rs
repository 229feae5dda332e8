//! `ultrares wavediff train`: WaveDiff training as the official `train_wddgan.py` runs it
//! ([`ultrares::wavediff::Trainer`]) on a folder of images, with a progress bar, a loss log,
//! sample grids from the EMA generator, resumable checkpoints and generator exports that
//! `ultrares wavediff sample` reads.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use image::imageops::FilterType;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use ultrares::core::image::{RgbImage, ValueRange, read_rgb8, rgb8_batch_to_tensor};
use ultrares::core::{Randomness, SeededRandomness};
use ultrares::nn::weights::Exporter;
use ultrares::nn::weights::write_pth;
use ultrares::wavediff::{
    IterationNoise, OfficialArgs, Preset, SampleNoise, Sampler, StepNoise, TrainOptions, Trainer,
    WaveDiffBackend,
};

use crate::CliError;
use crate::device::{DeviceArg, Job, dispatch};
use crate::metrics::collect_files;

/// `ultrares wavediff train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The dataset preset: its generator, discriminator, `T`, band order and training
    /// hyper-parameters (learning rates, betas, R1 γ, lazy_reg, EMA decay, batch, epochs).
    #[arg(long, value_parser = |s: &str| s.parse::<Preset>().map_err(|e| e.to_string()))]
    preset: Preset,
    /// Another model than the preset's: its official argparse namespace as JSON (the object
    /// or `{"args": {…}}`), e.g. a reduced width; the training settings stay the preset's.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of training images (PNG/JPEG), centre-cropped to a square and resized to the
    /// model's image size.
    #[arg(long)]
    data: PathBuf,
    /// Run folder: `checkpoint/` (resumable state), `netG_<epoch>.pth` (EMA generator as
    /// `train_wddgan.py` saves it: `torch.load`-able, official names with `module.`; `netG_k`
    /// follows k epochs and `netG_0` is the untrained one, where the official script's `netG_k`
    /// follows k + 1),
    /// `samples/epoch_<k>.png`, `losses.csv`.
    #[arg(long)]
    out: PathBuf,
    /// Epochs (default: the preset's `num_epoch`); with --resume, the total to reach.
    #[arg(long)]
    epochs: Option<usize>,
    /// Stop after this many epochs in this invocation (the schedule still spans --epochs);
    /// continue later with --resume.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Images per iteration (default: the preset's per-GPU batch, at most the image count).
    #[arg(long)]
    batch: Option<usize>,
    /// Add the L1 reconstruction loss (`--rec_loss`).
    #[arg(long)]
    rec_loss: bool,
    /// EMA decay of the generator (default: the preset's, 0.9999 or 0.999; short runs want
    /// less, e.g. 0.999).
    #[arg(long)]
    ema_decay: Option<f64>,
    /// Continue the run in --out from its `checkpoint/`.
    #[arg(long)]
    resume: bool,
    /// Sample a grid from the EMA generator every K epochs (0: never).
    #[arg(long, default_value_t = 1)]
    sample_every: usize,
    /// Write the checkpoint and a generator export every K epochs (and after the last).
    #[arg(long, default_value_t = 1)]
    save_every: usize,
    /// Seed of the initial weights, the data order, the flips and every draw of the loop.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, cuda[:N] or wgpu[:N|:cpu].
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
}

/// Runs `ultrares wavediff train`.
///
/// # Errors
/// Usage, input and training errors as one line.
pub fn train(a: TrainArgs) -> Result<String, CliError> {
    let model = match &a.config {
        Some(path) => {
            let cfg = ultrares::nn::ConfigJson::read(path)
                .map_err(|e| CliError::Input(format!("--config: {e}")))?;
            OfficialArgs::from_json(&cfg)
                .map_err(|e| CliError::Input(format!("--config {}: {e}", path.display())))?
        }
        None => a.preset.official_args(),
    };
    if a.save_every == 0 {
        return Err(CliError::Usage("--save-every must be at least 1".into()));
    }
    if a.ema_decay.is_some_and(|d| !(0.0..1.0).contains(&d)) {
        return Err(CliError::Usage("--ema-decay must be in [0, 1)".into()));
    }
    if a.batch == Some(0) {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    let files = collect_files(std::slice::from_ref(&a.data))
        .map_err(|e| CliError::Input(format!("--data: {e}")))?;
    let side = 2 * model.generator.image_size * model.generator.patch_size.max(1);
    let images = load_images(&files, side)?;
    if images.is_empty() {
        return Err(CliError::Input(format!(
            "--data {}: no PNG or JPEG images",
            a.data.display()
        )));
    }
    std::fs::create_dir_all(a.out.join("samples"))
        .map_err(|e| CliError::Input(format!("--out {}: {e}", a.out.display())))?;
    dispatch(
        a.device,
        TrainJob {
            args: &a,
            model: &model,
            images: &images,
        },
    )
}

/// Every image of `files`, centre-cropped to a square and resized to `side` (Lanczos-3).
fn load_images(files: &[PathBuf], side: usize) -> Result<Vec<RgbImage>, CliError> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let ext = f
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            continue;
        }
        let img = read_rgb8(f).map_err(|e| CliError::Input(format!("{}: {e}", f.display())))?;
        let (w, h) = img.dimensions();
        let s = w.min(h);
        let crop = image::imageops::crop_imm(&img, (w - s) / 2, (h - s) / 2, s, s).to_image();
        let side = side as u32;
        out.push(if s == side {
            crop
        } else {
            image::imageops::resize(&crop, side, side, FilterType::Lanczos3)
        });
    }
    Ok(out)
}

struct TrainJob<'a> {
    args: &'a TrainArgs,
    model: &'a OfficialArgs,
    images: &'a [RgbImage],
}

impl Job for TrainJob<'_> {
    type Output = String;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<String, CliError> {
        let a = self.args;
        let fail = |e: ultrares::wavediff::WaveDiffError| CliError::Failure(e.to_string());
        let mut options = TrainOptions::preset(a.preset);
        options.rec_loss = a.rec_loss;
        options.num_timesteps = self.model.num_timesteps;
        options.band_order = self.model.band_order;
        if let Some(e) = a.epochs {
            options.training.num_epoch = e;
        }
        if let Some(d) = a.ema_decay {
            options.training.ema_decay = d;
        }
        let (gen_cfg, disc_cfg) = (
            self.model.generator.clone(),
            self.model.discriminator.clone(),
        );
        let ckpt = a.out.join("checkpoint");
        let mut trainer = if a.resume {
            Trainer::<B>::resume(&ckpt, gen_cfg.clone(), disc_cfg, options, device)
                .map_err(|e| CliError::Input(format!("--resume from {}: {e}", ckpt.display())))?
        } else {
            B::seed(device, a.seed);
            Trainer::<B>::init(gen_cfg.clone(), disc_cfg, options, device).map_err(fail)?
        };
        if !a.resume {
            // The untrained generator, for comparisons.
            export(&trainer, &a.out.join("netG_0.pth"))?;
        }
        let epochs = options.training.num_epoch;
        let batch = a
            .batch
            .unwrap_or(options.training.batch_size)
            .min(self.images.len());
        let per_epoch = self.images.len() / batch;
        let sampler = Sampler::official(self.model).map_err(fail)?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.out.join("losses.csv"))
            .map_err(|e| CliError::Failure(format!("losses.csv: {e}")))?;
        if !a.resume {
            writeln!(
                log,
                "epoch,iteration,global_step,errD_real,errD_fake,r1,errG_adv,rec"
            )
            .map_err(|e| CliError::Failure(e.to_string()))?;
        }
        let start = Instant::now();
        let first_epoch = trainer.epoch;
        let mut last = None;
        let stop = a.stop_after.map_or(epochs, |k| epochs.min(first_epoch + k));
        while trainer.epoch < stop {
            let epoch = trainer.epoch;
            // The epoch's order and flips (the official loader: shuffled, RandomHorizontalFlip).
            let mut rng = SeededRandomness::new(a.seed ^ 0x5eed_0000_0000 ^ epoch as u64);
            let mut order: Vec<usize> = (0..self.images.len()).collect();
            for i in (1..order.len()).rev() {
                let j = rng
                    .randint(0, i as i64)
                    .map_err(|e| CliError::Failure(e.to_string()))?;
                order.swap(i, j as usize);
            }
            let bar = epoch_bar(per_epoch as u64, epoch, epochs);
            let t0 = Instant::now();
            for it in 0..per_epoch {
                let mut imgs = Vec::with_capacity(batch);
                for &k in &order[it * batch..(it + 1) * batch] {
                    let flip = rng
                        .uniform()
                        .map_err(|e| CliError::Failure(e.to_string()))?
                        < 0.5;
                    let img = &self.images[k];
                    imgs.push(if flip {
                        image::imageops::flip_horizontal(img)
                    } else {
                        img.clone()
                    });
                }
                let x = rgb8_batch_to_tensor::<B>(&imgs, ValueRange::MinusOneOne, device)
                    .map_err(|e| CliError::Failure(e.to_string()))?;
                let real = trainer.real_data(x).map_err(fail)?;
                let shape = real.dims();
                let mut draws =
                    SeededRandomness::new(a.seed.wrapping_add(trainer.global_step as u64));
                let (nz, steps) = (gen_cfg.nz, options.num_timesteps);
                let noise = IterationNoise {
                    d: StepNoise::draw(&mut draws, shape, nz, steps, device).map_err(fail)?,
                    g: StepNoise::draw(&mut draws, shape, nz, steps, device).map_err(fail)?,
                };
                let step = trainer.global_step;
                let l = trainer.step(real, noise).map_err(|e| {
                    CliError::Failure(format!(
                        "training stopped at epoch {epoch}, iteration {it}: {e}; the last good checkpoint is {}",
                        ckpt.display()
                    ))
                })?;
                writeln!(
                    log,
                    "{epoch},{it},{step},{},{},{},{},{}",
                    l.err_d_real,
                    l.err_d_fake,
                    l.r1.map_or(String::new(), |v| v.to_string()),
                    l.err_g_adv,
                    l.rec.map_or(String::new(), |v| v.to_string())
                )
                .map_err(|e| CliError::Failure(e.to_string()))?;
                bar.set_message(format!(
                    "G {:.3} D {:.3} {:.2} it/s",
                    l.err_g(),
                    l.err_d(),
                    (it + 1) as f64 / t0.elapsed().as_secs_f64()
                ));
                bar.inc(1);
                last = Some(l);
            }
            bar.finish();
            trainer.epoch += 1;
            let done = trainer.epoch;
            if a.sample_every > 0 && done % a.sample_every == 0 {
                let g = trainer.ema_generator();
                let noise =
                    SampleNoise::<B>::seeded(a.seed, 0..16, &gen_cfg, sampler.steps(), device)
                        .map_err(fail)?;
                let images = sampler.sample(&g, noise).map_err(fail)?;
                let dims = images.dims();
                let v = images
                    .into_data()
                    .convert::<f32>()
                    .into_vec::<f32>()
                    .map_err(|e| CliError::Failure(format!("{e:?}")))?;
                let arr = ArrayD::from_shape_vec(IxDyn(&dims), v)
                    .map_err(|e| CliError::Failure(e.to_string()))?;
                crate::wavediff::write_grid(
                    &arr,
                    &a.out.join(format!("samples/epoch_{done}.png")),
                )?;
            }
            if done % a.save_every == 0 || done == stop {
                trainer.save(&ckpt).map_err(fail)?;
                export(&trainer, &a.out.join(format!("netG_{done}.pth")))?;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let iters = (trainer.epoch - first_epoch) * per_epoch;
        Ok(match last {
            Some(l) => format!(
                "trained epochs {first_epoch}..{} ({iters} iterations of {batch}, {:.2} it/s); last errG {:.4}, errD {:.4}; run folder {}",
                trainer.epoch,
                iters as f64 / secs.max(1e-9),
                l.err_g(),
                l.err_d(),
                a.out.display()
            ),
            None => format!(
                "nothing to do: the run in {} is at epoch {} of {epochs}",
                a.out.display(),
                trainer.epoch
            ),
        })
    }
}

/// The EMA generator under the official names with DDP's `module.` prefix, as
/// `train_wddgan.py` saves `netG_<epoch>.pth`.
fn export<B: WaveDiffBackend>(
    trainer: &Trainer<B>,
    path: &std::path::Path,
) -> Result<(), CliError> {
    let mut ex = Exporter::default();
    trainer.ema_generator().walk(&mut ex, "");
    let tensors = ex
        .tensors
        .into_iter()
        .map(|(k, v)| (format!("module.{k}"), v))
        .collect();
    write_pth(path, &tensors).map_err(|e| CliError::Failure(e.to_string()))
}

fn epoch_bar(n: u64, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(n);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "epoch {}/{epochs} [{{bar:30}}] {{pos}}/{{len}} {{msg}} {{elapsed_precise}} (eta {{eta}})",
        epoch + 1
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
