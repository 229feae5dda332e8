//! One-shot wall time and peak resident memory of one VAE case, for `docs/benchmarks.md` beside
//! `tools/bench/vae_reference.py` (which measures diffusers the same way).
//!
//! `cargo run --release --example vae_bench -- CASE LATENT [RUNS] [TILE] [HALO]`
//!
//! The SDXL VAE topology with default-initialised (random) weights; the latent is
//! `[1, 4, LATENT, LATENT]`. CASE is one of
//! * `decode`: untiled decode;
//! * `encode`: untiled encode of the `8·LATENT`² image;
//! * `diffusers`: diffusers-compatible tiled decode with TILE-latent tiles (default 128, SDXL's);
//! * `seamless`: seamless tiled decode, TILE-latent cores (default 112) and a HALO (default 8).
//!
//! Peak memory is the process's `VmHWM` (Linux) minus its `VmRSS` before the first run. Built
//! with `--features cuda` it runs on the first CUDA GPU instead (each run ends with a device
//! sync; measure GPU memory from outside, e.g. `nvidia-smi --query-gpu=memory.used -lms 50`).

use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use ultrares::vae::{AutoencoderKlConfig, DiffusersTiling, SeamlessTiling};

#[cfg(not(feature = "cuda"))]
type B = burn::backend::NdArray<f32>;
#[cfg(feature = "cuda")]
type B = ultrares::backend::Cuda;

// Burn's CPU backend allocates a fresh buffer per tensor op; glibc maps every buffer above
// 32 MiB afresh (page faults and zeroing took ~40 % of the time). mimalloc reuses them.
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
    let usage = "usage: vae_bench decode|encode|diffusers|seamless LATENT [RUNS] [TILE] [HALO]";
    let mut args = std::env::args().skip(1);
    let case = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let runs: usize = args.next().map_or(Ok(1), |r| r.parse())?;
    let tile: Option<usize> = args.next().map(|c| c.parse()).transpose()?;
    let halo: Option<usize> = args.next().map(|c| c.parse()).transpose()?;
    let device = Default::default();
    let vae = AutoencoderKlConfig::sdxl().init::<B>(&device)?;
    let latent = Tensor::<B, 4>::random([1, 4, n, n], Distribution::Normal(0.0, 1.0), &device);
    let image = Tensor::<B, 4>::random(
        [1, 3, 8 * n, 8 * n],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let run: Box<dyn Fn() -> ultrares::vae::Result<()>> = match case.as_str() {
        "decode" => Box::new(|| vae.decode(latent.clone()).map(drop)),
        "encode" => Box::new(|| vae.encode(image.clone()).map(drop)),
        "diffusers" => {
            let t = tile.unwrap_or(128);
            let tiling = DiffusersTiling::new(8 * t, t);
            Box::new(move || {
                vae.decode_tiled_diffusers(latent.clone(), &tiling)
                    .map(drop)
            })
        }
        "seamless" => {
            let d = SeamlessTiling::default();
            let tiling = SeamlessTiling {
                tile: tile.unwrap_or(d.tile),
                halo: halo.unwrap_or(d.halo),
                ..d
            };
            Box::new(move || vae.decode_seamless(latent.clone(), &tiling).map(drop))
        }
        other => return Err(format!("unknown case {other:?}; {usage}").into()),
    };
    let before = status_mb("VmRSS");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        run()?;
        B::sync(&device)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let peak = status_mb("VmHWM");
    println!(
        "{case} {n}² latent (tile {tile:?}, halo {halo:?}): median {:.3} s (min {:.3} s, {runs} runs); RSS before {before:.0} MB, peak {peak:.0} MB, peak − before ≈ {:.0} MB",
        times[times.len() / 2],
        times[0],
        peak - before
    );
    Ok(())
}
