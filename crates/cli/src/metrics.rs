//! `ultrares glcm-score`: Diffusion-4K's GLCM Score of image files or folders.

use std::path::PathBuf;

use ultrares::core::image::read_rgb8;
use ultrares::metrics::{GlcmProp, GlcmScoreConfig, PatchScore, glcm_score};

/// Arguments of `ultrares glcm-score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image files or folders (every file in a folder is scored, as eval.py does).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Evaluated top-left square (eval.py --size); 0 tiles the whole image.
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Patch side (eval.py --patch_size).
    #[arg(long, default_value_t = 64)]
    patch: usize,
    /// entropy (the GLCM Score), or a graycoprops property: contrast, dissimilarity,
    /// homogeneity, energy, correlation, ASM.
    #[arg(long, default_value = "entropy")]
    prop: String,
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
    let mut files = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| format!("{}: {e}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(input.clone());
        }
    }
    if files.is_empty() {
        return Err("no images found".into());
    }
    let mut scores = Vec::with_capacity(files.len());
    for (k, f) in files.iter().enumerate() {
        let img = read_rgb8(f).map_err(|e| e.to_string())?;
        let s = glcm_score(&img, &cfg).map_err(|e| format!("{}: {e}", f.display()))?;
        if !args.json && files.len() > 1 {
            eprintln!("[{}/{}] {} {s:.6}", k + 1, files.len(), f.display());
        }
        scores.push(s);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    if args.json {
        let per: Vec<_> = files
            .iter()
            .zip(&scores)
            .map(|(f, s)| serde_json::json!({"file": f.display().to_string(), "score": s}))
            .collect();
        return Ok(
            serde_json::json!({"glcm_score": mean, "images": per, "prop": args.prop}).to_string(),
        );
    }
    Ok(format!(
        "GLCM Score ({}): {mean:.6} over {} image(s)",
        args.prop,
        scores.len()
    ))
}
