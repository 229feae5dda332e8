//! Pillow's `Image.resize` for 8-bit images (`libImaging/Resample.c`), bit for bit: separable
//! convolution with the filter stretched by the downscale factor, coefficients normalised in
//! f64 and quantised to 22 fractional bits, a horizontal pass into an 8-bit intermediate over
//! the rows the vertical pass needs, then the vertical pass; each sum rounded and clipped.
//!
//! LSRNA's pFID/pKID protocol resizes ground truth with Lanczos, and its Pixelsmith baseline
//! upsamples references in RGB with Lanczos; both mean this function.

use image::{ImageBuffer, Pixel};
use rayon::prelude::*;

use crate::{Error, Result};

/// Pillow's resampling filters (`Image.Resampling`), except `NEAREST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PilFilter {
    /// `BOX` (support ½).
    Box,
    /// `BILINEAR`: triangle (support 1).
    Bilinear,
    /// `HAMMING` (support 1).
    Hamming,
    /// `BICUBIC`: Keys cubic with a = −0.5 (support 2).
    Bicubic,
    /// `LANCZOS`: 3-lobe windowed sinc (support 3).
    #[default]
    Lanczos,
}

impl PilFilter {
    fn support(self) -> f64 {
        match self {
            Self::Box => 0.5,
            Self::Bilinear | Self::Hamming => 1.0,
            Self::Bicubic => 2.0,
            Self::Lanczos => 3.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let x = x * std::f64::consts::PI;
                x.sin() / x
            }
        }
        match self {
            Self::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Bilinear => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            Self::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let xp = x * std::f64::consts::PI;
                    // Pillow's constants are C floats (0.54f, 0.46f).
                    xp.sin() / xp * (f64::from(0.54f32) + f64::from(0.46f32) * xp.cos())
                }
            }
            Self::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Self::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// How the normalised taps are quantised.
#[derive(Clone, Copy)]
enum Quant {
    /// Pillow: 22 fractional bits (`normalize_coeffs_8bpc`).
    Pil,
    /// PyTorch's uint8 antialiased kernels (`_compute_index_ranges_int16_weights`): int16 taps
    /// with the most fractional bits (≤ 22) that keep the largest tap below 2¹⁵.
    TorchInt16,
}

/// Per output sample: first input index, tap count, and the fixed-point taps with `bits`
/// fractional bits (`precompute_coeffs` + `normalize_coeffs_8bpc`).
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    k: Vec<i32>,
    bits: u32,
}

fn coeffs(in_size: usize, out_size: usize, filter: PilFilter, quant: Quant) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut norm = vec![0f64; out_size * ksize];
    let mut w = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncation toward zero, then the clamps.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax =
            (((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin).min(ksize);
        let mut ww = 0.0;
        for (x, wx) in w.iter_mut().enumerate().take(xmax) {
            *wx = filter.eval((x as f64 + xmin as f64 - center + 0.5) * ss);
            ww += *wx;
        }
        for (x, wx) in w.iter().enumerate().take(xmax) {
            norm[xx * ksize + x] = if ww != 0.0 { wx / ww } else { *wx };
        }
        bounds.push((xmin, xmax));
    }
    let bits = match quant {
        Quant::Pil => PRECISION_BITS,
        Quant::TorchInt16 => {
            let w_max = norm.iter().copied().fold(0f64, f64::max);
            (0..22u32)
                .find(|&p| (0.5 + w_max * f64::from(1u32 << (p + 1))) as i64 >= 1 << 15)
                .unwrap_or(22)
        }
    };
    let k = norm
        .iter()
        .map(|&v| {
            let v = v * f64::from(1u32 << bits);
            let q = if v < 0.0 {
                (-0.5 + v) as i32
            } else {
                (0.5 + v) as i32
            };
            match quant {
                Quant::Pil => q,
                Quant::TorchInt16 => i32::from(q as i16),
            }
        })
        .collect();
    Coeffs {
        ksize,
        bounds,
        k,
        bits,
    }
}

#[inline(always)]
fn clip8(v: i64, bits: u32) -> u8 {
    if v >= (1i64 << bits << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> bits) as u8
    }
}

/// Resizes an 8-bit image (any `image` pixel type with `u8` channels: Luma, LumaA, Rgb, Rgba)
/// to `width × height` as Pillow's `img.resize((width, height), filter)` does (no
/// `reducing_gap`). The same size returns a copy, like Pillow.
///
/// # Errors
/// [`Error::Argument`] for an empty input or output or an output side above 65,536.
pub fn resize_pil<P>(
    img: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
    filter: PilFilter,
) -> Result<ImageBuffer<P, Vec<u8>>>
where
    P: Pixel<Subpixel = u8>,
{
    resample(img, width, height, filter, Quant::Pil)
}

/// PyTorch's `interpolate(x, size, mode, antialias=True, align_corners=False)` on a uint8 image
/// (`aten/src/ATen/native/cpu/UpSampleKernel.cpp`, the separable uint8 kernels): what
/// torchvision's `resize` runs on uint8 tensors on the CPU, and so transformers 5's image
/// processors (CLIP's among them). The same filters and tap positions as Pillow, but int16 taps
/// with as many fractional bits as fit, so results differ from Pillow by a level or two.
///
/// # Errors
/// [`Error::Argument`] for a filter other than `Bilinear` or `Bicubic` (the antialiased modes
/// PyTorch has), or as [`resize_pil`].
pub fn resize_torch_antialias<P>(
    img: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
    filter: PilFilter,
) -> Result<ImageBuffer<P, Vec<u8>>>
where
    P: Pixel<Subpixel = u8>,
{
    if !matches!(filter, PilFilter::Bilinear | PilFilter::Bicubic) {
        return Err(Error::argument(
            "filter",
            "Bilinear or Bicubic (PyTorch's antialiased modes)",
            format!("{filter:?}"),
        ));
    }
    resample(img, width, height, filter, Quant::TorchInt16)
}

fn resample<P>(
    img: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
    filter: PilFilter,
    quant: Quant,
) -> Result<ImageBuffer<P, Vec<u8>>>
where
    P: Pixel<Subpixel = u8>,
{
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::argument(
            "img",
            "a non-empty image",
            format!("{w}×{h}"),
        ));
    }
    if width == 0 || height == 0 || width > 65_536 || height > 65_536 {
        return Err(Error::argument(
            "size",
            "1..=65536 per side",
            format!("{width}×{height}"),
        ));
    }
    let (ow, oh) = (width as usize, height as usize);
    let c = usize::from(P::CHANNEL_COUNT);
    let src = img.as_raw();
    let (ch, cv) = (coeffs(w, ow, filter, quant), coeffs(h, oh, filter, quant));
    // Rows the vertical pass reads.
    let (y_first, y_last) = if oh != h {
        let (a, _) = cv.bounds[0];
        let (b, n) = cv.bounds[oh - 1];
        (a, b + n)
    } else {
        (0, h)
    };
    let tmp: std::borrow::Cow<[u8]> = if ow != w {
        let mut out = vec![0u8; (y_last - y_first) * ow * c];
        out.par_chunks_mut(ow * c).enumerate().for_each(|(r, row)| {
            let s = &src[(r + y_first) * w * c..][..w * c];
            for (xx, px) in row.chunks_exact_mut(c).enumerate() {
                let (xmin, n) = ch.bounds[xx];
                let k = &ch.k[xx * ch.ksize..][..n];
                for (ci, o) in px.iter_mut().enumerate() {
                    let mut acc = 1i64 << (ch.bits - 1);
                    for (x, &kx) in k.iter().enumerate() {
                        acc += i64::from(s[(xmin + x) * c + ci]) * i64::from(kx);
                    }
                    *o = clip8(acc, ch.bits);
                }
            }
        });
        out.into()
    } else {
        src[y_first * w * c..y_last * w * c].into()
    };
    let out = if oh != h {
        let mut out = vec![0u8; oh * ow * c];
        out.par_chunks_mut(ow * c)
            .enumerate()
            .for_each(|(yy, row)| {
                let (ymin, n) = cv.bounds[yy];
                let ymin = ymin - y_first;
                let k = &cv.k[yy * cv.ksize..][..n];
                for (i, o) in row.iter_mut().enumerate() {
                    let mut acc = 1i64 << (cv.bits - 1);
                    for (y, &ky) in k.iter().enumerate() {
                        acc += i64::from(tmp[(ymin + y) * ow * c + i]) * i64::from(ky);
                    }
                    *o = clip8(acc, cv.bits);
                }
            });
        out
    } else {
        tmp.into_owned()
    };
    ImageBuffer::from_raw(width, height, out)
        .ok_or_else(|| Error::argument("size", "a consistent buffer", format!("{width}×{height}")))
}
