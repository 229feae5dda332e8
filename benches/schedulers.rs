//! A 50-step sampling loop of each scheduler on an SDXL-1024² latent (1, 4, 128, 128) with a
//! fixed model output (the scheduler's own cost per step), on burn-ndarray.
//! Run with `cargo bench --bench schedulers`; figures go in `docs/benchmarks.md` beside
//! `tools/bench/schedulers_reference.py` (diffusers).

use std::hint::black_box;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares::schedulers::{
    Ddim, DpmSolverMultistep, EulerDiscrete, FlowMatchEuler, Scheduler, SchedulerConfig,
};

type B = NdArray<f32>;

fn run<S: Scheduler<B>>(mut s: S, x: &Tensor<B, 4>, out: &Tensor<B, 4>) -> Tensor<B, 4> {
    let mut x = x.clone();
    for i in 0..s.timesteps().len() {
        let inp = s.scale_model_input(x.clone(), i).unwrap();
        black_box(inp);
        x = s.step(out.clone(), i, x, None).unwrap();
    }
    x
}

fn loops(c: &mut Criterion) {
    let device = Default::default();
    let x = Tensor::<B, 4>::random([1, 4, 128, 128], Distribution::Default, &device);
    let out = Tensor::<B, 4>::random([1, 4, 128, 128], Distribution::Default, &device);
    let mut g = c.benchmark_group("scheduler_50_steps_1x4x128x128");
    // Construction (= diffusers' set_timesteps) is inside the timed loop, as in the reference.
    let (sdxl, sd3) = (SchedulerConfig::sdxl(), SchedulerConfig::sd3());
    g.bench_function("ddim", |b| {
        b.iter(|| black_box(run(Ddim::new(sdxl.clone(), 50).unwrap(), &x, &out)))
    });
    g.bench_function("euler", |b| {
        b.iter(|| black_box(run(EulerDiscrete::new(sdxl.clone(), 50).unwrap(), &x, &out)))
    });
    g.bench_function("dpm_solver_2m", |b| {
        b.iter(|| {
            black_box(run(
                DpmSolverMultistep::<B>::new(sdxl.clone(), 50).unwrap(),
                &x,
                &out,
            ))
        })
    });
    g.bench_function("flow_match_euler", |b| {
        b.iter(|| black_box(run(FlowMatchEuler::new(&sd3, 50).unwrap(), &x, &out)))
    });
    g.finish();
}

criterion_group!(benches, loops);
criterion_main!(benches);
