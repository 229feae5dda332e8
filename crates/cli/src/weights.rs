//! `ultrares weights`: the tensors of a checkpoint (name, dtype, shape), its parameter count and
//! bytes, read from headers only — a safetensors file, a sharded `*.safetensors.index.json`, a
//! `.pth`/`.bin` pickle, or a diffusers model or pipeline folder.

use std::path::PathBuf;

use ultrares::nn::weights::list_tensors;

/// Arguments of `ultrares weights`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .safetensors file, a *.safetensors.index.json, a .pth/.bin file, or a diffusers folder.
    path: PathBuf,
    /// In a diffusers folder, prefer this weight variant (e.g. fp16).
    #[arg(long)]
    variant: Option<String>,
    /// Print `{"tensors": [{"name", "dtype", "shape"}, …], "parameters": N, "bytes": N}`.
    #[arg(long)]
    json: bool,
}

/// Lists the tensors.
pub fn run(args: Args) -> Result<String, String> {
    let tensors = list_tensors(&args.path, args.variant.as_deref()).map_err(|e| e.to_string())?;
    let parameters: u64 = tensors
        .iter()
        .map(|t| t.shape.iter().map(|&d| d as u64).product::<u64>())
        .sum();
    let bytes: u64 = tensors.iter().map(|t| t.bytes).sum();
    if args.json {
        let list: Vec<_> = tensors
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "dtype": t.dtype, "shape": t.shape}))
            .collect();
        return Ok(
            serde_json::json!({"tensors": list, "parameters": parameters, "bytes": bytes})
                .to_string(),
        );
    }
    let width = tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for t in &tensors {
        out.push_str(&format!(
            "{:width$}  {:5}  {:?}\n",
            t.name, t.dtype, t.shape
        ));
    }
    out.push_str(&format!(
        "{} tensors, {parameters} parameters, {bytes} bytes ({:.2} GB)",
        tensors.len(),
        bytes as f64 / 1e9
    ));
    Ok(out)
}
