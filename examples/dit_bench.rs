//! One-shot wall time and peak resident memory of one SD3-medium or Flux-dev transformer call on
//! the real topology (default-initialised weights: the cost does not depend on the values), for
//! `docs/benchmarks.md` beside `tools/bench/dit_reference.py`, which times diffusers the same way.
//!
//! `cargo run --release --example dit_bench -- sd3|flux LATENT [TEXT] [BATCH]`
//!
//! The latent is `[BATCH, 16, LATENT, LATENT]` (1024² px through the 8× VAE: 128; Diffusion-4K's
//! 4096² through its 16× VAE: 256), `TEXT` text tokens (SD3: 77 CLIP + 256 T5 = 333, the
//! pipeline's default; Flux: 512). Peak memory is the process's `VmHWM` (Linux) minus its
//! `VmRSS` after the weights are materialised, which the attention of the CPU backend bounds by
//! `3·4·max(2²⁴, N·H·(L+S))` bytes per call (`ultrares_nn::attention`).

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use ultrares::dit::{FluxTransformerConfig, Sd3TransformerConfig, latent_image_ids, pack_latents};

type B = burn::backend::NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: dit_bench sd3|flux LATENT [TEXT] [BATCH]";
    let mut args = std::env::args().skip(1);
    let model = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let text: Option<usize> = args.next().map(|v| v.parse()).transpose()?;
    let batch: usize = args.next().map_or(Ok(1), |v| v.parse())?;
    let device = Default::default();
    let normal = Distribution::Normal(0.0, 1.0);
    let t0 = Instant::now();
    // `run(n)`: one call on a random `n`² latent.
    let run: Box<dyn Fn(usize) -> Result<(), ultrares::dit::DitError>> = match model.as_str() {
        "sd3" => {
            let model = Sd3TransformerConfig::sd3_medium().init::<B>(&device)?;
            let s = text.unwrap_or(333);
            Box::new(move |n| {
                let latent = Tensor::<B, 4>::random([batch, 16, n, n], normal, &device);
                let ehs = Tensor::<B, 3>::random([batch, s, 4096], normal, &device);
                let pooled = Tensor::<B, 2>::random([batch, 2048], normal, &device);
                let t = Tensor::<B, 1>::full([batch], 500.0, &device);
                model
                    .forward(latent, ehs, pooled, t)
                    .map(|o| drop(o.into_data()))
            })
        }
        "flux" => {
            let model = FluxTransformerConfig::flux_dev().init::<B>(&device)?;
            let s = text.unwrap_or(512);
            Box::new(move |n| {
                let latent = Tensor::<B, 4>::random([batch, 16, n, n], normal, &device);
                let ehs = Tensor::<B, 3>::random([batch, s, 4096], normal, &device);
                let pooled = Tensor::<B, 2>::random([batch, 768], normal, &device);
                let t = Tensor::<B, 1>::full([batch], 0.5, &device);
                let g = Tensor::<B, 1>::full([batch], 3.5, &device);
                model
                    .forward(
                        pack_latents(latent)?,
                        ehs,
                        pooled,
                        t,
                        latent_image_ids(n / 2, n / 2, &device),
                        Tensor::zeros([s, 3], &device),
                        Some(g),
                    )
                    .map(|o| drop(o.into_data()))
            })
        }
        _ => return Err(usage.into()),
    };
    run(8)?; // materialises the lazily initialised weights on a tiny latent
    println!(
        "{model}: weights materialised (one 8² call) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let base = status_mb("VmRSS:");
    let t = Instant::now();
    run(n)?;
    println!(
        "{model} latent {n}², batch {batch}: {:.2} s; peak above the weights {:.0} MiB (RSS before {base:.0} MiB, VmHWM {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        status_mb("VmHWM:") - base,
        status_mb("VmHWM:")
    );
    Ok(())
}
