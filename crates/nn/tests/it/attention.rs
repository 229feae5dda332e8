//! Attention: the chunked path and the backend's [`ultrares_nn::attention::attention`] against
//! Burn's `attention_fallback` (the reference Burn exports for testing backends), for self- and
//! cross-attention, 64–4096 query tokens, 1–20 heads, head dims 40/64/128, with and without
//! masks, bias, causal masking and custom scales; and torch's SDPA on a fixture.
//!
//! `--features wgpu,ndarray` runs the same checks with the fused CubeCL kernel (on lavapipe without a
//! GPU); tolerances there are TF32-free (wgpu computes f32 matmuls in f32).

use std::fs::File;
use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::module::attention_fallback;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Distribution, TensorData};
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use ultrares_nn::attention::{attention, attention_chunked};

#[cfg(not(feature = "wgpu"))]
type B = burn::backend::NdArray<f32>;
#[cfg(feature = "wgpu")]
type B = burn::backend::Wgpu<f32>;

fn opts(scale: Option<f64>, causal: bool) -> AttentionModuleOptions {
    AttentionModuleOptions {
        scale,
        softcap: None,
        is_causal: causal,
    }
}

fn rand(shape: [usize; 4], seed: u64) -> Tensor<B, 4> {
    B::seed(&Default::default(), seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

fn max_rel(got: Tensor<B, 4>, want: Tensor<B, 4>) -> f32 {
    assert_eq!(got.dims(), want.dims());
    let scale: f32 = want.clone().abs().max().into_scalar();
    let err: f32 = (got - want).abs().max().into_scalar();
    err / scale.max(1e-30)
}

struct Case {
    n: usize,
    heads: usize,
    lq: usize,
    lk: usize,
    d: usize,
    mask: bool,
    bias: bool,
    causal: bool,
    scale: Option<f64>,
}

fn check(c: &Case, seed: u64) {
    let q = rand([c.n, c.heads, c.lq, c.d], seed);
    let k = rand([c.n, c.heads, c.lk, c.d], seed + 1);
    let v = rand([c.n, c.heads, c.lk, c.d], seed + 2);
    let mask = c
        .mask
        .then(|| rand([c.n, c.heads, c.lq, c.lk], seed + 3).greater_elem(0.8));
    let bias = c
        .bias
        .then(|| rand([c.n, c.heads, c.lq, c.lk], seed + 4).mul_scalar(0.5));
    let o = opts(c.scale, c.causal);
    let want = attention_fallback(
        q.clone(),
        k.clone(),
        v.clone(),
        mask.clone(),
        bias.clone(),
        o,
    );
    let label = format!(
        "N{} H{} Lq{} Lk{} D{} mask {} bias {} causal {} scale {:?}",
        c.n, c.heads, c.lq, c.lk, c.d, c.mask, c.bias, c.causal, c.scale
    );
    // Small score blocks force many chunks, including a ragged last one.
    for max_scores in [1 << 24, 7 * c.lk * c.n * c.heads, 1] {
        let got = attention_chunked(
            q.clone(),
            k.clone(),
            v.clone(),
            mask.clone(),
            bias.clone(),
            o,
            max_scores,
        );
        let err = max_rel(got, want.clone());
        assert!(err <= 1e-5, "{label} chunked({max_scores}): {err:e}");
    }
    let got = attention(q, k, v, mask, bias, o);
    let err = max_rel(got, want);
    println!("{label}: backend attention rel err {err:.1e}");
    assert!(err <= 1e-5, "{label} backend attention: {err:e}");
}

#[test]
fn chunked_and_backend_attention_equal_the_fallback() {
    let base = Case {
        n: 1,
        heads: 1,
        lq: 64,
        lk: 64,
        d: 64,
        mask: false,
        bias: false,
        causal: false,
        scale: None,
    };
    let cases = [
        // Self-attention: the UNet's 4096-token level (1 head to keep the reference's full score
        // matrix at 64 MiB), SDXL's 20 heads of 64, SD's head dim 40, DiT's 128.
        Case {
            lq: 4096,
            lk: 4096,
            ..base
        },
        Case {
            heads: 20,
            lq: 256,
            lk: 256,
            ..base
        },
        Case {
            heads: 8,
            lq: 1024,
            lk: 1024,
            d: 40,
            ..base
        },
        Case {
            n: 2,
            heads: 4,
            lq: 300,
            lk: 300,
            d: 128,
            ..base
        },
        // Cross-attention to 77 text tokens, with and without a key mask.
        Case {
            heads: 10,
            lq: 1024,
            lk: 77,
            mask: true,
            ..base
        },
        Case {
            n: 2,
            heads: 5,
            lq: 64,
            lk: 77,
            d: 128,
            ..base
        },
        // Masks, bias (T5/SwinIR relative positions), causal (CLIP), custom scale (T5: 1).
        Case {
            heads: 3,
            lq: 100,
            lk: 100,
            mask: true,
            bias: true,
            ..base
        },
        Case {
            heads: 2,
            lq: 77,
            lk: 77,
            causal: true,
            ..base
        },
        Case {
            heads: 2,
            lq: 64,
            lk: 96,
            causal: true,
            d: 40,
            ..base
        },
        Case {
            heads: 4,
            lq: 128,
            lk: 128,
            scale: Some(1.0),
            bias: true,
            ..base
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        check(c, 100 * i as u64);
    }
}

#[test]
fn fully_masked_rows_give_zeros_as_the_fallback() {
    let q = rand([1, 1, 5, 8], 1);
    let k = rand([1, 1, 6, 8], 2);
    let v = rand([1, 1, 6, 8], 3);
    let mut hidden = vec![false; 30];
    hidden[12..18].iter_mut().for_each(|h| *h = true); // row 2 fully hidden
    let mask =
        Tensor::<B, 4, Bool>::from_data(TensorData::new(hidden, [1, 1, 5, 6]), &Default::default());
    let got = attention_chunked(q, k, v, Some(mask), None, opts(None, false), 6);
    let row: f32 = got
        .slice([0..1, 0..1, 2..3, 0..8])
        .abs()
        .max()
        .into_scalar();
    assert_eq!(row, 0.0);
}

/// torch's `scaled_dot_product_attention` on the fixture (tools/golden/gen_nn.py): a boolean mask
/// with a fully masked row (torch NaN, stored as 0; Burn's convention gives 0), and causal.
#[test]
fn chunked_attention_equals_torch_sdpa() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nn.npz");
    let mut npz = NpzReader::new(File::open(path).expect("fixture")).expect("npz");
    let dev = Default::default();
    let mut t = |key: &str| {
        let a: ArrayD<f32> = npz.by_name(key).expect(key);
        let shape: [usize; 4] = a.shape().try_into().expect("rank 4");
        Tensor::<B, 4>::from_data(TensorData::new(a.iter().copied().collect(), shape), &dev)
    };
    let (q, k, v) = (t("q"), t("k"), t("v"));
    let (sdpa, causal) = (t("sdpa"), t("sdpa_causal"));
    let a: ArrayD<u8> = npz.by_name("mask_hidden").expect("mask");
    let shape: [usize; 4] = a.shape().try_into().expect("rank 4");
    let hidden: Vec<bool> = a.iter().map(|&b| b != 0).collect();
    let mask = Tensor::<B, 4, Bool>::from_data(TensorData::new(hidden, shape), &dev);
    let got = attention_chunked(
        q.clone(),
        k.clone(),
        v.clone(),
        Some(mask),
        None,
        opts(None, false),
        13,
    );
    let err = max_rel(got, sdpa);
    assert!(err <= 1e-6, "masked: {err:e}");
    let k10 = k.slice([0..1, 0..2, 0..10, 0..8]);
    let v10 = v.slice([0..1, 0..2, 0..10, 0..6]);
    let got = attention_chunked(q, k10, v10, None, None, opts(None, true), 26);
    let err = max_rel(got, causal);
    assert!(err <= 1e-6, "causal: {err:e}");
}

/// burn-ndarray's host path (parallel query-row tasks, faer products) with values wider than
/// keys, a query count that splits tasks across heads, several batches, and heads split by
/// `swap_dims` (non-contiguous inputs, copied to row-major first) as the UNet and DiTs pass them.
#[test]
fn host_attention_with_value_width_and_ragged_tasks_equals_the_fallback() {
    for ((n, h, lq, lk, d, dv), swapped) in [
        ((2, 3, 200, 150, 16, 24), false),
        ((1, 5, 129, 1, 8, 8), false),
        ((1, 1, 1, 300, 4, 2), false),
        ((2, 3, 200, 150, 16, 24), true),
        ((2, 4, 64, 77, 8, 8), true),
    ] {
        let heads = |len: usize, width: usize, seed: u64| {
            if swapped {
                rand([n, len, h, width], seed).swap_dims(1, 2)
            } else {
                rand([n, h, len, width], seed)
            }
        };
        let (q, k, v) = (heads(lq, d, 11), heads(lk, d, 12), heads(lk, dv, 13));
        for o in [opts(None, false), opts(Some(0.3), false)] {
            let want = attention_fallback(q.clone(), k.clone(), v.clone(), None, None, o);
            let got = attention(q.clone(), k.clone(), v.clone(), None, None, o);
            let err = max_rel(got, want);
            assert!(err <= 1e-5, "{n} {h} {lq} {lk} {d} {dv}: {err:e}");
        }
    }
}

/// A bias broadcast over the batch or head axis (Swin's window table `[1, H, L, L]`, a per-batch
/// mask `[N, 1, L, L]`, one shared `[1, 1, L, L]`) equals the fallback with the bias expanded, on
/// the chunked path and the backend's (burn-ndarray's host path takes it), including a bias made
/// non-contiguous by a permutation as SwinIR's gather leaves it.
#[test]
fn broadcast_bias_equals_the_fallback_with_the_bias_expanded() {
    let (n, h, lq, lk, d) = (3, 4, 130, 49, 16);
    let q = rand([n, h, lq, d], 21);
    let k = rand([n, h, lk, d], 22);
    let v = rand([n, h, lk, d], 23);
    for (bn, bh, permuted) in [
        (1, h, false),
        (n, 1, false),
        (1, 1, false),
        (n, h, false),
        (1, h, true),
    ] {
        let bias = if permuted {
            rand([lq, lk, bn, bh], 24).permute([2, 3, 0, 1])
        } else {
            rand([bn, bh, lq, lk], 24)
        }
        .mul_scalar(2.0);
        for o in [opts(None, false), opts(Some(0.2), false)] {
            let want = attention_fallback(
                q.clone(),
                k.clone(),
                v.clone(),
                None,
                Some(bias.clone().expand([n, h, lq, lk])),
                o,
            );
            let label = format!("bias [{bn}, {bh}] permuted {permuted} scale {:?}", o.scale);
            for max_scores in [1 << 24, 3 * lk * n * h] {
                let got = attention_chunked(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    None,
                    Some(bias.clone()),
                    o,
                    max_scores,
                );
                let err = max_rel(got, want.clone());
                assert!(err <= 1e-5, "{label} chunked({max_scores}): {err:e}");
            }
            let got = attention(q.clone(), k.clone(), v.clone(), None, Some(bias.clone()), o);
            let err = max_rel(got, want);
            assert!(err <= 1e-5, "{label} backend: {err:e}");
        }
    }
}
