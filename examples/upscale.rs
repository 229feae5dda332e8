//! Upscale a photograph with LIIF (EDSR-baseline, the real pretrained weights compiled into
//! `ultrares-lsr`), beside Pillow-exact bicubic, with Canny edge maps and 4K-detail metrics.
//!
//! ```text
//! cargo run --release --example upscale                 # the bundled demo (see below)
//! cargo run --release --example upscale -- INPUT [--scale S | --size HxW] [--out PATH]
//! ```
//!
//! With no arguments, the bundled 512² astronaut photograph is reduced ×4 with Pillow's bicubic
//! filter and brought back to 512² by LIIF and by bicubic; both are scored against the original
//! (PSNR) and with Diffusion-4K's GLCM Score and Compression Ratio. Everything is written to
//! `out/`: the input, both upscales and their Canny edge maps (OpenCV-exact, thresholds 100/200).
//! With an input file, it is upscaled by `--scale` (default 4) or to `--size HxW` (height first,
//! as the CLI), and the result is written to `--out` (default `out/<name>_liif.png`); the
//! bicubic baseline and the edge maps go beside it (`<out>_bicubic.png`, `<out>_canny.png`, …).
//!
//! How to read the table: PSNR (dB) compares each upscale with the original photograph (the demo
//! only; higher = closer). GLCM Score (Diffusion-4K's texture-richness metric: mean entropy of
//! 64² patches' gray-level co-occurrence) and Compression Ratio (raw RGB bytes / JPEG q95 bytes)
//! need no reference: a higher GLCM Score and a *lower* Compression Ratio mean more fine detail;
//! blurry upscales score a low GLCM Score and compress well (high ratio).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::NdArray;
use indicatif::{ProgressBar, ProgressStyle};
use ultrares::core::image::{
    RgbImage, ValueRange, read_rgb8, rgb8_to_gray8, rgb8_to_tensor, save_image, tensor_to_rgb8,
};
use ultrares::core::resize::{PilFilter, resize_pil};
use ultrares::core::{Progress, ProgressFn, Reporter, Stage};
use ultrares::lsr::Liif;
use ultrares::metrics::{GlcmScoreConfig, JpegConfig, compression_ratio, glcm_score};
use ultrares::rna::canny::{CannyConfig, canny};

type B = NdArray<f32>;

const PHOTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/images/astronaut.png");

type Error = Box<dyn std::error::Error>;

/// Why the example stops: `--help` (exit 0), or an error (one `error:` line, exit 2).
enum Stop {
    Help,
    Error(Error),
}

impl<E: Into<Error>> From<E> for Stop {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

struct Args {
    input: Option<PathBuf>,
    scale: Option<f64>,
    size: Option<[u32; 2]>,
    out: Option<PathBuf>,
}

fn usage() -> String {
    "usage: upscale [INPUT [--scale S | --size HxW] [--out PATH.png]]".into()
}

fn parse_args() -> Result<Args, Stop> {
    let mut a = Args {
        input: None,
        scale: None,
        size: None,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value; {}", usage()))
        };
        match arg.as_str() {
            "--scale" => {
                let v = value()?;
                a.scale = Some(
                    v.parse()
                        .map_err(|_| format!("--scale: expected a number ≥ 1, got {v:?}"))?,
                );
            }
            "--size" => {
                let v = value()?;
                // HxW, as the CLI; stored as [W, H] for the image crate.
                let bad = || format!("--size: expected HxW with positive integers, got {v:?}");
                let (h, w) = v.split_once(['x', 'X']).ok_or_else(bad)?;
                let p = |s: &str| {
                    s.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(bad)
                };
                a.size = Some([p(w)?, p(h)?]);
            }
            "--out" => a.out = Some(value()?.into()),
            "-h" | "--help" => return Err(Stop::Help),
            s if s.starts_with('-') => {
                return Err(format!("unknown option {s}; {}", usage()).into());
            }
            _ if a.input.is_none() => a.input = Some(arg.into()),
            _ => return Err(usage().into()),
        }
    }
    if a.scale.is_some() && a.size.is_some() {
        return Err("give --scale or --size, not both".into());
    }
    Ok(a)
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64.powi(2) / mse).log10()
}

fn liif_upscale(model: &Liif<B>, img: &RgbImage, w: u32, h: u32) -> Result<RgbImage, Error> {
    let device = Default::default();
    let x = rgb8_to_tensor::<B>(img, ValueRange::ZeroOne, &device);
    let bar = ProgressBar::new(h as u64).with_style(ProgressStyle::with_template(
        "LIIF {bar:40} {pos}/{len} rows {elapsed_precise}",
    )?);
    let mut rows = ProgressFn(|p: Progress| {
        bar.set_position(p.step as u64);
        ControlFlow::Continue(())
    });
    let y = model.upscale_with_progress(
        x,
        [h as usize, w as usize],
        &mut Reporter::new(Stage::Upsample, &mut rows),
    )?;
    bar.finish_and_clear();
    tensor_to_rgb8(y, ValueRange::ZeroOne)?
        .pop()
        .ok_or_else(|| "no output image".into())
}

fn main() -> std::process::ExitCode {
    match parse_args().and_then(|a| run(a).map_err(Stop::Error)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Stop::Help) => {
            println!("{}", usage());
            std::process::ExitCode::SUCCESS
        }
        Err(Stop::Error(e)) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), Error> {
    let device = Default::default();
    let t = Instant::now();
    let mut model = Liif::<B>::edsr_baseline_pretrained(&device)?;
    model.chunk = 4096; // cache-sized query chunks on the CPU (LIIF's demo uses 30,000)
    println!(
        "loaded LIIF EDSR-baseline in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let (input, truth, name) = match &args.input {
        None => {
            let truth = read_rgb8(PHOTO)?;
            let (w, h) = truth.dimensions();
            let lr = resize_pil(&truth, w / 4, h / 4, PilFilter::Bicubic)?;
            (lr, Some(truth), "astronaut".to_string())
        }
        Some(p) => {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("image")
                .to_string();
            (read_rgb8(p)?, None, stem)
        }
    };
    let (w, h) = input.dimensions();
    let [ow, oh] = match (args.size, &truth) {
        (Some(s), _) => s,
        (None, Some(t)) => [t.width(), t.height()],
        (None, None) => {
            let [oh, ow] =
                Liif::<B>::scaled_size([h as usize, w as usize], args.scale.unwrap_or(4.0))?;
            [ow as u32, oh as u32]
        }
    };
    // Without --out everything goes to out/; with it, the extras go beside the given file.
    let (liif_path, extra) = match &args.out {
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(format!(
                    "--out {}: folder {} does not exist",
                    p.display(),
                    dir.display()
                )
                .into());
            }
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("out")
                .to_string();
            (p.clone(), dir.join(stem))
        }
        None => {
            std::fs::create_dir_all("out")?;
            (
                Path::new("out").join(format!("{name}_liif.png")),
                Path::new("out").join(&name),
            )
        }
    };
    let extra_path = |tag: &str| PathBuf::from(format!("{}_{tag}.png", extra.display()));
    if truth.is_some() {
        save_image(&input, extra_path(&format!("input_{h}x{w}")))?;
    }
    println!("{name}: {h}×{w} → {oh}×{ow} (H×W)");

    let t = Instant::now();
    let up = liif_upscale(&model, &input, ow, oh)?;
    let t_liif = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let bicubic = resize_pil(&input, ow, oh, PilFilter::Bicubic)?;
    let t_bicubic = t.elapsed().as_secs_f64();
    save_image(&up, &liif_path)?;
    save_image(&bicubic, extra_path("bicubic"))?;
    let edges = CannyConfig::new(100.0, 200.0);
    for (tag, img) in [("liif", &up), ("bicubic", &bicubic)] {
        let e = canny(&rgb8_to_gray8(img), &edges)?;
        save_image(&e, extra_path(&format!("{tag}_canny")))?;
    }

    let glcm = GlcmScoreConfig {
        size: None,
        ..GlcmScoreConfig::default()
    };
    let jpeg = JpegConfig::default();
    println!(
        "\nPSNR: against the original photograph (demo only), higher = closer. GLCM Score \
         (Diffusion-4K, texture entropy of 64² patches): higher = more fine detail. Compression \
         Ratio (raw RGB / JPEG q95 bytes): lower = more fine detail."
    );
    println!("\n| method | time | PSNR (dB) ↑ | GLCM Score ↑ | Compression Ratio ↓ |");
    println!("|---|---|---|---|---|");
    for (tag, img, secs) in [
        ("LIIF (EDSR-baseline)", &up, t_liif),
        ("bicubic (Pillow)", &bicubic, t_bicubic),
    ] {
        // PSNR needs the original at the same size (the demo without --size).
        let p = truth
            .as_ref()
            .filter(|t| t.dimensions() == img.dimensions())
            .map_or("–".to_string(), |t| format!("{:.2}", psnr(img, t)));
        let g = glcm_score(img, &glcm).map_or_else(|e| format!("({e})"), |v| format!("{v:.4}"));
        let c = compression_ratio([img], &jpeg)
            .map_or_else(|e| format!("({e})"), |v| format!("{v:.3}"));
        println!("| {tag} | {secs:.2} s | {p} | {g} | {c} |");
    }
    println!(
        "\nwrote {}, and beside it the bicubic baseline and the Canny edge maps ({}_*.png)",
        liif_path.display(),
        extra.display()
    );
    Ok(())
}
