//! Denoiser-call counts and wall time per strategy at 2048², 2048×4096 and 4096², with
//! gen_pipeline.py's stand-in denoiser (CFG 7.5) and a codec that costs nothing: the pipelines'
//! own work. `tools/bench/pipeline_reference.py` runs the official pipelines the same way.
//!
//! ```text
//! cargo run --release --example pipeline_bench [-- SIZE...]     # SIZE as HxW, default all three
//! ```

use std::time::Instant;

use burn::backend::NdArray;
use ultrares::pipeline::testing::{NullCodec, StandIn, StandInCond};
use ultrares::pipeline::{
    BicubicUpsampler, DecodeMode, Guided, GuidedCond, HighResConfig, HighResPipeline,
    SeededRandomness,
};
use ultrares::schedulers::{Ddim, SchedulerConfig};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sizes: Vec<[usize; 2]> = Vec::new();
    for arg in std::env::args().skip(1) {
        let (h, w) = arg.split_once('x').ok_or("sizes are HxW, e.g. 2048x4096")?;
        sizes.push([h.parse()?, w.parse()?]);
    }
    if sizes.is_empty() {
        sizes = vec![[2048, 2048], [2048, 4096], [4096, 4096]];
    }
    let denoiser = Guided { inner: StandIn };
    let cond = |p| StandInCond {
        pooled: p,
        sizes: Vec::new(),
    };
    let cond = GuidedCond::new(cond(0.7), cond(-0.3), 7.5);
    println!("| strategy | size | denoiser calls | latents (×2 with CFG) | wall s | stages |");
    println!("|---|---|---|---|---|---|");
    for [h, w] in sizes {
        for config in [
            HighResConfig::lsrna_demofusion(h, w),
            HighResConfig::demofusion(h, w),
            HighResConfig::pixelsmith(h, w),
            HighResConfig::lsrna_pixelsmith(h, w),
            HighResConfig::direct(h, w),
        ] {
            let config = HighResConfig {
                decode: DecodeMode::Full,
                ..config
            };
            let ddim = Ddim::new(SchedulerConfig::sdxl(), 50)?;
            let mut pipe = HighResPipeline::<B, _, _, _, _>::new(
                &denoiser,
                &NullCodec,
                &BicubicUpsampler,
                ddim,
            );
            let start = Instant::now();
            let out = pipe.generate(
                &config,
                &cond,
                &Default::default(),
                &mut SeededRandomness::new(0),
                &mut (),
            )?;
            let stages: Vec<String> = out
                .timings
                .iter()
                .map(|t| format!("{:?} {:.2}", t.stage, t.elapsed.as_secs_f64()))
                .collect();
            println!(
                "| {:?} | {h}×{w} | {} | {} ({}) | {:.2} | {} |",
                config.strategy,
                out.denoiser_calls,
                out.denoiser_evaluations,
                2 * out.denoiser_evaluations,
                start.elapsed().as_secs_f64(),
                stages.join(", ")
            );
        }
    }
    Ok(())
}
