//! KID's kernel sums on Intel AMX (Sapphire Rapids and later, Linux): the stacked-subset Gram
//! `z·zᵀ` in split-bf16 arithmetic (three bf16 pieces per value, six products).
//!
//! Each f32 feature `x` is split into three bf16 pieces, `x = p₀ + p₁ + p₂` to f32 precision
//! (8 significand bits each), and `x·y` is accumulated in f32 by `TDPBF16PS` as the six
//! products `pᵢ·p'ⱼ` with `i + j ≤ 2` ([`TERMS`]; the dropped ones are ≤ 2⁻²⁴ relative). With
//! only `p₀·p'₀ + p₀·p'₁ + p₁·p'₀` ("bf16x3") the products are ≈ 2⁻¹⁶ off, which measured
//! three times clean-fid's float32 KID error on the golden set. The tile unit measured
//! 7.2 TFLOP/s bf16 on two cores of the dev VM against ≈ 0.2–0.3 TFLOP/s of f32 AVX-512 FMAs,
//! so six bf16 products still cost well under one f32 one (`docs/benchmarks.md`).
//!
//! Blocking (GotoBLAS style, sizes in elements): C macro blocks of 256 × 256 f32 (256 KiB)
//! accumulate over depth chunks of 512, whose A and B panels (256 × 512 bf16, stored tile by
//! tile) are 256 KiB each, so all three stay in the 2 MiB L2; 32 × 32 micro blocks use four C
//! tiles, two A tiles and two B tiles.
#![allow(unsafe_code)]

use std::arch::asm;
use std::sync::OnceLock;

use rayon::prelude::*;

/// Macro block edge (rows and columns), micro block edge, depth chunk.
const MB: usize = 256;
const UB: usize = 32;
const KC: usize = 512;

/// Whether the CPU has AMX-TILE and AMX-BF16 and Linux granted this process the tile data
/// state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`), asked once.
/// `ULTRARES_NO_AMX=1` turns it off.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("ULTRARES_NO_AMX").is_some_and(|v| v != "0") {
            return false;
        }
        // CPUID.(EAX=7, ECX=0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
        let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
        if edx & (1 << 22) == 0 || edx & (1 << 24) == 0 {
            return false;
        }
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain syscall with integer arguments; it only changes this process's
        // permitted XSAVE features.
        unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            ) == 0
        }
    })
}

/// Round-to-nearest-even bf16 of a finite f32, as its 16 bits.
#[inline(always)]
fn bf16(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The products `pieceᵢ·pieceⱼ'` summed for each f32 product, as (A piece, B piece): every
/// pair with `i + j ≤ 2`, dropping only terms of relative size ≤ 2⁻²⁴.
const TERMS: [(usize, usize); 6] = [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0)];
/// bf16 pieces per f32 (8 significand bits each).
const PIECES: usize = 3;

/// The bf16 pieces of `n` rows of `dim` f32 features, `x = Σ pieceᵢ` to f32 precision, each
/// row zero-padded to `kp` (a multiple of 32) and stored as `kp / 2` little-endian u32 pairs.
pub(crate) struct Split {
    pieces: [Vec<u32>; PIECES],
    kp: usize,
}

impl Split {
    /// Splits row-major `feats` (`n × dim`, finite).
    pub(crate) fn new(feats: &[f32], dim: usize) -> Self {
        let kp = dim.div_ceil(UB) * UB;
        let n = feats.len() / dim;
        let mut pieces: [Vec<u32>; PIECES] = std::array::from_fn(|_| vec![0u32; n * kp / 2]);
        let split = |mut v: f32| -> [u32; PIECES] {
            std::array::from_fn(|_| {
                let h = bf16(v);
                v -= f32::from_bits(u32::from(h) << 16);
                u32::from(h)
            })
        };
        let [p0, p1, p2] = &mut pieces;
        p0.par_chunks_mut(kp / 2)
            .zip(p1.par_chunks_mut(kp / 2))
            .zip(p2.par_chunks_mut(kp / 2))
            .zip(feats.par_chunks(dim))
            .for_each(|(((p0, p1), p2), x)| {
                for (k, pair) in x.chunks(2).enumerate() {
                    let lo = split(pair[0]);
                    let hi = pair.get(1).map_or([0; PIECES], |&v| split(v));
                    p0[k] = lo[0] | hi[0] << 16;
                    p1[k] = lo[1] | hi[1] << 16;
                    p2[k] = lo[2] | hi[2] << 16;
                }
            });
        Self { pieces, kp }
    }

    /// The row length `dim` rounded up to a multiple of 32.
    pub(crate) fn padded_dim(&self) -> usize {
        self.kp
    }

    fn piece(&self, p: usize, r: usize) -> &[u32] {
        let w = self.kp / 2;
        &self.pieces[p][r * w..][..w]
    }
}

/// A zeroed buffer of `len` elements starting on a 64-byte boundary, so that every 64-byte
/// tile row is one cache line.
struct Aligned<T> {
    buf: Vec<T>,
    off: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    fn new(len: usize) -> Self {
        let extra = 64 / size_of::<T>();
        let buf = vec![T::default(); len + extra];
        let off = buf.as_ptr().align_offset(64).min(extra);
        Self { buf, off, len }
    }
}

impl<T> std::ops::Deref for Aligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf[self.off..][..self.len]
    }
}

impl<T> std::ops::DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.off..][..self.len]
    }
}

/// Tile-major operands of one stacked subset: for each group of 16 rows, each piece and each
/// depth chunk of 32, one 1 KiB tile (16 × 16 u32 pairs) — row-major for the A side, its VNNI
/// transpose (pair rows × 16 columns) for the B side — so every tile load is contiguous.
pub(crate) struct Packed {
    a: Aligned<u32>,
    b: Aligned<u32>,
    /// Rows (a multiple of 32) and depth chunks of 32 per piece.
    rows: usize,
    chunks: usize,
}

/// u32 pairs per tile.
const TILE: usize = 256;

impl Packed {
    /// Buffers for `n` stacked rows of `kp`-padded features.
    pub(crate) fn new(n: usize, kp: usize) -> Self {
        let rows = n.div_ceil(UB) * UB;
        let chunks = kp / UB;
        Self {
            a: Aligned::new(rows / 16 * PIECES * chunks * TILE),
            b: Aligned::new(rows / 16 * PIECES * chunks * TILE),
            rows,
            chunks,
        }
    }

    /// Offset of the tile of row group `g`, piece `p`, depth chunk `kt`.
    fn tile(&self, g: usize, p: usize, kt: usize) -> usize {
        ((g * PIECES + p) * self.chunks + kt) * TILE
    }

    /// Fills the operands with the stacked rows `src` (a split set and a row of it each);
    /// rows past `src.len()` stay zero.
    pub(crate) fn fill(&mut self, src: &[(&Split, usize)]) {
        let group = PIECES * self.chunks * TILE;
        self.a
            .par_chunks_mut(group)
            .zip(self.b.par_chunks_mut(group))
            .zip(src.par_chunks(16))
            .for_each(|((a, b), rows)| {
                let tiles = a.chunks_exact_mut(TILE).zip(b.chunks_exact_mut(TILE));
                let pieces = (0..PIECES).flat_map(|p| (0..self.chunks).map(move |kt| (p, kt)));
                for ((a, b), (p, kt)) in tiles.zip(pieces) {
                    for (r, &(s, row)) in rows.iter().enumerate() {
                        let seg = &s.piece(p, row)[16 * kt..][..16];
                        a[16 * r..][..16].copy_from_slice(seg);
                        for (c, &v) in seg.iter().enumerate() {
                            b[16 * c + r] = v;
                        }
                    }
                }
            });
    }
}

/// `TILECFG`: palette 1, tiles 0–7 of 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

const CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64;
        c[48 + t] = 16;
        t += 1;
    }
    TileConfig(c)
};

/// Loads tile `$t` from 16 rows of 64 bytes, `$stride` bytes apart, at `$slice[$at..]`, after
/// checking that they lie inside the slice.
macro_rules! tile_load {
    ($t:literal, $slice:expr, $at:expr, $stride:expr) => {{
        let (s, at, stride): (&[_], usize, usize) = ($slice, $at, $stride);
        assert!(
            std::mem::size_of_val(s) >= std::mem::size_of_val(&s[0]) * at + 15 * stride + 64,
            "AMX tile load out of bounds"
        );
        // SAFETY: the 16 rows read lie inside `s` (checked above); the tile configuration
        // is loaded by the enclosing `with_tiles`.
        unsafe {
            asm!(concat!("tileloadd tmm", $t, ", [{0} + {1}*1]"),
                 in(reg) s.as_ptr().add(at), in(reg) stride, options(nostack, readonly));
        }
    }};
}

/// Stores tile `$t` to 16 rows of 64 bytes, `$stride` bytes apart, at `$slice[$at..]`.
macro_rules! tile_store {
    ($t:literal, $slice:expr, $at:expr, $stride:expr) => {{
        let (s, at, stride): (&mut [f32], usize, usize) = ($slice, $at, $stride);
        assert!(4 * s.len() >= 4 * at + 15 * stride + 64, "AMX tile store out of bounds");
        // SAFETY: as `tile_load`, for writes into `s`.
        unsafe {
            asm!(concat!("tilestored [{0} + {1}*1], tmm", $t),
                 in(reg) s.as_mut_ptr().add(at), in(reg) stride, options(nostack));
        }
    }};
}

macro_rules! tile_op {
    ($ins:literal) => {
        // SAFETY: register-only tile instruction under the loaded configuration.
        unsafe { asm!($ins, options(nostack, nomem)) }
    };
}

/// Runs `f` with the tile configuration loaded on this thread and releases it afterwards.
fn with_tiles<T>(f: impl FnOnce() -> T) -> T {
    // Callers dispatch on `available()`; without tile state every AMX instruction would fault.
    assert!(available(), "AMX path taken without AMX");
    // SAFETY: the OS enabled the tile state (checked above); the configuration is a valid
    // palette-1 layout.
    unsafe { asm!("ldtilecfg [{0}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly)) };
    let out = f();
    tile_op!("tilerelease");
    out
}

/// Kernel sums of one stacked pair of subsets: `(Σ_{i≠j} k(xᵢ,xⱼ) + Σ_{i≠j} k(yᵢ,yⱼ)) / 2`
/// and `Σ k(xᵢ,yⱼ)` with `k(u, v) = (uᵀv/d + 1)³`, rows `0..m` of `p` being `x` and
/// `m..2m` `y`. Only the lower triangle of the Gram is computed, in 256² macro blocks.
pub(crate) fn kernel_sums(p: &Packed, m: usize, dim: usize) -> (f64, f64) {
    let blocks = p.rows.div_ceil(MB);
    let pairs: Vec<(usize, usize)> = (0..blocks)
        .flat_map(|i| (0..=i).map(move |j| (i, j)))
        .collect();
    let sums: Vec<(f64, f64)> = pairs
        .par_iter()
        .map(|&(i, j)| {
            with_tiles(|| {
                let mut c = Aligned::<f32>::new(MB * MB);
                let (r0, c0) = (i * MB, j * MB);
                let (nr, nc) = (MB.min(p.rows - r0), MB.min(p.rows - c0));
                macro_block(p, r0, c0, nr, nc, &mut c);
                let sums = || block_sums(&c, r0, c0, nr, nc, m, dim);
                match pulp::x86::V3::try_new() {
                    Some(v3) => v3.vectorize(sums),
                    None => sums(),
                }
            })
        })
        .collect();
    sums.into_iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
}

/// `c[0..nr, 0..nc] = A[r0.., :]·B[c0.., :]ᵀ` summed over [`TERMS`] (`c` rows of `MB` f32).
fn macro_block(p: &Packed, r0: usize, c0: usize, nr: usize, nc: usize, c: &mut [f32]) {
    let (a, b) = (&p.a[..], &p.b[..]);
    let c_stride = 4 * MB;
    // Depth chunks of KC within each term: (term, first tile column, tile columns).
    let per = KC / UB;
    let steps = TERMS.iter().flat_map(|&t| {
        (0..p.chunks)
            .step_by(per)
            .map(move |kt| (t, kt, per.min(p.chunks - kt)))
    });
    for (step, ((pa, pb), kt0, kn)) in steps.enumerate() {
        for jj in (0..nc).step_by(UB) {
            // On the diagonal, micro blocks wholly above it are not needed.
            for ii in (0..nr).step_by(UB).filter(|&ii| r0 != c0 || ii >= jj) {
                let (ca, cb) = (ii * MB + jj, (ii + 16) * MB + jj);
                if step == 0 {
                    tile_op!("tilezero tmm0");
                    tile_op!("tilezero tmm1");
                    tile_op!("tilezero tmm2");
                    tile_op!("tilezero tmm3");
                } else {
                    tile_load!(0, &c[..], ca, c_stride);
                    tile_load!(1, &c[..], ca + 16, c_stride);
                    tile_load!(2, &c[..], cb, c_stride);
                    tile_load!(3, &c[..], cb + 16, c_stride);
                }
                let (ga, gb) = ((r0 + ii) / 16, (c0 + jj) / 16);
                let (a0, a1) = (p.tile(ga, pa, kt0), p.tile(ga + 1, pa, kt0));
                let (b0, b1) = (p.tile(gb, pb, kt0), p.tile(gb + 1, pb, kt0));
                for k in (0..kn).map(|k| k * TILE) {
                    // Each product starts as soon as its two tiles are in.
                    tile_load!(4, a, a0 + k, 64);
                    tile_load!(6, b, b0 + k, 64);
                    tile_op!("tdpbf16ps tmm0, tmm4, tmm6");
                    tile_load!(7, b, b1 + k, 64);
                    tile_op!("tdpbf16ps tmm1, tmm4, tmm7");
                    tile_load!(5, a, a1 + k, 64);
                    tile_op!("tdpbf16ps tmm2, tmm5, tmm6");
                    tile_op!("tdpbf16ps tmm3, tmm5, tmm7");
                }
                tile_store!(0, &mut c[..], ca, c_stride);
                tile_store!(1, &mut c[..], ca + 16, c_stride);
                tile_store!(2, &mut c[..], cb, c_stride);
                tile_store!(3, &mut c[..], cb + 16, c_stride);
            }
        }
    }
}

/// The kernel sums of the strict lower triangle of one macro block of the stacked Gram:
/// `(xx + yy, xy)`.
#[inline(always)]
fn block_sums(
    c: &[f32],
    r0: usize,
    c0: usize,
    nr: usize,
    nc: usize,
    m: usize,
    dim: usize,
) -> (f64, f64) {
    let inv_d = 1.0 / dim as f64;
    let ksum = |v: &[f32]| -> f64 {
        let mut acc = [0.0f64; 8];
        let (chunks, rest) = v.as_chunks::<8>();
        for ch in chunks {
            for (a, &g) in acc.iter_mut().zip(ch) {
                let t = f64::from(g) * inv_d + 1.0;
                *a += t * t * t;
            }
        }
        let tail: f64 = rest
            .iter()
            .map(|&g| (f64::from(g) * inv_d + 1.0).powi(3))
            .sum();
        acc.iter().sum::<f64>() + tail
    };
    let (mut same, mut cross) = (0.0, 0.0);
    for i in r0..(r0 + nr).min(2 * m) {
        let row = &c[(i - r0) * MB..][..nc];
        // Columns j < i of this block, split at m.
        let end = i.min(c0 + nc);
        if end <= c0 {
            continue;
        }
        let split = m.clamp(c0, end);
        let below = ksum(&row[..split - c0]);
        if i < m {
            same += below;
        } else {
            cross += below;
        }
        same += ksum(&row[split - c0..end - c0]);
    }
    (same, cross)
}

#[cfg(test)]
mod tests {
    use crate::stats::{kid, kid_amx, kid_gemm};

    /// Non-negative, skewed features like Inception's pool3 (xorshift-driven, seeded).
    fn features(n: usize, dim: usize, seed: u32) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n * dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let u = (s >> 8) as f32 / (1u32 << 24) as f32;
                -(1.0 - u).ln() * 0.4
            })
            .collect()
    }

    /// Against the f64 path: within 2e-5 relative, the level of clean-fid's own float32 KID
    /// (1.7e-5 on the golden set, where `kid_f32` is held to it exactly); f32 GEMMs land at
    /// 1e-7–2e-5 here, a wrong tile or piece at ≥ 1e-3. Covers padded rows (2000 → 2016,
    /// a partial macro block), padded depth (100 → 128, 7 → 32) and several subsets.
    #[test]
    fn amx_kid_is_as_accurate_as_f32_gemms() {
        if !super::available() {
            eprintln!("no AMX here: skipped");
            return;
        }
        for (n, dim, subsets, size) in [(1100, 2048, 2, 1000), (300, 100, 3, 250), (40, 7, 2, 33)] {
            let (a, b) = (features(n, dim, 1), features(n + 17, dim, 2));
            let amx = kid_amx(&a, &b, dim, subsets, size, 5).unwrap();
            let f32 = kid_gemm::<f32>(&a, &b, dim, subsets, size, 5).unwrap();
            let f64 = kid(&a, &b, dim, subsets, size, 5).unwrap();
            let rel = |v: f64| (v - f64).abs() / f64.abs();
            eprintln!(
                "{n}×{dim}: AMX {:.1e}, f32 GEMM {:.1e} relative",
                rel(amx),
                rel(f32)
            );
            assert!(rel(amx) <= 2e-5, "{n}×{dim}: AMX {amx} vs f64 {f64}");
            assert_eq!(amx, kid_amx(&a, &b, dim, subsets, size, 5).unwrap());
        }
    }
}
