//! Image files and 8-bit images ⇄ NCHW tensors.
//!
//! Conventions (those of diffusers' `VaeImageProcessor`, `diffusers/image_processor.py`):
//! * u8 → float: `v = u as f32 / 255.0` ([`ValueRange::ZeroOne`]), then `2v − 1`
//!   ([`ValueRange::MinusOneOne`], the range a VAE expects).
//! * float → u8: `v = x` or `x / 2 + 0.5`, clamped to `[0, 1]`, then `round(v · 255)` with
//!   round-half-to-even (NumPy's `round`), all in f32 — `numpy_to_pil(denormalize(x))`.
//!
//! Every 8-bit value survives u8 → float → u8 exactly in both ranges (tested over all 256).
//! Tensors are `[N, C, H, W]` with `C = 3` (RGB) or `C = 1` (gray).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
pub use image::{GrayImage, Luma, Rgb, RgbImage};

use crate::{Error, Result};

/// The float range pixel values are mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueRange {
    /// `[0, 1]`: 0 ↦ 0.0 and 255 ↦ 1.0.
    ZeroOne,
    /// `[−1, 1]`: 0 ↦ −1.0 and 255 ↦ 1.0. The input range of Stable Diffusion's VAEs.
    #[default]
    MinusOneOne,
}

impl ValueRange {
    /// Maps one 8-bit value to this range (f32 arithmetic exactly as diffusers does it).
    #[inline]
    pub fn from_u8(self, u: u8) -> f32 {
        let v = u as f32 / 255.0;
        match self {
            Self::ZeroOne => v,
            Self::MinusOneOne => 2.0 * v - 1.0,
        }
    }

    /// Maps one float of this range to 8 bits: clamp, scale by 255, round half to even.
    /// Returns `None` for NaN.
    #[inline]
    pub fn to_u8(self, x: f32) -> Option<u8> {
        if x.is_nan() {
            return None;
        }
        let v = match self {
            Self::ZeroOne => x,
            Self::MinusOneOne => x / 2.0 + 0.5,
        };
        Some((v.clamp(0.0, 1.0) * 255.0).round_ties_even() as u8)
    }
}

/// Reads a tensor back to the host as f32 values in row-major order.
pub(crate) fn read_f32<B: Backend, const D: usize>(
    arg: &'static str,
    t: Tensor<B, D>,
) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| Error::Readback {
        arg,
        message: format!("{e:?}"),
    })?;
    data.convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| Error::Readback {
            arg,
            message: format!("{e:?}"),
        })
}

fn planes_to_tensor<B: Backend>(
    raw: &[u8],
    channels: usize,
    [h, w]: [usize; 2],
    range: ValueRange,
    device: &B::Device,
) -> Tensor<B, 4> {
    let hw = h * w;
    let mut out = vec![0f32; channels * hw];
    for (c, plane) in out.chunks_exact_mut(hw).enumerate() {
        for (dst, px) in plane.iter_mut().zip(raw.chunks_exact(channels)) {
            *dst = range.from_u8(px[c]);
        }
    }
    Tensor::from_data(TensorData::new(out, [1, channels, h, w]), device)
}

/// An RGB8 image as a `[1, 3, H, W]` tensor in `range`.
pub fn rgb8_to_tensor<B: Backend>(
    img: &RgbImage,
    range: ValueRange,
    device: &B::Device,
) -> Tensor<B, 4> {
    let (w, h) = img.dimensions();
    planes_to_tensor(img.as_raw(), 3, [h as usize, w as usize], range, device)
}

/// A gray8 image as a `[1, 1, H, W]` tensor in `range`.
pub fn gray8_to_tensor<B: Backend>(
    img: &GrayImage,
    range: ValueRange,
    device: &B::Device,
) -> Tensor<B, 4> {
    let (w, h) = img.dimensions();
    planes_to_tensor(img.as_raw(), 1, [h as usize, w as usize], range, device)
}

/// Several RGB8 images of one size as a `[N, 3, H, W]` tensor in `range`.
///
/// # Errors
/// [`Error::Argument`] for an empty list, [`Error::Shape`] when the sizes differ.
pub fn rgb8_batch_to_tensor<B: Backend>(
    imgs: &[RgbImage],
    range: ValueRange,
    device: &B::Device,
) -> Result<Tensor<B, 4>> {
    let first = imgs
        .first()
        .ok_or_else(|| Error::argument("imgs", "at least one image", "an empty list"))?;
    if let Some(bad) = imgs.iter().find(|i| i.dimensions() != first.dimensions()) {
        let (w, h) = bad.dimensions();
        let (w0, h0) = first.dimensions();
        return Err(Error::shape(
            "imgs",
            format!("every image {w0}×{h0} (W×H) like the first"),
            &[w as usize, h as usize],
        ));
    }
    let parts = imgs
        .iter()
        .map(|i| rgb8_to_tensor(i, range, device))
        .collect();
    Ok(Tensor::cat(parts, 0))
}

fn tensor_to_planes<B: Backend>(
    t: Tensor<B, 4>,
    channels: usize,
    range: ValueRange,
) -> Result<(usize, [usize; 2], Vec<u8>)> {
    let [n, c, h, w] = t.dims();
    if c != channels {
        return Err(Error::shape(
            "tensor",
            format!("[N, {channels}, H, W]"),
            &[n, c, h, w],
        ));
    }
    if h == 0 || w == 0 || n == 0 || u32::try_from(h.max(w)).is_err() {
        return Err(Error::shape(
            "tensor",
            "N ≥ 1 and 1 ≤ H, W < 2³²",
            &[n, c, h, w],
        ));
    }
    let vals = read_f32("tensor", t)?;
    let hw = h * w;
    let mut out = vec![0u8; n * c * hw];
    let mut nan = 0usize;
    for (i, img) in out.chunks_exact_mut(c * hw).enumerate() {
        let src = &vals[i * c * hw..(i + 1) * c * hw];
        for (p, px) in img.chunks_exact_mut(c).enumerate() {
            for (ch, dst) in px.iter_mut().enumerate() {
                match range.to_u8(src[ch * hw + p]) {
                    Some(v) => *dst = v,
                    None => nan += 1,
                }
            }
        }
    }
    if nan > 0 {
        return Err(Error::NonFinite {
            arg: "tensor",
            count: nan,
        });
    }
    Ok((n, [h, w], out))
}

fn split_images<P: image::Pixel<Subpixel = u8>>(
    n: usize,
    [h, w]: [usize; 2],
    raw: Vec<u8>,
) -> Vec<image::ImageBuffer<P, Vec<u8>>> {
    let len = raw.len() / n;
    raw.chunks_exact(len)
        .filter_map(|c| image::ImageBuffer::from_raw(w as u32, h as u32, c.to_vec()))
        .collect()
}

/// A `[N, 3, H, W]` tensor in `range` as `N` RGB8 images (values outside the range are clamped).
///
/// # Errors
/// [`Error::Shape`] unless the tensor is `[N ≥ 1, 3, H ≥ 1, W ≥ 1]`; [`Error::NonFinite`] for NaN.
pub fn tensor_to_rgb8<B: Backend>(t: Tensor<B, 4>, range: ValueRange) -> Result<Vec<RgbImage>> {
    let (n, hw, raw) = tensor_to_planes(t, 3, range)?;
    Ok(split_images(n, hw, raw))
}

/// A `[N, 1, H, W]` tensor in `range` as `N` gray8 images (values outside the range are clamped).
///
/// # Errors
/// [`Error::Shape`] unless the tensor is `[N ≥ 1, 1, H ≥ 1, W ≥ 1]`; [`Error::NonFinite`] for NaN.
pub fn tensor_to_gray8<B: Backend>(t: Tensor<B, 4>, range: ValueRange) -> Result<Vec<GrayImage>> {
    let (n, hw, raw) = tensor_to_planes(t, 1, range)?;
    Ok(split_images(n, hw, raw))
}

/// OpenCV's 8-bit RGB → gray conversion (`cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)`): the BT.601
/// weights in 15-bit fixed point, `(9798·R + 19235·G + 3735·B + 2¹⁴) >> 15`
/// (`opencv/modules/imgproc/src/color_rgb.simd.hpp`, `RGB2Gray<uchar>`).
#[inline]
pub fn rgb_to_gray_opencv(r: u8, g: u8, b: u8) -> u8 {
    ((9798 * r as u32 + 19235 * g as u32 + 3735 * b as u32 + (1 << 14)) >> 15) as u8
}

/// An RGB8 image converted to gray with [`rgb_to_gray_opencv`] (AVX2 where the CPU has it,
/// bit-identical to the scalar formula).
pub fn rgb8_to_gray8(img: &RgbImage) -> GrayImage {
    use rayon::prelude::*;
    let (w, h) = img.dimensions();
    let mut raw = vec![0u8; w as usize * h as usize];
    const CHUNK: usize = 1 << 16;
    raw.par_chunks_mut(CHUNK)
        .zip(img.as_raw().par_chunks(3 * CHUNK))
        .for_each(|(out, rgb)| rgb_to_gray_slice(rgb, out));
    GrayImage::from_raw(w, h, raw).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Converts the `out.len()` pixels of packed RGB `rgb` with [`rgb_to_gray_opencv`].
fn rgb_to_gray_slice(rgb: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        return v3.vectorize(|| rgb_to_gray_v3(v3, rgb, out));
    }
    rgb_to_gray_scalar(rgb, out)
}

fn rgb_to_gray_scalar(rgb: &[u8], out: &mut [u8]) {
    for (o, &[r, g, b]) in out.iter_mut().zip(rgb.as_chunks::<3>().0) {
        *o = rgb_to_gray_opencv(r, g, b);
    }
}

/// [`rgb_to_gray_slice`] 16 pixels at a time: each 128-bit lane takes 4 pixels (12 bytes),
/// `pshufb` spreads them to 16-bit (R, G) and (B, 0) pairs and `pmaddwd` applies OpenCV's
/// weights, so the sums are the scalar formula's exactly.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rgb_to_gray_v3(simd: pulp::x86::V3, rgb: &[u8], out: &mut [u8]) {
    use pulp::bytemuck::cast;
    use std::arch::x86_64::{__m128i, __m256i};
    const Z: u8 = 0x80;
    let lanes = |c: [u8; 16]| -> __m256i { cast([c, c]) };
    let rg_ctl = lanes([0, Z, 1, Z, 3, Z, 4, Z, 6, Z, 7, Z, 9, Z, 10, Z]);
    let b_ctl = lanes([2, Z, Z, Z, 5, Z, Z, Z, 8, Z, Z, Z, 11, Z, Z, Z]);
    let rg_w: __m256i = cast([[9798i16, 19235]; 8]);
    let b_w: __m256i = cast([[3735i16, 0]; 8]);
    let round: __m256i = cast([1i32 << 14; 8]);
    let order: __m128i = cast([0u8, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15]);
    let (a, avx2) = (simd.avx, simd.avx2);
    let load = |bytes: &[u8]| -> __m128i {
        let mut v = [0u8; 16];
        v.copy_from_slice(&bytes[..16]);
        cast(v)
    };
    // 8 pixels (24 bytes, read as two 16-byte loads 12 bytes apart) → 8 gray values in i32.
    let gray8 = |px: &[u8]| -> __m256i {
        let v = a._mm256_set_m128i(load(&px[12..]), load(px));
        let rg = avx2._mm256_madd_epi16(avx2._mm256_shuffle_epi8(v, rg_ctl), rg_w);
        let b = avx2._mm256_madd_epi16(avx2._mm256_shuffle_epi8(v, b_ctl), b_w);
        avx2._mm256_srli_epi32::<15>(avx2._mm256_add_epi32(avx2._mm256_add_epi32(rg, b), round))
    };
    // The last 16-byte load of a block reads 4 bytes past its 48: keep them inside `rgb`.
    let blocks = (out.len() / 16).min(rgb.len().saturating_sub(4) / 48);
    let (head, tail) = out.split_at_mut(16 * blocks);
    for (i, o) in head.as_chunks_mut::<16>().0.iter_mut().enumerate() {
        let px = &rgb[48 * i..48 * i + 52];
        // i16 lanes [0..4, 8..12 | 4..8, 12..16] → bytes [0..4, 8..12, 4..8, 12..16] → in order.
        let words = avx2._mm256_packs_epi32(gray8(px), gray8(&px[24..]));
        let bytes = simd.sse2._mm_packus_epi16(
            a._mm256_castsi256_si128(words),
            avx2._mm256_extracti128_si256::<1>(words),
        );
        *o = cast(simd.ssse3._mm_shuffle_epi8(bytes, order));
    }
    rgb_to_gray_scalar(&rgb[48 * blocks..], tail);
}

fn image_err(path: &Path) -> impl FnOnce(image::ImageError) -> Error + '_ {
    move |source| Error::Image {
        path: path.to_path_buf(),
        source,
    }
}

fn open(path: &Path) -> Result<image::DynamicImage> {
    image::ImageReader::open(path)
        .map_err(|e| image_err(path)(image::ImageError::IoError(e)))?
        .with_guessed_format()
        .map_err(|e| image_err(path)(image::ImageError::IoError(e)))?
        .decode()
        .map_err(image_err(path))
}

/// The `[H, W]` of an image file, from its header (nothing is decoded): lets a program check a
/// request before the work.
///
/// # Errors
/// [`Error::Image`] when the file cannot be opened or is not an image.
pub fn image_size(path: impl AsRef<Path>) -> Result<[usize; 2]> {
    let path = path.as_ref();
    let (w, h) = image::ImageReader::open(path)
        .map_err(|e| image_err(path)(image::ImageError::IoError(e)))?
        .with_guessed_format()
        .map_err(|e| image_err(path)(image::ImageError::IoError(e)))?
        .into_dimensions()
        .map_err(image_err(path))?;
    Ok([h as usize, w as usize])
}

/// Reads a PNG or JPEG file as RGB8. For 8-bit files this equals Pillow's
/// `Image.open(p).convert("RGB")` (gray replicated, alpha dropped; PNG bit-exact, JPEG within a
/// few levels, see the tests). 16-bit samples are scaled to 8 bits (`v / 257`, rounded), where
/// Pillow would clip them.
///
/// # Errors
/// [`Error::Image`] when the file cannot be opened or decoded.
pub fn read_rgb8(path: impl AsRef<Path>) -> Result<RgbImage> {
    Ok(open(path.as_ref())?.into_rgb8())
}

/// Reads a PNG or JPEG file as gray8. Gray files are returned as they are; colour files are
/// converted with OpenCV's formula ([`rgb_to_gray_opencv`]), as
/// `cv2.cvtColor(np.array(Image.open(p).convert("RGB")), cv2.COLOR_RGB2GRAY)` does.
///
/// # Errors
/// [`Error::Image`] when the file cannot be opened or decoded.
pub fn read_gray8(path: impl AsRef<Path>) -> Result<GrayImage> {
    let img = open(path.as_ref())?;
    Ok(match img {
        image::DynamicImage::ImageLuma8(g) => g,
        image::DynamicImage::ImageLuma16(_) | image::DynamicImage::ImageLumaA16(_) => {
            img.into_luma8()
        }
        image::DynamicImage::ImageLumaA8(_) => img.into_luma8(),
        other => rgb8_to_gray8(&other.into_rgb8()),
    })
}

/// Reads a PNG/JPEG file as a `[1, 3, H, W]` tensor in `range`.
///
/// # Errors
/// [`Error::Image`] when the file cannot be opened or decoded.
pub fn read_rgb_tensor<B: Backend>(
    path: impl AsRef<Path>,
    range: ValueRange,
    device: &B::Device,
) -> Result<Tensor<B, 4>> {
    Ok(rgb8_to_tensor(&read_rgb8(path)?, range, device))
}

/// Reads a PNG/JPEG file as a `[1, 1, H, W]` gray tensor in `range` (see [`read_gray8`]).
///
/// # Errors
/// [`Error::Image`] when the file cannot be opened or decoded.
pub fn read_gray_tensor<B: Backend>(
    path: impl AsRef<Path>,
    range: ValueRange,
    device: &B::Device,
) -> Result<Tensor<B, 4>> {
    Ok(gray8_to_tensor(&read_gray8(path)?, range, device))
}

/// JPEG quality used when a file name ends in `.jpg`/`.jpeg` (Diffusion-4K's Compression Ratio
/// protocol uses 95 too).
pub const JPEG_QUALITY: u8 = 95;

/// Writes an 8-bit image; the format follows the extension (`.png`, `.jpg`/`.jpeg` at
/// [`JPEG_QUALITY`]).
///
/// # Errors
/// [`Error::Argument`] for another extension, [`Error::Image`] when encoding or writing fails.
pub fn save_image<P, C>(img: &image::ImageBuffer<P, C>, path: impl AsRef<Path>) -> Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let path = path.as_ref();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let file = || {
        std::fs::File::create(path)
            .map(std::io::BufWriter::new)
            .map_err(|e| image_err(path)(image::ImageError::IoError(e)))
    };
    match ext.as_deref() {
        Some("png") => img.save_with_format(path, image::ImageFormat::Png),
        Some("jpg" | "jpeg") => {
            let mut f = file()?;
            img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut f,
                JPEG_QUALITY,
            ))
        }
        _ => {
            return Err(Error::argument(
                "path",
                "a file name ending in .png, .jpg or .jpeg",
                path.display(),
            ));
        }
    }
    .map_err(image_err(path))
}

/// Writes a `[1, 3, H, W]` or `[1, 1, H, W]` tensor in `range` as a PNG or JPEG file.
///
/// # Errors
/// [`Error::Shape`] for another shape, [`Error::NonFinite`] for NaN, and the errors of
/// [`save_image`].
pub fn write_tensor<B: Backend>(
    t: Tensor<B, 4>,
    range: ValueRange,
    path: impl AsRef<Path>,
) -> Result<()> {
    let dims = t.dims();
    match dims {
        [1, 3, _, _] => save_image(&tensor_to_rgb8(t, range)?[0], path),
        [1, 1, _, _] => save_image(&tensor_to_gray8(t, range)?[0], path),
        _ => Err(Error::shape(
            "tensor",
            "[1, 3, H, W] or [1, 1, H, W]",
            &dims,
        )),
    }
}
