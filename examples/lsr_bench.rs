//! One-shot wall time and peak resident memory of one LSR/LIIF case, for `docs/benchmarks.md`
//! beside `tools/bench/lsr_reference.py` (which measures the official PyTorch code the same way).
//!
//! `cargo run --release --example lsr_bench -- lsr|liif128|liif512 [RUNS] [CHUNK]`
//!
//! * `lsr`: LSRNA's LSR ×4 of a (1, 4, 128, 128) latent;
//! * `liif128` / `liif512`: LIIF-EDSR (bundled real weights) ×4 of a 128² / 512² RGB image.
//!
//! Peak memory is the process's `VmHWM` (Linux) minus its `VmRSS` before the first run.

use std::time::Instant;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use ultrares::lsr::{Liif, LiifConfig};

type B = NdArray<f32>;

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
    let mut args = std::env::args().skip(1);
    let case = args
        .next()
        .ok_or("usage: lsr_bench lsr|liif128|liif512 [RUNS] [CHUNK]")?;
    let runs: usize = args.next().map_or(Ok(1), |r| r.parse())?;
    let chunk: Option<usize> = args.next().map(|c| c.parse()).transpose()?;
    let device = Default::default();
    let run: Box<dyn Fn() -> Result<(), ultrares::lsr::Error>> = match case.as_str() {
        "lsr" => {
            let mut lsr = LiifConfig::lsrna_sdxl().init::<B>(&device)?;
            lsr.chunk = chunk.unwrap_or(lsr.chunk);
            let x =
                Tensor::<B, 4>::random([1, 4, 128, 128], Distribution::Normal(0.0, 1.0), &device);
            Box::new(move || lsr.forward(x.clone(), [512, 512]).map(drop))
        }
        "liif128" | "liif512" => {
            let n = if case == "liif128" { 128 } else { 512 };
            let weights = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/crates/lsr/assets/liif/edsr-baseline-liif.safetensors"
            );
            let mut liif = Liif::<B>::from_checkpoint(weights, &device)?;
            liif.chunk = chunk.unwrap_or(liif.chunk);
            let x = Tensor::<B, 4>::random([1, 3, n, n], Distribution::Uniform(0.0, 1.0), &device);
            Box::new(move || liif.upscale(x.clone(), [4 * n, 4 * n]).map(drop))
        }
        other => return Err(format!("unknown case {other:?}").into()),
    };
    let before = status_mb("VmRSS");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let peak = status_mb("VmHWM");
    println!(
        "{case} (chunk {}): median {:.3} s (min {:.3} s, {runs} runs); RSS before {before:.0} MB, peak {peak:.0} MB, forward peak ≈ {:.0} MB",
        chunk.map_or("default".to_string(), |c| c.to_string()),
        times[times.len() / 2],
        times[0],
        peak - before
    );
    Ok(())
}
