//! Encode and decode a picture with a Stable Diffusion VAE.
//!
//! `cargo run --release --example vae_roundtrip -- MODEL_DIR INPUT.png [OUTPUT.png] [--seamless|--diffusers-tiling]`
//!
//! MODEL_DIR is a diffusers `AutoencoderKL` folder (`config.json` +
//! `diffusion_pytorch_model.safetensors`), or a pipeline folder with a `vae/` subfolder — e.g.
//! `stabilityai/stable-diffusion-xl-base-1.0` or `madebyollin/sdxl-vae-fp16-fix` downloaded
//! with `huggingface-cli download`. The image is cropped to a multiple of the VAE's factor (8),
//! encoded to the posterior mean and decoded; the PSNR of the round trip is printed.
//! `--seamless` uses the seamless tiled encode/decode (bounded memory, equal to untiled),
//! `--diffusers-tiling` diffusers' `enable_tiling()` scheme.

use std::time::Instant;

use burn::backend::NdArray;
use ultrares::core::image::{ValueRange, read_rgb_tensor, write_tensor};
use ultrares::vae::{SeamlessTiling, from_diffusers_dir};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: vae_roundtrip MODEL_DIR INPUT.png [OUTPUT.png] [--seamless|--diffusers-tiling]\n\
                 MODEL_DIR: a diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.safetensors), \
                 e.g. stabilityai/stable-diffusion-xl-base-1.0/vae — no weights are bundled";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags: Vec<&str> = args
        .iter()
        .filter(|a| a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let pos: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let (Some(model_dir), Some(input)) = (pos.first(), pos.get(1)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let output = pos.get(2).copied().unwrap_or("out/vae_roundtrip.png");
    let device = Default::default();
    let vae = from_diffusers_dir::<B>(model_dir, &device)?;
    let f = vae.downscale_factor();
    let image = read_rgb_tensor::<B>(input, ValueRange::MinusOneOne, &device)?;
    let [_, _, h, w] = image.dims();
    let (h, w) = (h / f * f, w / f * f);
    if h == 0 || w == 0 {
        return Err(format!("{input} is smaller than the VAE's factor {f}").into());
    }
    let image = image.slice([0..1, 0..3, 0..h, 0..w]);
    let t = Instant::now();
    let (latent, decoded) = if flags.contains(&"--seamless") {
        let tiling = SeamlessTiling::default();
        let z = vae.encode_seamless(image.clone(), &tiling)?;
        (z.clone(), vae.decode_seamless(z, &tiling)?)
    } else if flags.contains(&"--diffusers-tiling") {
        let tiling = vae.diffusers_tiling();
        let z = vae.encode_tiled_diffusers(image.clone(), &tiling)?;
        (z.clone(), vae.decode_tiled_diffusers(z, &tiling)?)
    } else {
        let z = vae.encode(image.clone())?;
        (z.clone(), vae.decode(z)?)
    };
    let secs = t.elapsed().as_secs_f64();
    let decoded = decoded.clamp(-1.0, 1.0);
    let mse: f32 = ((decoded.clone() - image) / 2.0)
        .powf_scalar(2.0)
        .mean()
        .into_scalar();
    if let Some(dir) = std::path::Path::new(output).parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_tensor(decoded, ValueRange::MinusOneOne, output)?;
    println!(
        "{input} ({w}×{h}) → latent {:?} → {output}: PSNR {:.2} dB, {secs:.1} s",
        latent.dims(),
        -10.0 * mse.log10()
    );
    Ok(())
}
