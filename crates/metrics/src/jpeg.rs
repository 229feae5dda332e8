//! A baseline JPEG encoder that writes the same bytes as libjpeg-turbo (Pillow's
//! `image.save(path, "JPEG", quality=q)`), for Diffusion-4K's Compression Ratio (spec
//! `wavelet.md` §4.2).
//!
//! Every step is libjpeg-turbo 3's default compression path, integer for integer:
//! `jccolor.c` RGB→YCbCr (16-bit fixed point), `jcsample.c` box downsampling with the
//! alternating 1,2 (h2v2) / 0,1 (h2v1) rounding bias and edge replication (`jcprepct.c`),
//! `jfdctint.c` slow-integer forward DCT, `jcdctmgr.c` reciprocal quantisation, IJG quality
//! scaling of the Annex K tables (`jcparam.c`, baseline), dummy blocks at the right and bottom
//! MCU edges (`jccoefct.c`), the Annex K standard Huffman tables (not optimised) and a JFIF
//! 1.01 APP0 header. The tests compare whole files with Pillow's byte for byte.
//!
//! MCU rows are transformed and entropy-coded in parallel (each row recomputes the last MCU of
//! the row above for its DC predictors); one sequential pass joins the bit strings and stuffs
//! `0xFF` bytes.

use rayon::prelude::*;
use ultrares_core::image::{GrayImage, RgbImage};

use crate::{Error, Result};

/// Chroma subsampling (Pillow's `subsampling=` 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subsampling {
    /// 4:4:4, no subsampling (Pillow `subsampling=0`).
    S444,
    /// 4:2:2, chroma halved horizontally (`subsampling=1`).
    S422,
    /// 4:2:0, chroma halved in both directions — libjpeg's and Pillow's default.
    #[default]
    S420,
}

impl Subsampling {
    /// Luma sampling factors `(h, v)`; chroma is always 1×1.
    fn luma_factors(self) -> (usize, usize) {
        match self {
            Self::S444 => (1, 1),
            Self::S422 => (2, 1),
            Self::S420 => (2, 2),
        }
    }
}

/// Encoder settings. The default is Diffusion-4K's `image.save(path, quality=95)`: quality 95,
/// 4:2:0, baseline, standard Huffman tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegConfig {
    /// IJG quality 1–100 (libjpeg `jpeg_set_quality(q, force_baseline = TRUE)`).
    pub quality: u8,
    /// Chroma subsampling of colour images (ignored for grayscale).
    pub subsampling: Subsampling,
}

impl Default for JpegConfig {
    fn default() -> Self {
        Self {
            quality: 95,
            subsampling: Subsampling::S420,
        }
    }
}

/// libjpeg's `JPEG_MAX_DIMENSION`.
const MAX_DIMENSION: usize = 65500;

/// Encodes an RGB image as Pillow does (`Image.save(..., "JPEG", quality, subsampling)`).
pub fn encode_jpeg(img: &RgbImage, config: &JpegConfig) -> Result<Vec<u8>> {
    encode_jpeg_raw(
        img.as_raw(),
        img.width() as usize,
        img.height() as usize,
        3,
        config,
    )
}

/// Encodes an 8-bit grayscale image (Pillow mode `"L"`: one component).
pub fn encode_jpeg_gray(img: &GrayImage, config: &JpegConfig) -> Result<Vec<u8>> {
    encode_jpeg_raw(
        img.as_raw(),
        img.width() as usize,
        img.height() as usize,
        1,
        config,
    )
}

/// Encodes interleaved 8-bit pixels (`channels` 1 = gray, 3 = RGB), row-major `height × width`.
pub fn encode_jpeg_raw(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    config: &JpegConfig,
) -> Result<Vec<u8>> {
    encode_with(pulp::Arch::new(), pixels, width, height, channels, config)
}

/// [`encode_jpeg_raw`] compiled for the baseline instruction set only (no run-time AVX2
/// dispatch), for the tests that check the dispatched path against it.
#[doc(hidden)]
pub fn encode_jpeg_raw_baseline(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    config: &JpegConfig,
) -> Result<Vec<u8>> {
    encode_with(pulp::Arch::Scalar, pixels, width, height, channels, config)
}

fn encode_with(
    arch: pulp::Arch,
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    config: &JpegConfig,
) -> Result<Vec<u8>> {
    let (px, w, h, ch, cfg) = (pixels, width, height, channels, config);
    if ch != 1 && ch != 3 {
        return Err(Error::Image(format!(
            "JPEG input must have 1 or 3 channels, got {ch}"
        )));
    }
    if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
        return Err(Error::Image(format!(
            "JPEG size must be 1..={MAX_DIMENSION} per side, got {w}×{h}"
        )));
    }
    if px.len() != w * h * ch {
        return Err(Error::Image(format!(
            "{} bytes for a {w}×{h}×{ch} image (expected {})",
            px.len(),
            w * h * ch
        )));
    }
    if !(1..=100).contains(&cfg.quality) {
        return Err(Error::Argument(format!(
            "JPEG quality must be 1..=100, got {}",
            cfg.quality
        )));
    }
    let qluma = scaled_quant(&STD_LUMA_QUANT, cfg.quality);
    let qchroma = scaled_quant(&STD_CHROMA_QUANT, cfg.quality);
    let (max_h, max_v) = if ch == 1 {
        (1, 1)
    } else {
        cfg.subsampling.luma_factors()
    };
    let comps: Vec<Comp> = (0..ch)
        .map(|c| {
            let (ch_, cv) = if c == 0 { (max_h, max_v) } else { (1, 1) };
            let luma = c == 0;
            Comp {
                h: ch_,
                v: cv,
                wb: (w * ch_).div_ceil(8 * max_h),
                hb: (h * cv).div_ceil(8 * max_v),
                quant: Quant::new(if luma { &qluma } else { &qchroma }),
                dc: Huffman::new(if luma { DC_LUMA } else { DC_CHROMA }),
                ac: Huffman::new(if luma { AC_LUMA } else { AC_CHROMA }),
            }
        })
        .collect();
    let plan = Plan {
        px,
        w,
        h,
        ch,
        comps,
        max_h,
        max_v,
        mcus_x: w.div_ceil(8 * max_h),
        mcus_y: h.div_ceil(8 * max_v),
    };

    // Each MCU row is compiled for AVX2/FMA as well as the baseline and picked at run time
    // (its DCT, quantiser and colour loops are auto-vectorised; 8-lane i32 products need AVX2).
    let rows: Vec<Bits> = (0..plan.mcus_y)
        .into_par_iter()
        .map(|r| arch.dispatch(McuRow(&plan, r)))
        .collect();

    let total_bits: usize = rows.iter().map(|b| b.words.len() * 64 + b.n as usize).sum();
    let mut out = Vec::with_capacity(700 + total_bits / 8 * 101 / 100 + 16);
    write_headers(&mut out, w, h, ch, max_h, max_v, &qluma, &qchroma);
    join_stuffed(&mut out, &rows);
    out.extend_from_slice(&[0xFF, 0xD9]);
    Ok(out)
}

/// Quantisation tables of Annex K in natural (row-major) order.
const STD_LUMA_QUANT: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const STD_CHROMA_QUANT: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// `jpeg_natural_order`: natural index of the k-th zig-zag coefficient.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// A Huffman table as `(bits[1..=16], values)` (a DHT segment's payload).
type HuffSpec = ([u8; 16], &'static [u8]);

/// Annex K.3 Huffman tables.
const DC_LUMA: HuffSpec = (
    [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const DC_CHROMA: HuffSpec = (
    [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const AC_LUMA: HuffSpec = (
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125],
    &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);
const AC_CHROMA: HuffSpec = (
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119],
    &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);

/// `jpeg_quality_scaling` + `jpeg_add_quant_table(force_baseline = TRUE)`.
fn scaled_quant(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    base.map(|b| ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16)
}

/// `compute_reciprocal` of libjpeg-turbo's `jcdctmgr.c` for the 64 divisors of a table
/// (`8·q`, always ≥ 8), in the form of its SIMD quantiser: `q = mulhi(mulhi(|x| + corr, recip),
/// scale)` with 16-bit high multiplies, `scale = 2^(32 − r)`. That is `((|x| + corr)·recip) >> r`,
/// rounding division by the divisor; lanes are independent, so the loop vectorises.
struct Quant {
    recip: [u16; 64],
    corr: [u16; 64],
    scale: [u16; 64],
}

impl Quant {
    fn new(table: &[u16; 64]) -> Self {
        let mut q = Self {
            recip: [0; 64],
            corr: [0; 64],
            scale: [0; 64],
        };
        for (i, &t) in table.iter().enumerate() {
            let divisor = u32::from(t) << 3;
            let b = 31 - divisor.leading_zeros(); // flss(divisor) - 1
            let mut r = 16 + b;
            let mut fq = (1u32 << r) / divisor;
            let fr = (1u32 << r) % divisor;
            let mut c = divisor / 2;
            if fr == 0 {
                fq >>= 1;
                r -= 1;
            } else if fr <= divisor / 2 {
                c += 1;
            } else {
                fq += 1;
            }
            // divisor ≥ 8 gives r ≥ 18: every value fits 16 bits.
            q.recip[i] = fq as u16;
            q.corr[i] = c as u16;
            q.scale[i] = (1u32 << (32 - r)) as u16;
        }
        q
    }

    /// Quantises a DCT block (natural order, |x| < 2¹⁵) in place.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // one index across four arrays: a vectorisable lane loop
    fn apply(&self, blk: &mut [i32; 64]) {
        #[inline(always)]
        fn mulhi(a: u16, b: u16) -> u16 {
            ((u32::from(a) * u32::from(b)) >> 16) as u16
        }
        for i in 0..64 {
            let x = blk[i] as i16;
            let sign = x >> 15; // 0 or -1
            let a = ((x ^ sign).wrapping_sub(sign)) as u16;
            let q = mulhi(
                mulhi(a.wrapping_add(self.corr[i]), self.recip[i]),
                self.scale[i],
            ) as i16;
            blk[i] = i32::from((q ^ sign).wrapping_sub(sign));
        }
    }
}

/// Huffman code table: `(code, length)` per symbol.
struct Huffman {
    code: [u16; 256],
    len: [u8; 256],
}

impl Huffman {
    /// `jpeg_make_c_derived_tbl`.
    fn new((bits, values): HuffSpec) -> Self {
        let mut t = Self {
            code: [0; 256],
            len: [0; 256],
        };
        let (mut code, mut k) = (0u16, 0usize);
        for (l, &n) in bits.iter().enumerate() {
            for _ in 0..n {
                let v = values[k] as usize;
                t.code[v] = code;
                t.len[v] = l as u8 + 1;
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        t
    }
}

/// Bits of one MCU row, MSB first, without byte stuffing.
#[derive(Default)]
struct Bits {
    words: Vec<u64>,
    acc: u64,
    /// Bits held in `acc` (0..64).
    n: u32,
}

impl Bits {
    #[inline(always)]
    fn put(&mut self, value: u32, len: u32) {
        debug_assert!(len <= 32 && (len == 32 || value >> len == 0));
        let free = 64 - self.n;
        if len < free {
            self.acc = (self.acc << len) | u64::from(value);
            self.n += len;
        } else {
            // 1 ≤ free ≤ len ≤ 32 here, so neither shift reaches 64.
            let rest = len - free;
            self.words
                .push((self.acc << free) | (u64::from(value) >> rest));
            self.acc = u64::from(value) & ((1u64 << rest) - 1);
            self.n = rest;
        }
    }
}

/// One output plane's geometry.
struct Comp {
    h: usize,
    v: usize,
    /// Blocks of real data (`width_in_blocks`, `height_in_blocks`).
    wb: usize,
    hb: usize,
    quant: Quant,
    dc: Huffman,
    ac: Huffman,
}

struct Plan<'a> {
    px: &'a [u8],
    w: usize,
    h: usize,
    ch: usize,
    comps: Vec<Comp>,
    max_h: usize,
    max_v: usize,
    mcus_x: usize,
    mcus_y: usize,
}

/// [`Plan::mcu_row`] as a `pulp` operation.
struct McuRow<'a>(&'a Plan<'a>, usize);

impl pulp::WithSimd for McuRow<'_> {
    type Output = Bits;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Bits {
        self.0.mcu_row(self.1)
    }
}

impl Plan<'_> {
    /// Transforms and entropy-codes MCU row `r`.
    #[inline(always)]
    fn mcu_row(&self, r: usize) -> Bits {
        // Room for about 4 bits per sample, so the word buffer rarely grows.
        let samples = 8 * self.max_v * self.mcus_x * 8 * self.max_h * self.ch;
        let mut bits = Bits {
            words: Vec::with_capacity(samples / 16),
            ..Bits::default()
        };
        let mut last_dc = [0i32; 3];
        if r > 0 {
            // The DC predictors entering this row: the last MCU of the row above.
            let planes = self.planes(r - 1, self.mcus_x - 1);
            let mut blocks = [[0i32; 64]; 6];
            for (c, comp) in self.comps.iter().enumerate() {
                let n = self.mcu_blocks(&planes, c, comp, r - 1, self.mcus_x - 1, &mut blocks);
                last_dc[c] = blocks[n - 1][0];
            }
        }
        let planes = self.planes(r, 0);
        let mut blocks = [[0i32; 64]; 6];
        for mx in 0..self.mcus_x {
            for (c, comp) in self.comps.iter().enumerate() {
                let n = self.mcu_blocks(&planes, c, comp, r, mx, &mut blocks);
                for b in &blocks[..n] {
                    encode_block(&mut bits, b, &mut last_dc[c], comp);
                }
            }
        }
        bits
    }

    /// Colour-converted, downsampled samples of MCU row `r`, one plane per component
    /// (`8·v` rows × `mcus_x·8·h` columns), edges replicated as `jcprepct.c`/`jcsample.c` do.
    /// Only MCUs `mx0..` are filled (the DC predictors need just the last MCU of a row).
    #[inline(always)]
    fn planes(&self, r: usize, mx0: usize) -> Vec<Vec<u8>> {
        let rows_in = 8 * self.max_v;
        let y0 = r * rows_in;
        let full_w = self.mcus_x * 8 * self.max_h;
        let x0 = (mx0 * 8 * self.max_h).min(self.w - 1);
        // Full-resolution converted rows (clamped to the last image row), width `full_w`
        // (clamped to the last column): jcprepct's expand_bottom_edge / expand_right_edge.
        let mut full: Vec<Vec<u8>> = vec![vec![0u8; rows_in * full_w]; self.ch];
        for i in 0..rows_in {
            let y = (y0 + i).min(self.h - 1);
            let src = &self.px[y * self.w * self.ch..(y + 1) * self.w * self.ch];
            if self.ch == 1 {
                let dst = &mut full[0][i * full_w..(i + 1) * full_w];
                dst[x0..self.w].copy_from_slice(&src[x0..]);
                let last = src[self.w - 1];
                dst[self.w..].fill(last);
            } else {
                let [py, pb, pr] = &mut full[..] else {
                    unreachable!()
                };
                let (dy, db, dr) = (
                    &mut py[i * full_w..(i + 1) * full_w],
                    &mut pb[i * full_w..(i + 1) * full_w],
                    &mut pr[i * full_w..(i + 1) * full_w],
                );
                let px = src[3 * x0..].chunks_exact(3);
                for (((p, y_), cb), cr) in px
                    .zip(&mut dy[x0..self.w])
                    .zip(&mut db[x0..self.w])
                    .zip(&mut dr[x0..self.w])
                {
                    (*y_, *cb, *cr) = rgb_to_ycc(p[0], p[1], p[2]);
                }
                for d in [dy, db, dr] {
                    let last = d[self.w - 1];
                    d[self.w..].fill(last);
                }
            }
        }
        if self.max_h == 1 && self.max_v == 1 {
            return full;
        }
        // Chroma: box downsampling with libjpeg's alternating bias. Output rows past the last
        // one computed from real rows replicate it (jcprepct pads the *output* iMCU).
        let last_out_row = self.h.div_ceil(self.max_v) - 1;
        let out_w = self.mcus_x * 8;
        let mut planes = Vec::with_capacity(self.ch);
        let mut it = full.into_iter();
        if let Some(luma) = it.next() {
            planes.push(luma);
        }
        for src in it {
            let mut dst = vec![0u8; 8 * out_w];
            for o in 0..8 {
                let oc = (r * 8 + o).min(last_out_row) - r * 8;
                let d = &mut dst[o * out_w..(o + 1) * out_w];
                if self.max_v == 2 {
                    let (a, b) = (
                        &src[2 * oc * full_w..(2 * oc + 1) * full_w],
                        &src[(2 * oc + 1) * full_w..(2 * oc + 2) * full_w],
                    );
                    let pairs = d.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2));
                    for (x, ((d, a), b)) in pairs.enumerate().skip(mx0 * 8) {
                        let s =
                            u32::from(a[0]) + u32::from(a[1]) + u32::from(b[0]) + u32::from(b[1]);
                        *d = ((s + 1 + (x as u32 & 1)) >> 2) as u8;
                    }
                } else {
                    let a = &src[oc * full_w..(oc + 1) * full_w];
                    for (x, (d, a)) in d
                        .iter_mut()
                        .zip(a.chunks_exact(2))
                        .enumerate()
                        .skip(mx0 * 8)
                    {
                        let s = u32::from(a[0]) + u32::from(a[1]);
                        *d = ((s + (x as u32 & 1)) >> 1) as u8;
                    }
                }
            }
            planes.push(dst);
        }
        planes
    }

    /// Quantised coefficients (zig-zag order) of component `c`'s blocks in MCU `(r, mx)`, in MCU order, with
    /// `jccoefct.c`'s dummy blocks (zero, DC copied) past the image. Returns the block count.
    #[inline(always)]
    fn mcu_blocks(
        &self,
        planes: &[Vec<u8>],
        c: usize,
        comp: &Comp,
        r: usize,
        mx: usize,
        out: &mut [[i32; 64]; 6],
    ) -> usize {
        let plane = &planes[c];
        let pw = self.mcus_x * 8 * comp.h;
        let mut n = 0;
        for by in 0..comp.v {
            let row = r * comp.v + by;
            for bx in 0..comp.h {
                let col = mx * comp.h + bx;
                if row >= comp.hb {
                    // A row of dummy blocks: DC of the block before this row.
                    let dc = out[n - 1][0];
                    out[n] = [0; 64];
                    out[n][0] = dc;
                } else if col >= comp.wb {
                    let dc = out[n - 1][0];
                    out[n] = [0; 64];
                    out[n][0] = dc;
                } else {
                    let blk = &mut out[n];
                    for i in 0..8 {
                        let s = &plane[(by * 8 + i) * pw + col * 8..][..8];
                        for j in 0..8 {
                            blk[i * 8 + j] = i32::from(s[j]) - 128;
                        }
                    }
                    fdct_islow(blk);
                    // Quantised, stored in zig-zag order (what the entropy coder scans).
                    comp.quant.apply(blk);
                    let mut zz = [0i32; 64];
                    for (z, &k) in zz.iter_mut().zip(&ZIGZAG) {
                        *z = blk[k];
                    }
                    *blk = zz;
                }
                n += 1;
            }
        }
        n
    }
}

/// `rgb_ycc_convert` (jccolor.c), 16-bit fixed point.
#[inline(always)]
fn rgb_to_ycc(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    const HALF: i32 = 1 << 15;
    const OFF: i32 = 128 << 16;
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = (19595 * r + 38470 * g + 7471 * b + HALF) >> 16;
    let cb = (-11059 * r - 21709 * g + 32768 * b + OFF + HALF - 1) >> 16;
    let cr = (32768 * r - 27439 * g - 5329 * b + OFF + HALF - 1) >> 16;
    (y as u8, cb as u8, cr as u8)
}

/// `jpeg_fdct_islow` (jfdctint.c): slow-but-accurate integer DCT, output scaled by 8.
#[inline(always)]
fn fdct_islow(d: &mut [i32; 64]) {
    const CB: i32 = 13; // CONST_BITS
    const P1: i32 = 2; // PASS1_BITS
    const F0_298: i32 = 2446;
    const F0_390: i32 = 3196;
    const F0_541: i32 = 4433;
    const F0_765: i32 = 6270;
    const F0_899: i32 = 7373;
    const F1_175: i32 = 9633;
    const F1_501: i32 = 12299;
    const F1_847: i32 = 15137;
    const F1_961: i32 = 16069;
    const F2_053: i32 = 16819;
    const F2_562: i32 = 20995;
    const F3_072: i32 = 25172;
    #[inline(always)]
    fn descale(x: i32, n: i32) -> i32 {
        (x + (1 << (n - 1))) >> n
    }
    // One 1-D pass over `v[0..8][l]` for each of the 8 lanes `l` (independent lanes, so the
    // loop vectorises). Pass 1 scales the even terms up by PASS1_BITS, pass 2 descales.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // `l` indexes lanes of eight rows
    fn pass(v: &mut [[i32; 8]; 8], pass1: bool) {
        let sh = if pass1 { CB - P1 } else { CB + P1 };
        for l in 0..8 {
            let tmp0 = v[0][l] + v[7][l];
            let tmp7 = v[0][l] - v[7][l];
            let tmp1 = v[1][l] + v[6][l];
            let tmp6 = v[1][l] - v[6][l];
            let tmp2 = v[2][l] + v[5][l];
            let tmp5 = v[2][l] - v[5][l];
            let tmp3 = v[3][l] + v[4][l];
            let tmp4 = v[3][l] - v[4][l];
            let tmp10 = tmp0 + tmp3;
            let tmp13 = tmp0 - tmp3;
            let tmp11 = tmp1 + tmp2;
            let tmp12 = tmp1 - tmp2;
            if pass1 {
                v[0][l] = (tmp10 + tmp11) << P1;
                v[4][l] = (tmp10 - tmp11) << P1;
            } else {
                v[0][l] = descale(tmp10 + tmp11, P1);
                v[4][l] = descale(tmp10 - tmp11, P1);
            }
            let z1 = (tmp12 + tmp13) * F0_541;
            v[2][l] = descale(z1 + tmp13 * F0_765, sh);
            v[6][l] = descale(z1 - tmp12 * F1_847, sh);
            let z1 = tmp4 + tmp7;
            let z2 = tmp5 + tmp6;
            let z3 = tmp4 + tmp6;
            let z4 = tmp5 + tmp7;
            let z5 = (z3 + z4) * F1_175;
            let tmp4 = tmp4 * F0_298;
            let tmp5 = tmp5 * F2_053;
            let tmp6 = tmp6 * F3_072;
            let tmp7 = tmp7 * F1_501;
            let z1 = z1 * -F0_899;
            let z2 = z2 * -F2_562;
            let z3 = z3 * -F1_961 + z5;
            let z4 = z4 * -F0_390 + z5;
            v[7][l] = descale(tmp4 + z1 + z3, sh);
            v[5][l] = descale(tmp5 + z2 + z4, sh);
            v[3][l] = descale(tmp6 + z2 + z3, sh);
            v[1][l] = descale(tmp7 + z1 + z4, sh);
        }
    }
    // Row DCTs: lanes are rows, so work on the transpose; then column DCTs on the rows.
    let mut t = [[0i32; 8]; 8];
    for (i, row) in d.chunks_exact(8).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            t[j][i] = x;
        }
    }
    pass(&mut t, true);
    let mut v = [[0i32; 8]; 8];
    for (i, row) in t.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            v[j][i] = x;
        }
    }
    pass(&mut v, false);
    for (dst, row) in d.chunks_exact_mut(8).zip(&v) {
        dst.copy_from_slice(row);
    }
}

/// `encode_one_block` (jchuff.c) of a block in zig-zag order: nonzero AC coefficients are
/// found through a bit mask (as libjpeg-turbo's encoder does), code and magnitude bits are
/// written together.
#[inline(always)]
fn encode_block(bits: &mut Bits, blk: &[i32; 64], last_dc: &mut i32, comp: &Comp) {
    #[inline(always)]
    fn magnitude(v: i32) -> (u32, u32) {
        let a = v.unsigned_abs();
        let nbits = 32 - a.leading_zeros();
        let extra = if v < 0 { (v - 1) as u32 } else { v as u32 };
        (nbits, extra & ((1u32 << nbits) - 1))
    }
    #[inline(always)]
    fn symbol(bits: &mut Bits, t: &Huffman, sym: usize, nb: u32, extra: u32) {
        let (code, len) = (u32::from(t.code[sym]), u32::from(t.len[sym]));
        bits.put((code << nb) | extra, len + nb);
    }
    let diff = blk[0] - *last_dc;
    *last_dc = blk[0];
    let (nb, extra) = magnitude(diff);
    symbol(bits, &comp.dc, nb as usize, nb, extra);
    let mut mask = 0u64;
    for (i, &v) in blk.iter().enumerate().skip(1) {
        mask |= u64::from(v != 0) << i;
    }
    let mut last = 0u32;
    while mask != 0 {
        let k = mask.trailing_zeros();
        mask &= mask - 1;
        let mut run = k - last - 1;
        while run > 15 {
            symbol(bits, &comp.ac, 0xF0, 0, 0);
            run -= 16;
        }
        let (nb, extra) = magnitude(blk[k as usize]);
        symbol(bits, &comp.ac, ((run << 4) + nb) as usize, nb, extra);
        last = k;
    }
    if last < 63 {
        symbol(bits, &comp.ac, 0, 0, 0);
    }
}

/// Concatenates the rows' bit strings into bytes with `0xFF 0x00` stuffing, padding the last
/// byte with 1-bits (`flush_bits`).
fn join_stuffed(out: &mut Vec<u8>, rows: &[Bits]) {
    let mut acc: u128 = 0;
    let mut n: u32 = 0;
    let emit = |out: &mut Vec<u8>, acc: &mut u128, n: &mut u32| {
        while *n >= 8 {
            *n -= 8;
            let byte = (*acc >> *n) as u8;
            out.push(byte);
            if byte == 0xFF {
                out.push(0);
            }
        }
        *acc &= (1u128 << *n) - 1;
    };
    // A 64-bit chunk without any 0xFF byte is copied whole (the common case).
    let has_ff = |x: u64| {
        let y = !x; // 0xFF bytes become zero bytes
        (y.wrapping_sub(0x0101_0101_0101_0101) & !y & 0x8080_8080_8080_8080) != 0
    };
    for row in rows {
        for &w in &row.words {
            acc = (acc << 64) | u128::from(w);
            let chunk = (acc >> n) as u64;
            if has_ff(chunk) {
                n += 64;
                emit(out, &mut acc, &mut n);
            } else {
                out.extend_from_slice(&chunk.to_be_bytes());
                acc &= (1u128 << n) - 1;
            }
        }
        if row.n > 0 {
            acc = (acc << row.n) | u128::from(row.acc);
            n += row.n;
            emit(out, &mut acc, &mut n);
        }
    }
    if n > 0 {
        let pad = 8 - n;
        acc = (acc << pad) | ((1u128 << pad) - 1);
        n = 8;
        emit(out, &mut acc, &mut n);
    }
}

#[allow(clippy::too_many_arguments)]
fn write_headers(
    out: &mut Vec<u8>,
    w: usize,
    h: usize,
    ch: usize,
    max_h: usize,
    max_v: usize,
    qluma: &[u16; 64],
    qchroma: &[u16; 64],
) {
    fn marker(out: &mut Vec<u8>, m: u8, payload: &[u8]) {
        out.extend_from_slice(&[0xFF, m]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out.extend_from_slice(&[0xFF, 0xD8]);
    // JFIF 1.01, no units, 1:1 density, no thumbnail.
    marker(
        out,
        0xE0,
        &[b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0],
    );
    let tables: &[&[u16; 64]] = if ch == 1 { &[qluma] } else { &[qluma, qchroma] };
    for (id, q) in tables.iter().enumerate() {
        let mut p = vec![id as u8];
        p.extend(ZIGZAG.iter().map(|&k| q[k] as u8));
        marker(out, 0xDB, &p);
    }
    let mut sof = vec![8];
    sof.extend_from_slice(&(h as u16).to_be_bytes());
    sof.extend_from_slice(&(w as u16).to_be_bytes());
    sof.push(ch as u8);
    for c in 0..ch {
        let (hs, vs, tq) = if c == 0 { (max_h, max_v, 0) } else { (1, 1, 1) };
        sof.extend_from_slice(&[c as u8 + 1, ((hs << 4) | vs) as u8, tq]);
    }
    marker(out, 0xC0, &sof);
    let huff: &[(u8, HuffSpec)] = if ch == 1 {
        &[(0x00, DC_LUMA), (0x10, AC_LUMA)]
    } else {
        &[
            (0x00, DC_LUMA),
            (0x10, AC_LUMA),
            (0x01, DC_CHROMA),
            (0x11, AC_CHROMA),
        ]
    };
    for (id, (bits, vals)) in huff {
        let mut p = vec![*id];
        p.extend_from_slice(bits);
        p.extend_from_slice(vals);
        marker(out, 0xC4, &p);
    }
    let mut sos = vec![ch as u8];
    for c in 0..ch {
        sos.extend_from_slice(&[c as u8 + 1, if c == 0 { 0x00 } else { 0x11 }]);
    }
    sos.extend_from_slice(&[0, 63, 0]);
    marker(out, 0xDA, &sos);
}
