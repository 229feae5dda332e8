//! Benchmarks of ultrares-wavelet on the CPU backend (burn-ndarray): Haar one-level forward
//! and inverse through the fast path (the CPU kernel) on a latent, a 4K latent and a 4K RGB
//! image; the generic path on the same latent; db4 three-level `wavedec2`; and a plain memory
//! copy of the same bytes as the bandwidth ceiling.
//!
//! Throughput is bytes moved: input read + output written (2× the input size for Haar L1).
//! Run with `cargo bench --bench wavelet`; figures go in `docs/benchmarks.md`.

use std::hint::black_box;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ultrares::wavelet::fast::cpu;
use ultrares::wavelet::{Coeffs2, Mode, Wavelet, dwt2, fast, wavedec2, waverec2};

type B = NdArray<f32>;

const SHAPES: [[usize; 4]; 3] = [[1, 4, 128, 128], [1, 4, 512, 512], [1, 3, 4096, 4096]];

fn name(s: [usize; 4]) -> String {
    format!("{}x{}x{}x{}", s[0], s[1], s[2], s[3])
}

fn bytes(s: [usize; 4]) -> u64 {
    (s.iter().product::<usize>() * 4) as u64
}

fn input(s: [usize; 4]) -> Tensor<B, 4> {
    Tensor::random(s, Distribution::Default, &Default::default())
}

fn copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("memcpy");
    for s in SHAPES {
        let n = s.iter().product::<usize>();
        let src = vec![1.0f32; n];
        let mut dst = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(2 * bytes(s)));
        g.bench_function(name(s), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
    }
    g.finish();
}

fn haar(c: &mut Criterion) {
    let haar = Wavelet::haar();
    let mut g = c.benchmark_group("haar_l1");
    for s in SHAPES {
        if s[2] >= 4096 {
            g.sample_size(20);
        }
        let x = input(s);
        g.throughput(Throughput::Bytes(2 * bytes(s)));
        g.bench_function(format!("forward/{}", name(s)), |b| {
            b.iter(|| black_box(fast::dwt2(x.clone(), &haar, Mode::Zero).unwrap()))
        });
        let bands = fast::dwt2(x.clone(), &haar, Mode::Zero).unwrap();
        g.bench_function(format!("inverse/{}", name(s)), |b| {
            b.iter(|| black_box(fast::idwt2(bands.clone(), &haar, Mode::Zero).unwrap()))
        });
        // The slice kernels into reused buffers (no allocation, no first-touch page faults).
        let host = x.to_data().to_vec::<f32>().unwrap();
        let q = host.len() / 4;
        let mut out = vec![0.0f32; host.len()];
        g.bench_function(format!("forward_into/{}", name(s)), |b| {
            b.iter(|| {
                let (a, rest) = out.split_at_mut(q);
                let (h, rest) = rest.split_at_mut(q);
                let (v, d) = rest.split_at_mut(q);
                cpu::haar_dwt2_into(black_box(&host), s, [a, h, v, d]).unwrap();
            })
        });
        let (a, rest) = host.split_at(q);
        let (h, rest) = rest.split_at(q);
        let (v, d) = rest.split_at(q);
        let bs = [s[0], s[1], s[2] / 2, s[3] / 2];
        g.bench_function(format!("inverse_into/{}", name(s)), |b| {
            b.iter(|| cpu::haar_idwt2_into(black_box([a, h, v, d]), bs, &mut out).unwrap())
        });
    }
    // The generic (any wavelet, any backend) path on the latent, for comparison.
    let s = SHAPES[1];
    let x = input(s);
    g.bench_function(format!("forward_generic/{}", name(s)), |b| {
        b.iter(|| black_box(dwt2(x.clone(), &haar, Mode::Zero).unwrap()))
    });
    let bands: Coeffs2<B> = dwt2(x.clone(), &haar, Mode::Zero).unwrap();
    g.bench_function(format!("inverse_generic/{}", name(s)), |b| {
        b.iter(|| black_box(ultrares::wavelet::idwt2(bands.clone(), &haar, Mode::Zero).unwrap()))
    });
    g.finish();
}

fn db4(c: &mut Criterion) {
    let db4 = Wavelet::new("db4").unwrap();
    let mut g = c.benchmark_group("db4_l3");
    g.sample_size(20);
    let s = SHAPES[1];
    let x = input(s);
    g.throughput(Throughput::Bytes(2 * bytes(s)));
    let dec = wavedec2(x.clone(), &db4, Mode::Symmetric, 3).unwrap();
    g.bench_function(format!("wavedec2_symmetric/{}", name(s)), |b| {
        b.iter(|| black_box(fast::wavedec2(x.clone(), &db4, Mode::Symmetric, 3).unwrap()))
    });
    g.bench_function(format!("waverec2_symmetric/{}", name(s)), |b| {
        b.iter(|| black_box(fast::waverec2(dec.clone(), &db4, Mode::Symmetric).unwrap()))
    });
    g.bench_function(format!("wavedec2_symmetric_generic/{}", name(s)), |b| {
        b.iter(|| black_box(wavedec2(x.clone(), &db4, Mode::Symmetric, 3).unwrap()))
    });
    g.bench_function(format!("waverec2_symmetric_generic/{}", name(s)), |b| {
        b.iter(|| black_box(waverec2(dec.clone(), &db4, Mode::Symmetric).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, copy, haar, db4);
criterion_main!(benches);
