//! `ultrares clip-score`: torchmetrics' CLIPScore of images paired with captions, through a
//! transformers `CLIPModel` folder (`openai/clip-vit-base-patch16` is torchmetrics' and
//! Diffusion-4K's default).

use std::path::PathBuf;

use burn::tensor::DType;

use indicatif::ProgressBar;
use ultrares::core::image::read_rgb8;
use ultrares::metrics::{ClipScorer, clip_score};
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::metrics::{collect_files, progress_bar};

/// Arguments of `ultrares clip-score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, or folders of images (sorted by name, not recursive), paired in order with the
    /// prompts.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Captions, one per line, as many as images (an empty line is an empty caption).
    #[arg(long)]
    prompts: PathBuf,
    /// A transformers `CLIPModel` folder: config.json, model.safetensors, vocab.json +
    /// merges.txt (or tokenizer.json), preprocessor_config.json.
    #[arg(long)]
    model: PathBuf,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu].
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// The CLIP towers' weight dtype: f32 (as upstream), f16 or bf16 (GPU devices only; LayerNorms
    /// and softmax in f32; scores are computed in f32 from the embeddings).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
    /// Print JSON: the metric and every pair's score.
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares clip-score`.
///
/// # Errors
/// [`CliError::Input`] for unreadable images, prompts or model files and for counts that
/// differ; [`CliError::Usage`] for `--batch 0`.
pub fn run(a: Args) -> Result<String, CliError> {
    if a.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    check_dtype(a.dtype, a.device)?;
    let files = collect_files(&a.images).map_err(CliError::Input)?;
    let text = std::fs::read_to_string(&a.prompts)
        .map_err(|e| CliError::Input(format!("{}: {e}", a.prompts.display())))?;
    let prompts: Vec<String> = text.lines().map(str::to_string).collect();
    if prompts.len() != files.len() {
        return Err(CliError::Input(format!(
            "{} images but {} prompts in {}: one prompt per line, one per image",
            files.len(),
            prompts.len(),
            a.prompts.display()
        )));
    }
    let device = a.device;
    let scores = dispatch(
        device,
        Score {
            a: &a,
            files: &files,
            prompts: &prompts,
        },
    )?;
    let metric = clip_score(&scores);
    Ok(if a.json {
        let pairs: Vec<serde_json::Value> = files
            .iter()
            .zip(&prompts)
            .zip(&scores)
            .map(|((f, p), s)| {
                serde_json::json!({"image": f.display().to_string(), "prompt": p, "score": s})
            })
            .collect();
        serde_json::json!({"clip_score": metric, "pairs": pairs}).to_string()
    } else {
        format!("CLIPScore {metric:.4} over {} pairs", scores.len())
    })
}

struct Score<'a> {
    a: &'a Args,
    files: &'a [PathBuf],
    prompts: &'a [String],
}

impl Job for Score<'_> {
    type Output = Vec<f32>;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<Vec<f32>, CliError> {
        let scorer = ClipScorer::<B>::from_dir(&self.a.model, self.a.dtype, device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        let bar = if self.a.json {
            ProgressBar::hidden()
        } else {
            progress_bar(self.files.len() as u64)
        };
        let mut scores = Vec::with_capacity(self.files.len());
        for (files, prompts) in self
            .files
            .chunks(self.a.batch)
            .zip(self.prompts.chunks(self.a.batch))
        {
            let images = files
                .iter()
                .map(|f| read_rgb8(f).map_err(|e| CliError::Input(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let captions: Vec<&str> = prompts.iter().map(String::as_str).collect();
            scores.extend(
                scorer
                    .scores(&images, &captions, device)
                    .map_err(|e| CliError::Failure(e.to_string()))?,
            );
            bar.inc(files.len() as u64);
        }
        bar.finish_and_clear();
        Ok(scores)
    }
}
