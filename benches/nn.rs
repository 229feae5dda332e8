//! Benchmarks of ultrares-nn on the CPU backend: scaled dot-product attention through the
//! backend's path (`attention`: parallel query-row tasks with faer products on burn-ndarray) against Burn's
//! `attention_fallback` (the full score matrix), at SDXL's two self-attention levels with 1024² px
//! (4096 tokens × 10 heads × 64 at 64², 1024 tokens × 20 heads × 64 at 32²) and cross-attention
//! to 77 text tokens; GroupNorm with f32 statistics over a UNet-sized map; the exact GELU (host
//! kernel against Burn's `erf` formula) and the GEGLU gate of SDXL's 64² transformer level.
//!
//! `tools/bench/nn_reference.py` times PyTorch's `scaled_dot_product_attention`, `group_norm`,
//! `gelu` and diffusers' GEGLU gate on the same shapes. Run with `cargo bench --bench nn`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;
use std::time::Duration;

use burn::backend::NdArray;
use burn::tensor::module::attention_fallback;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::nn::activation::Activation;
use ultrares::nn::attention::attention;
use ultrares::nn::{GroupNormConfig, NnBackend};

type B = NdArray<f32>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_nn(c: &mut Criterion) {
    let device = Default::default();
    let mut g = c.benchmark_group("nn");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let opts = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: false,
    };
    let rand = |s: [usize; 4]| Tensor::<B, 4>::random(s, Distribution::Normal(0.0, 1.0), &device);
    for (name, heads, lq, lk) in [
        ("self_4096x10x64", 10, 4096, 4096),
        ("self_1024x20x64", 20, 1024, 1024),
        ("cross_4096x10x64_77", 10, 4096, 77),
    ] {
        let (q, k, v) = (
            rand([1, heads, lq, 64]),
            rand([1, heads, lk, 64]),
            rand([1, heads, lk, 64]),
        );
        g.throughput(Throughput::Elements((heads * lq * lk) as u64));
        g.bench_function(format!("attention_{name}"), |b| {
            b.iter(|| black_box(attention(q.clone(), k.clone(), v.clone(), None, None, opts)))
        });
        g.bench_function(format!("attention_fallback_{name}"), |b| {
            b.iter(|| {
                black_box(attention_fallback(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    None,
                    None,
                    opts,
                ))
            })
        });
    }
    let gn = GroupNormConfig::new(32, 320).init::<B>(&device);
    let x = rand([1, 320, 128, 128]);
    g.throughput(Throughput::Elements(320 * 128 * 128));
    g.bench_function("group_norm_320x128x128", |b| {
        b.iter(|| black_box(gn.forward(x.clone())))
    });
    g.bench_function("group_norm_silu_320x128x128", |b| {
        b.iter(|| black_box(gn.forward_silu(x.clone())))
    });
    // The exact GELU and GEGLU of SDXL's 64² transformer level (4096 tokens, 2560 gate width).
    let h = Tensor::<B, 3>::random([1, 4096, 5120], Distribution::Normal(0.0, 1.0), &device);
    let x = h.clone().narrow(2, 0, 2560).into_data();
    let x = Tensor::<B, 3>::from_data(x, &device);
    g.throughput(Throughput::Elements(4096 * 2560));
    g.bench_function("gelu_4096x2560", |b| {
        b.iter(|| black_box(Activation::Gelu.forward(x.clone())))
    });
    g.bench_function("silu_4096x2560", |b| {
        b.iter(|| black_box(Activation::Silu.forward(x.clone())))
    });
    g.bench_function("gelu_portable_4096x2560", |b| {
        b.iter(|| black_box(Activation::Gelu.forward_portable(x.clone())))
    });
    g.bench_function("geglu_4096x2560", |b| {
        b.iter(|| black_box(B::nn_glu(h.clone(), Activation::Gelu)))
    });
    g.finish();
}

criterion_group!(benches, bench_nn);
criterion_main!(benches);
