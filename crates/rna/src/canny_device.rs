//! Canny in Burn tensor ops, on any backend: the same integer arithmetic as [`crate::canny`](mod@crate::canny)
//! (OpenCV's), expressed as shifted slices, comparisons and masks, so it runs where the tensors
//! live (GPU included) and gives the same edges bit for bit (tested against the host version).
//!
//! Hysteresis labels the 8-connected components of the candidate pixels (minimum-label
//! propagation over 3×3 neighbourhoods with pointer jumping, `label ← label[label]`, until
//! nothing changes) and keeps the components that contain a strong pixel: the same set as
//! OpenCV's stack-based flood fill. Pointer jumping shortens the propagation, but the number of
//! passes still grows with the length of the weak chains: photographs at LSRNA's (0, 255) need
//! thousands of passes (about a minute per 512² image on the CPU backend), so the host
//! [`crate::canny()`] is the one to use there until a dedicated connected-components kernel
//! lands. Each pass reads one boolean back to the host. Integer values stay below 2³¹ for every aperture, so 32-bit integer backends are exact.

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use burn::tensor::ops::PadMode;
use burn::tensor::{Bool, Int, TensorData};
use ultrares_core::image::GrayImage;

use crate::canny::{CannyConfig, TG22, sobel_kernels};
use crate::{Error, Result};

/// Pointer-jumping steps per label-propagation pass.
const JUMPS: usize = 2;

fn shift<B: Backend>(
    t: &Tensor<B, 4, Int>,
    dy: usize,
    dx: usize,
    [h, w]: [usize; 2],
) -> Tensor<B, 4, Int> {
    let [n, c, _, _] = t.dims();
    t.clone().slice([0..n, 0..c, dy..dy + h, dx..dx + w])
}

fn weighted_sum<B: Backend>(
    t: &Tensor<B, 4, Int>,
    kernel: &[i32],
    vertical: bool,
    out: [usize; 2],
) -> Tensor<B, 4, Int> {
    let mut acc: Option<Tensor<B, 4, Int>> = None;
    for (k, &c) in kernel.iter().enumerate().filter(|(_, c)| **c != 0) {
        let s = if vertical {
            shift(t, k, 0, out)
        } else {
            shift(t, 0, k, out)
        };
        let term = if c == 1 { s } else { s.mul_scalar(c) };
        acc = Some(match acc {
            Some(a) => a + term,
            None => term,
        });
    }
    acc.unwrap_or_else(|| Tensor::zeros([t.dims()[0], t.dims()[1], out[0], out[1]], &t.device()))
}

/// Round-half-to-even of `s / 16`, exact in f32 for the aperture-7 range (|s| < 2²⁴).
fn div16_round_even<B: Backend>(s: Tensor<B, 4, Int>) -> Tensor<B, 4, Int> {
    s.float().div_scalar(16.0).round().int()
}

/// Canny edges of `gray` (`[N, 1, H, W]`, integer values 0…255) as a boolean mask of the same
/// shape, with OpenCV's semantics ([`crate::canny()`]).
///
/// # Errors
/// [`Error::Argument`] for invalid parameters; [`ultrares_core::Error::Shape`] unless the input
/// is `[N ≥ 1, 1, H ≥ 1, W ≥ 1]`.
pub fn canny_tensor<B: Backend>(
    gray: Tensor<B, 4, Int>,
    cfg: &CannyConfig,
) -> Result<Tensor<B, 4, Bool>> {
    let (low, high) = cfg.thresholds()?;
    let dims = gray.dims();
    let [n, c, h, w] = dims;
    if n == 0 || c != 1 || h == 0 || w == 0 {
        return Err(ultrares_core::Error::shape("gray", "[N ≥ 1, 1, H ≥ 1, W ≥ 1]", &dims).into());
    }
    let (s, d) = sobel_kernels(cfg.aperture);
    let r = s.len() / 2;
    // Sobel with BORDER_REPLICATE: vertical pass then horizontal pass on an edge-padded image.
    let padded = gray.pad([(r, r), (r, r)], PadMode::Edge);
    let vs = weighted_sum(&padded, s, true, [h, w + 2 * r]);
    let vd = weighted_sum(&padded, d, true, [h, w + 2 * r]);
    let mut gx = weighted_sum(&vs, d, false, [h, w]);
    let mut gy = weighted_sum(&vd, s, false, [h, w]);
    if cfg.aperture == 7 {
        gx = div16_round_even(gx);
        gy = div16_round_even(gy);
    }
    let mag = if cfg.l2_gradient {
        gx.clone() * gx.clone() + gy.clone() * gy.clone()
    } else {
        gx.clone().abs() + gy.clone().abs()
    };
    // Neighbour magnitudes with a zero border.
    let mp = mag.clone().pad([(1, 1), (1, 1)], PadMode::Constant(0.0));
    let at = |dy: usize, dx: usize| shift(&mp, dy, dx, [h, w]);
    let x = gx.clone().abs();
    let y = gy.clone().abs().mul_scalar(1 << 15);
    let tg22x = x.clone().mul_scalar(TG22);
    let tg67x = tg22x.clone() + x.mul_scalar(1 << 16);
    let horizontal = y.clone().lower(tg22x);
    let vertical = y.greater(tg67x);
    let diagonal = horizontal.clone().bool_or(vertical.clone()).bool_not();
    let gt = |a: Tensor<B, 4, Int>| mag.clone().greater(a);
    let ge = |a: Tensor<B, 4, Int>| mag.clone().greater_equal(a);
    let max_h = gt(at(1, 0)).bool_and(ge(at(1, 2)));
    let max_v = gt(at(0, 1)).bool_and(ge(at(2, 1)));
    let opposite = gx.lower_elem(0).bool_xor(gy.lower_elem(0));
    let anti = gt(at(0, 2)).bool_and(gt(at(2, 0)));
    let main = gt(at(0, 0)).bool_and(gt(at(2, 2)));
    let max_d = anti
        .bool_and(opposite.clone())
        .bool_or(main.bool_and(opposite.bool_not()));
    let is_max = horizontal
        .bool_and(max_h)
        .bool_or(vertical.bool_and(max_v))
        .bool_or(diagonal.bool_and(max_d));
    let candidate = is_max.bool_and(mag.clone().greater_elem(low));
    let strong = candidate.clone().bool_and(mag.greater_elem(high));
    Ok(hysteresis(strong, candidate))
}

fn hysteresis<B: Backend>(
    strong: Tensor<B, 4, Bool>,
    candidate: Tensor<B, 4, Bool>,
) -> Tensor<B, 4, Bool> {
    // Connected components of the candidate pixels (8-connectivity) by min-label propagation
    // with pointer jumping, then a component is an edge if it holds a strong pixel.
    let dims = candidate.dims();
    let [n, c, h, w] = dims;
    let total = n * c * h * w;
    let device = candidate.device();
    let none = total as i64; // label of non-candidates; index `total` of the extended arrays.
    let ids = Tensor::<B, 1, Int>::arange(0..total as i64, &device).reshape(dims);
    let mut labels = ids.mask_fill(candidate.clone().bool_not(), none);
    let sentinel = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![none], [1]), &device);
    loop {
        // Minimum label over the 3×3 neighbourhood, kept on candidates only.
        let padded = labels
            .clone()
            .pad([(1, 1), (1, 1)], PadMode::Constant(none as f32));
        let mut m = labels.clone();
        for dy in 0..3 {
            for dx in 0..3 {
                if (dy, dx) != (1, 1) {
                    m = m.min_pair(shift(&padded, dy, dx, [h, w]));
                }
            }
        }
        let mut next = m
            .mask_fill(candidate.clone().bool_not(), none)
            .reshape([total]);
        // Pointer jumping: label ← label[label], twice.
        for _ in 0..JUMPS {
            let ext = Tensor::cat(vec![next.clone(), sentinel.clone()], 0);
            next = ext.gather(0, next);
        }
        let next = next.reshape(dims);
        let done = next.clone().equal(labels.clone()).all().into_scalar();
        labels = next;
        if done.elem::<bool>() {
            break;
        }
    }
    // Components that contain a strong pixel.
    let flat = labels.reshape([total]);
    let hits = Tensor::<B, 1, Int>::zeros([total + 1], &device).scatter(
        0,
        flat.clone(),
        strong.int().reshape([total]),
        IndexingUpdateOp::Add,
    );
    hits.gather(0, flat)
        .greater_elem(0)
        .reshape(dims)
        .bool_and(candidate)
}

/// [`canny_tensor`] on a host gray image, computed on `device`, read back as 0/255.
///
/// # Errors
/// As [`canny_tensor`]; an empty image is an [`Error::Argument`].
pub fn canny_on_device<B: Backend>(
    gray: &GrayImage,
    cfg: &CannyConfig,
    device: &B::Device,
) -> Result<GrayImage> {
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::argument(
            "gray",
            "an image of at least 1×1",
            format!("{w}×{h}"),
        ));
    }
    let data: Vec<i32> = gray.as_raw().iter().map(|&v| v as i32).collect();
    let t = Tensor::<B, 4, Int>::from_data(
        TensorData::new(data, [1, 1, h as usize, w as usize]),
        device,
    );
    let mask = canny_tensor(t, cfg)?;
    let values = mask
        .int()
        .into_data()
        .convert::<i32>()
        .into_vec::<i32>()
        .map_err(|e| ultrares_core::Error::Readback {
            arg: "edges",
            message: format!("{e:?}"),
        })?;
    let raw = values
        .iter()
        .map(|&v| if v != 0 { 255 } else { 0 })
        .collect();
    GrayImage::from_raw(w, h, raw)
        .ok_or_else(|| Error::argument("gray", "a consistent buffer", "none"))
}
