//! `ultrares aesthetics`: the LAION aesthetic predictor v2 score of images (Diffusion-4K's
//! aesthetics metric): OpenAI CLIP ViT-L/14 image embeddings, L2-normalised, through
//! `sac+logos+ava1-l14-linearMSE.pth`.

use std::path::PathBuf;

use burn::tensor::DType;

use indicatif::ProgressBar;
use ultrares::core::image::read_rgb8;
use ultrares::metrics::AestheticPredictor;
use ultrares::wavediff::WaveDiffBackend;

use crate::CliError;
use crate::device::{DeviceArg, Job, check_dtype, dispatch, parse_dtype};
use crate::metrics::{collect_files, progress_bar};

/// Arguments of `ultrares aesthetics`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, or folders of images (sorted by name, not recursive).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// A transformers CLIP ViT-L/14 folder (`openai/clip-vit-large-patch14`: a CLIPModel or
    /// CLIPVisionModelWithProjection config.json and its weights).
    #[arg(long)]
    clip: PathBuf,
    /// The predictor's weights: `sac+logos+ava1-l14-linearMSE.pth` (or a safetensors
    /// conversion with the same keys).
    #[arg(long)]
    predictor: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Device: cpu, cuda[:N], wgpu[:N|:cpu].
    #[arg(long, default_value = "cpu")]
    device: DeviceArg,
    /// The CLIP image tower' weight dtype: f32 (as upstream), f16 or bf16 (GPU devices only; LayerNorms
    /// and softmax in f32; scores are computed in f32 from the embeddings).
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: DType,
    /// Print JSON: the mean and every image's score.
    #[arg(long)]
    json: bool,
}

/// Runs `ultrares aesthetics`.
///
/// # Errors
/// [`CliError::Input`] for unreadable images or model files; [`CliError::Usage`] for `--batch 0`.
pub fn run(a: Args) -> Result<String, CliError> {
    if a.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    check_dtype(a.dtype, a.device)?;
    let files = collect_files(&a.images).map_err(CliError::Input)?;
    let scores = dispatch(
        a.device,
        Score {
            a: &a,
            files: &files,
        },
    )?;
    let mean = scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len().max(1) as f64;
    Ok(if a.json {
        let images: Vec<serde_json::Value> = files
            .iter()
            .zip(&scores)
            .map(|(f, s)| serde_json::json!({"image": f.display().to_string(), "score": s}))
            .collect();
        serde_json::json!({"aesthetics": mean, "images": images}).to_string()
    } else {
        format!(
            "aesthetic score {mean:.4} (mean of {} images)",
            scores.len()
        )
    })
}

struct Score<'a> {
    a: &'a Args,
    files: &'a [PathBuf],
}

impl Job for Score<'_> {
    type Output = Vec<f32>;

    fn run<B: WaveDiffBackend>(self, device: &B::Device) -> Result<Vec<f32>, CliError> {
        let input = |e: ultrares::metrics::Error| CliError::Input(e.to_string());
        let clip = AestheticPredictor::<B>::clip_from_dir(&self.a.clip, self.a.dtype, device)
            .map_err(input)?;
        let mlp = AestheticPredictor::<B>::from_file(&self.a.predictor, device).map_err(input)?;
        let bar = if self.a.json {
            ProgressBar::hidden()
        } else {
            progress_bar(self.files.len() as u64)
        };
        let mut scores = Vec::with_capacity(self.files.len());
        for files in self.files.chunks(self.a.batch) {
            let images = files
                .iter()
                .map(|f| read_rgb8(f).map_err(|e| CliError::Input(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            scores.extend(
                mlp.score_images(&clip, &images, device)
                    .map_err(|e| CliError::Failure(e.to_string()))?,
            );
            bar.inc(files.len() as u64);
        }
        bar.finish_and_clear();
        Ok(scores)
    }
}
