//! `ultrares glcm-score` and `ultrares compression-ratio`: Diffusion-4K's detail metrics of
//! image files or folders, plus the folder walking and progress shared with `fid`/`kid`.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ultrares::core::image::read_rgb8;
use ultrares::metrics::{
    CompressionRatio, GlcmProp, GlcmScoreConfig, JpegConfig, PatchScore, Subsampling, glcm_score,
};

/// Files named by `inputs`: files as given, folders expanded to their files (sorted, not
/// recursive, as eval.py's `os.listdir`).
pub fn collect_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| format!("{}: {e}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(format!("{}: no such file or folder", input.display()));
        }
    }
    if files.is_empty() {
        return Err("no images found".into());
    }
    Ok(files)
}

/// A progress bar over `n` files, with ETA.
pub fn progress_bar(n: u64) -> ProgressBar {
    let bar = ProgressBar::new(n);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The outcome of [`for_each_file`]: per-file results, and the files skipped with `--skip-bad`.
pub struct Scored<T> {
    pub ok: Vec<(PathBuf, T)>,
    pub skipped: Vec<(PathBuf, String)>,
}

impl<T> Scored<T> {
    /// `{"file": ..., "error": ...}` for each skipped file.
    pub fn skipped_json(&self) -> serde_json::Value {
        self.skipped
            .iter()
            .map(|(f, e)| serde_json::json!({"file": f.display().to_string(), "error": e}))
            .collect()
    }

    /// A note on stderr-friendly text output (empty when nothing was skipped).
    pub fn skipped_note(&self) -> String {
        if self.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {} bad file(s)", self.skipped.len())
        }
    }
}

/// Why a file could not be scored.
pub enum FileError {
    /// This file is bad (unreadable, not an image): `--skip-bad` can skip it.
    Bad(String),
    /// The options do not fit the file (every similar file would fail the same way): the
    /// message says which option to change, and the run stops even with `--skip-bad`.
    Options(String),
}

impl From<String> for FileError {
    fn from(m: String) -> Self {
        Self::Bad(m)
    }
}

/// Runs `f` on every file with a progress bar on stderr (when more than one). A failing file
/// stops the run with its name, unless `skip_bad` and the file itself is bad
/// ([`FileError::Bad`]): then it is reported and skipped.
pub fn for_each_file<T>(
    files: &[PathBuf],
    skip_bad: bool,
    label: &str,
    mut f: impl FnMut(usize, &Path) -> Result<T, FileError>,
) -> Result<Scored<T>, String> {
    let bar = if files.len() > 1 {
        let bar = progress_bar(files.len() as u64);
        bar.set_message(label.to_string());
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut out = Scored {
        ok: Vec::new(),
        skipped: Vec::new(),
    };
    for (i, file) in files.iter().enumerate() {
        match f(i, file) {
            Ok(v) => out.ok.push((file.clone(), v)),
            Err(FileError::Options(e)) => {
                bar.abandon();
                return Err(format!("{}: {e}", file.display()));
            }
            Err(FileError::Bad(e)) if skip_bad => {
                bar.suspend(|| eprintln!("skipping {}: {e}", file.display()));
                out.skipped.push((file.clone(), e));
            }
            Err(FileError::Bad(e)) => {
                bar.abandon();
                return Err(format!(
                    "{}: {e} (use --skip-bad to score the rest)",
                    file.display()
                ));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if out.ok.is_empty() {
        return Err("no image could be scored".into());
    }
    Ok(out)
}

/// Arguments of `ultrares glcm-score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image files or folders (every file in a folder is scored, as eval.py does).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Evaluated top-left square (eval.py --size, for its 2048² and larger images); 0 tiles
    /// the whole image instead (needed for images smaller than --size).
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Patch side (eval.py --patch_size), ≥ 1.
    #[arg(long, default_value_t = 64)]
    patch: usize,
    /// entropy (the GLCM Score), or a graycoprops property: contrast, dissimilarity,
    /// homogeneity, energy, correlation, ASM.
    #[arg(long, default_value = "entropy")]
    prop: String,
    /// Report unreadable or unscorable files and score the rest (default: stop at the first).
    #[arg(long)]
    skip_bad: bool,
    /// Print JSON (per-image scores and the mean).
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares glcm-score`, returning what to print.
pub fn run(args: Args) -> Result<String, String> {
    let score = match args.prop.as_str() {
        "entropy" => PatchScore::ValueEntropy,
        p => PatchScore::Prop(GlcmProp::parse(p).map_err(|e| e.to_string())?),
    };
    let cfg = GlcmScoreConfig {
        size: (args.size > 0).then_some(args.size),
        patch: args.patch,
        score,
        ..Default::default()
    };
    if args.patch == 0 {
        return Err("--patch must be ≥ 1 (eval.py's --patch_size; default 64)".into());
    }
    if args.size > 0 && args.size < args.patch {
        return Err(format!(
            "--size {} is smaller than --patch {}: no patch fits (use --size 0 to tile whole images)",
            args.size, args.patch
        ));
    }
    let files = collect_files(&args.inputs)?;
    let scored = for_each_file(&files, args.skip_bad, "GLCM Score", |_, f| {
        let img = read_rgb8(f).map_err(|e| e.to_string())?;
        let (w, h) = img.dimensions();
        let side = w.min(h) as usize;
        if args.size > 0 && side < args.size {
            return Err(FileError::Options(format!(
                "{h}×{w} (H×W) is smaller than the {0}² square that --size {0} evaluates (eval.py's default, for 2048² and larger images): use --size 0 to tile the whole image, or --size {1} or less",
                args.size,
                side / args.patch * args.patch
            )));
        }
        if side < args.patch {
            return Err(FileError::Options(format!(
                "{h}×{w} (H×W) is smaller than one --patch {} patch",
                args.patch
            )));
        }
        glcm_score(&img, &cfg).map_err(|e| FileError::Bad(e.to_string()))
    })?;
    let mean = scored.ok.iter().map(|(_, s)| s).sum::<f64>() / scored.ok.len() as f64;
    if args.json {
        let per: Vec<_> = scored
            .ok
            .iter()
            .map(|(f, s)| serde_json::json!({"file": f.display().to_string(), "score": s}))
            .collect();
        return Ok(
            serde_json::json!({"glcm_score": mean, "images": per, "prop": args.prop,
            "skipped": scored.skipped_json()})
            .to_string(),
        );
    }
    Ok(format!(
        "GLCM Score ({}): {mean:.6} over {} image(s){}",
        args.prop,
        scored.ok.len(),
        scored.skipped_note()
    ))
}

/// Arguments of `ultrares compression-ratio`.
#[derive(Debug, clap::Args)]
pub struct CrArgs {
    /// Image files or folders.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// JPEG quality of the re-encoding (Diffusion-4K saves with 95).
    #[arg(long, default_value_t = 95)]
    quality: u8,
    /// Chroma subsampling of the re-encoding: 420 (Pillow's default), 422 or 444.
    #[arg(long, default_value = "420")]
    subsampling: String,
    /// Use the files' own sizes on disk, as eval.py does for its q95 JPEG folders, instead of
    /// re-encoding the pixels.
    #[arg(long)]
    on_disk: bool,
    /// Report unreadable files and score the rest (default: stop at the first).
    #[arg(long)]
    skip_bad: bool,
    /// Print JSON (per-image sizes and the ratio).
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares compression-ratio`, returning what to print.
pub fn run_compression_ratio(args: CrArgs) -> Result<String, String> {
    let subsampling = match args.subsampling.as_str() {
        "420" | "4:2:0" => Subsampling::S420,
        "422" | "4:2:2" => Subsampling::S422,
        "444" | "4:4:4" => Subsampling::S444,
        s => return Err(format!("--subsampling must be 420, 422 or 444, got {s:?}")),
    };
    if !(1..=100).contains(&args.quality) {
        return Err(format!("--quality must be 1..=100, got {}", args.quality));
    }
    let cfg = JpegConfig {
        quality: args.quality,
        subsampling,
    };
    let files = collect_files(&args.inputs)?;
    let mut cr = CompressionRatio::new();
    let scored = for_each_file(&files, args.skip_bad, "Compression Ratio", |_, f| {
        if args.on_disk {
            cr.add_file(f).map_err(|e| FileError::Bad(e.to_string()))
        } else {
            let img = read_rgb8(f).map_err(|e| e.to_string())?;
            cr.add_image(&img, &cfg)
                .map(|n| n as u64)
                .map_err(|e| FileError::Bad(e.to_string()))
        }
    })?;
    let ratio = cr.ratio().map_err(|e| e.to_string())?;
    if args.json {
        let per: Vec<_> = scored
            .ok
            .iter()
            .map(|(f, n)| {
                let key = if args.on_disk {
                    "file_bytes"
                } else {
                    "jpeg_bytes"
                };
                serde_json::json!({"file": f.display().to_string(), key: n})
            })
            .collect();
        return Ok(
            serde_json::json!({"compression_ratio": ratio, "raw_bytes": cr.raw_bytes,
            (if args.on_disk { "file_bytes" } else { "jpeg_bytes" }): cr.jpeg_bytes,
            "images": per, "on_disk": args.on_disk,
            "quality": args.quality, "skipped": scored.skipped_json()})
            .to_string(),
        );
    }
    let denominator = if args.on_disk {
        "bytes on disk"
    } else {
        "JPEG bytes"
    };
    Ok(format!(
        "Compression Ratio: {ratio:.4} over {} image(s) ({} raw RGB bytes / {} {denominator}){}",
        cr.count,
        cr.raw_bytes,
        cr.jpeg_bytes,
        scored.skipped_note()
    ))
}
