//! One block of SD3-medium and of Flux-dev at their 1024² token counts on the CPU backend (real
//! widths, Burn's default initialisation: the cost does not depend on the values), N = 1, f32:
//! SD3-medium's `JointTransformerBlock` (1536 wide, 24 heads) over 4096 image + 333 text tokens
//! (≈ 0.85 TFLOP), Flux-dev's double block (3072 wide) over 4096 + 512 tokens and its single
//! block. A whole call is 24 SD3 blocks, or 19 double + 38 single Flux blocks; the whole
//! SD3-medium call is timed once by `examples/dit_bench.rs` against
//! `tools/bench/dit_reference.py` (diffusers). Run with `cargo bench -p ultrares-dit`; figures go
//! in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use ultrares_dit::{
    FluxSingleTransformerBlock, FluxTransformerBlock, JointTransformerBlock, Rope, latent_image_ids,
};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_blocks(c: &mut Criterion) {
    let device = Default::default();
    let normal = Distribution::Normal(0.0, 1.0);
    let mut g = c.benchmark_group("dit");
    g.sample_size(10).measurement_time(Duration::from_secs(40));

    let sd3 = JointTransformerBlock::<B>::new(1536, 24, false, false, false, &device);
    let x = Tensor::<B, 3>::random([1, 4096, 1536], normal, &device);
    let ctx = Tensor::<B, 3>::random([1, 333, 1536], normal, &device);
    let temb = Tensor::<B, 2>::random([1, 1536], normal, &device);
    g.bench_function("sd3_medium_block_4096+333_f32", |b| {
        b.iter(|| black_box(sd3.forward(x.clone(), ctx.clone(), temb.clone())))
    });
    drop(sd3);

    let ids = Tensor::cat(
        vec![
            Tensor::<B, 2>::zeros([512, 3], &device),
            latent_image_ids(64, 64, &device),
        ],
        0,
    );
    let rope = Rope::new(ids, &[16, 56, 56], 10000.0).expect("rope");
    let x = Tensor::<B, 3>::random([1, 4096, 3072], normal, &device);
    let ctx = Tensor::<B, 3>::random([1, 512, 3072], normal, &device);
    let temb = Tensor::<B, 2>::random([1, 3072], normal, &device);
    let double = FluxTransformerBlock::<B>::new(3072, 24, &device);
    g.bench_function("flux_dev_double_block_4096+512_f32", |b| {
        b.iter(|| black_box(double.forward(x.clone(), ctx.clone(), temb.clone(), &rope)))
    });
    drop(double);
    let single = FluxSingleTransformerBlock::<B>::new(3072, 24, &device);
    let joint = Tensor::cat(vec![ctx, x], 1);
    g.bench_function("flux_dev_single_block_4608_f32", |b| {
        b.iter(|| black_box(single.forward(joint.clone(), temb.clone(), &rope)))
    });
    g.finish();
}

criterion_group!(benches, bench_blocks);
criterion_main!(benches);
