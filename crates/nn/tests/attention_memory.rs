//! The chunked attention's memory bound at 16 384 tokens: the full score matrix of one head
//! would be 16 384² · 4 B = 1 GiB; with a 2²² element score block the call must stay within the
//! documented `3 · 4 · max_scores` bytes of chunk temporaries plus the f32 copies of `q`, `kᵀ`,
//! `v` and the output (measured with a counting global allocator), and its rows must equal
//! `attention_fallback` run on the same queries.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::attention_fallback;
use burn::tensor::ops::AttentionModuleOptions;
use ultrares_nn::attention::attention_chunked;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type B = burn::backend::NdArray<f32>;

#[test]
fn chunked_attention_at_16k_tokens_stays_within_its_bound() {
    let dev = Default::default();
    let (l, d) = (16_384, 64);
    let q = Tensor::<B, 4>::random([1, 1, l, d], Distribution::Normal(0.0, 1.0), &dev);
    let k = Tensor::<B, 4>::random([1, 1, l, d], Distribution::Normal(0.0, 1.0), &dev);
    let v = Tensor::<B, 4>::random([1, 1, l, d], Distribution::Normal(0.0, 1.0), &dev);
    let opts = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: false,
    };
    let max_scores = 1 << 22;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = attention_chunked(
        q.clone(),
        k.clone(),
        v.clone(),
        None,
        None,
        opts,
        max_scores,
    );
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let tensors = 4 * (4 * l * d); // q, kᵀ, v and the output in f32
    let bound = 3 * 4 * max_scores + 2 * tensors;
    println!(
        "16k-token attention: peak {:.1} MiB above the inputs, bound {:.1} MiB, full scores {:.0} MiB",
        peak as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        (4 * l * l) as f64 / 1048576.0
    );
    assert!(peak <= bound, "peak {peak} B > bound {bound} B");
    // Rows are independent: the reference on 64 of the queries.
    let rows = 4000..4064;
    let want = attention_fallback(
        q.slice([0..1, 0..1, rows.clone(), 0..d]),
        k,
        v,
        None,
        None,
        opts,
    );
    let got = out.slice([0..1, 0..1, rows, 0..d]);
    let scale: f32 = want.clone().abs().max().into_scalar();
    let err: f32 = (got - want).abs().max().into_scalar();
    assert!(err / scale <= 1e-5, "rel err {}", err / scale);
}
