//! The CPU Haar kernels on plain slices (row-parallel with rayon), usable without Burn, e.g.
//! into buffers the caller reuses. burn-ndarray's [`super::WaveletBackend`] impl calls them.
//!
//! Layout: row-major `(N, C, H, W)` input, bands `(N, C, H/2, W/2)` each. Per 2×2 block
//! `p00 p01 / p10 p11`: `a = (p00+p01+p10+p11)/2`, `h = (p00+p01−p10−p11)/2`,
//! `v = (p00−p01+p10−p11)/2`, `d = (p00−p01−p10+p11)/2` (PyWavelets' `cA, cH, cV, cD`).

use rayon::prelude::*;

use crate::{Error, Mode, Result, Wavelet, plan};

/// Output elements handed to one rayon task at least.
const MIN_ELEMS_PER_TASK: usize = 16384;

/// Element types of the kernels (`f32`, `f64`).
pub trait Real:
    Copy
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
{
    /// 0.
    const ZERO: Self;
    /// ½.
    const HALF: Self;
}
impl Real for f32 {
    const ZERO: f32 = 0.0;
    const HALF: f32 = 0.5;
}
impl Real for f64 {
    const ZERO: f64 = 0.0;
    const HALF: f64 = 0.5;
}

/// A zeroed output buffer. Large buffers (≥ 4 MiB) on Linux are advised to use transparent
/// huge pages, as numpy does: a fresh 192 MiB buffer otherwise costs ~49 000 first-touch page
/// faults, which took 5× longer than the Haar kernel itself on a 4096² RGB image.
pub fn alloc_output<T: Real>(len: usize) -> Vec<T> {
    let v = vec![T::ZERO; len];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(v.as_slice());
        if bytes >= 4 << 20 {
            let start = v.as_ptr() as usize;
            let aligned = start.next_multiple_of(HUGE);
            let end = (start + bytes) / HUGE * HUGE;
            if end > aligned {
                // SAFETY: madvise only advises the kernel about a range inside this live
                // allocation; it does not change its contents or validity.
                unsafe {
                    libc::madvise(
                        aligned as *mut libc::c_void,
                        end - aligned,
                        libc::MADV_HUGEPAGE,
                    );
                }
            }
        }
    }
    v
}

/// Checks the slice lengths of [`haar_dwt2_into`]/[`haar_idwt2_into`].
fn check(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::shape(format!(
            "{what}: {got} elements, expected {want}"
        )));
    }
    Ok(())
}

/// Haar analysis of `x` (`shape`, even H and W) into four band buffers.
///
/// # Errors
/// [`Error::Shape`] if H or W is odd or zero, or a slice length does not match the shape.
pub fn haar_dwt2_into<T: Real>(x: &[T], shape: [usize; 4], bands: [&mut [T]; 4]) -> Result<()> {
    let [n, c, h, w] = shape;
    if h == 0 || w == 0 || h % 2 != 0 || w % 2 != 0 {
        return Err(Error::shape(format!(
            "the Haar kernel needs even H and W, got {shape:?}"
        )));
    }
    check("input", x.len(), n * c * h * w)?;
    for b in &bands {
        check("band", b.len(), n * c * h * w / 4)?;
    }
    haar_dwt2(x, shape, bands);
    Ok(())
}

/// Haar synthesis of four `(N, C, h, w)` bands into `out` (`(N, C, 2h, 2w)`).
///
/// # Errors
/// [`Error::Shape`] if a slice length does not match `band_shape`.
pub fn haar_idwt2_into<T: Real>(
    bands: [&[T]; 4],
    band_shape: [usize; 4],
    out: &mut [T],
) -> Result<()> {
    let len: usize = band_shape.iter().product();
    for b in &bands {
        check("band", b.len(), len)?;
    }
    check("output", out.len(), 4 * len)?;
    haar_idwt2(bands, band_shape, out);
    Ok(())
}

pub(crate) fn haar_dwt2<T: Real>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    [oa, oh, ov, od]: [&mut [T]; 4],
) {
    let (h2, w2) = (h / 2, w / 2);
    if n * c * h2 * w2 == 0 {
        return;
    }
    let min_rows = (MIN_ELEMS_PER_TASK / w2).max(1);
    oa.par_chunks_mut(w2)
        .zip(oh.par_chunks_mut(w2))
        .zip(ov.par_chunks_mut(w2))
        .zip(od.par_chunks_mut(w2))
        .zip(x.par_chunks(2 * w))
        .with_min_len(min_rows)
        .for_each(|((((ra, rh), rv), rd), rows)| {
            let (top, bottom) = rows.split_at(w);
            let it = ra
                .iter_mut()
                .zip(rh.iter_mut())
                .zip(rv.iter_mut())
                .zip(rd.iter_mut())
                .zip(top.chunks_exact(2).zip(bottom.chunks_exact(2)));
            for ((((a, hh), v), d), (t, b)) in it {
                let (s0, d0, s1, d1) = (t[0] + t[1], t[0] - t[1], b[0] + b[1], b[0] - b[1]);
                *a = (s0 + s1) * T::HALF;
                *hh = (s0 - s1) * T::HALF;
                *v = (d0 + d1) * T::HALF;
                *d = (d0 - d1) * T::HALF;
            }
        });
}

pub(crate) fn haar_idwt2<T: Real>(
    [a, h, v, d]: [&[T]; 4],
    [n, c, h2, w2]: [usize; 4],
    out: &mut [T],
) {
    if n * c * h2 * w2 == 0 {
        return;
    }
    let w = 2 * w2;
    let min_rows = (MIN_ELEMS_PER_TASK / (2 * w)).max(1);
    out.par_chunks_mut(2 * w)
        .zip(a.par_chunks(w2))
        .zip(h.par_chunks(w2))
        .zip(v.par_chunks(w2))
        .zip(d.par_chunks(w2))
        .with_min_len(min_rows)
        .for_each(|((((rows, ra), rh), rv), rd)| {
            let (top, bottom) = rows.split_at_mut(w);
            let it = top
                .chunks_exact_mut(2)
                .zip(bottom.chunks_exact_mut(2))
                .zip(ra.iter().zip(rh.iter()).zip(rv.iter().zip(rd.iter())));
            for ((t, b), ((&a, &h), (&v, &d))) in it {
                let (ahs, ahd, vds, vdd) = (a + h, a - h, v + d, v - d);
                t[0] = (ahs + vds) * T::HALF;
                t[1] = (ahs - vds) * T::HALF;
                b[0] = (ahd + vdd) * T::HALF;
                b[1] = (ahd - vdd) * T::HALF;
            }
        });
}

/// Any wavelet and mode, one level, on the host: PyWavelets' sums computed directly
/// (`plan.rs` documents the index algebra), rayon over output rows. Returns `[a, h, v, d]` and
/// their shape.
pub(crate) fn dwt2_any<T: Real>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    wavelet: &Wavelet,
    mode: Mode,
    real: impl Fn(f64) -> T + Sync,
) -> Result<([Vec<T>; 4], [usize; 4])> {
    let eh = plan::extension(h, wavelet, mode)?;
    let ew = plan::extension(w, wavelet, mode)?;
    let l = wavelet.filter_len();
    let (oh, ow) = ((eh.idx.len() + 2 - l) / 2, (ew.idx.len() + 2 - l) / 2);
    let rev = |f: &[f64]| f.iter().rev().map(|&v| real(v)).collect::<Vec<T>>();
    let (glo, ghi) = (rev(wavelet.dec_lo()), rev(wavelet.dec_hi()));
    let planes = n * c;
    // Along H: output row o of a plane is Σ_k g[k]·sign[2o+k]·x[idx[2o+k]] (rows as vectors).
    let mut lo = alloc_output::<T>(planes * oh * w);
    let mut hi = alloc_output::<T>(planes * oh * w);
    let sign_h: Vec<T> = match &eh.sign {
        Some(s) => s.iter().map(|&v| real(v)).collect(),
        None => vec![real(1.0); eh.idx.len()],
    };
    lo.par_chunks_mut(w)
        .zip(hi.par_chunks_mut(w))
        .enumerate()
        .with_min_len((MIN_ELEMS_PER_TASK / (w * l).max(1)).max(1))
        .for_each(|(row, (rl, rh))| {
            let (plane, o) = (row / oh, row % oh);
            let src_plane = &x[plane * h * w..][..h * w];
            for k in 0..l {
                let q = 2 * o + k;
                let (cl, ch) = (glo[k] * sign_h[q], ghi[k] * sign_h[q]);
                let src = &src_plane[eh.idx[q] as usize * w..][..w];
                for ((a, b), &s) in rl.iter_mut().zip(rh.iter_mut()).zip(src) {
                    *a = *a + cl * s;
                    *b = *b + ch * s;
                }
            }
        });
    // Along W: extend each row into a scratch buffer, then the strided correlation.
    let sign_w: Option<Vec<T>> = ew
        .sign
        .as_ref()
        .map(|s| s.iter().map(|&v| real(v)).collect());
    let along_w = |input: &[T], out_lo: &mut [T], out_hi: &mut [T]| {
        out_lo
            .par_chunks_mut(ow)
            .zip(out_hi.par_chunks_mut(ow))
            .zip(input.par_chunks(w))
            .with_min_len((MIN_ELEMS_PER_TASK / (ow * l).max(1)).max(1))
            .for_each_init(
                || Vec::with_capacity(ew.idx.len()),
                |ext: &mut Vec<T>, ((rl, rh), row)| {
                    ext.clear();
                    ext.extend(ew.idx.iter().map(|&i| row[i as usize]));
                    if let Some(s) = &sign_w {
                        ext.iter_mut().zip(s).for_each(|(e, &s)| *e = *e * s);
                    }
                    for (o, (a, b)) in rl.iter_mut().zip(rh.iter_mut()).enumerate() {
                        let win = &ext[2 * o..][..l];
                        let (mut sa, mut sb) = (real(0.0), real(0.0));
                        for ((&e, &gl), &gh) in win.iter().zip(&glo).zip(&ghi) {
                            sa = sa + gl * e;
                            sb = sb + gh * e;
                        }
                        *a = sa;
                        *b = sb;
                    }
                },
            );
    };
    let len = planes * oh * ow;
    let mut out: [Vec<T>; 4] = std::array::from_fn(|_| alloc_output(len));
    let [a, hd, v, d] = &mut out;
    along_w(&lo, a, v);
    along_w(&hi, hd, d);
    Ok((out, [n, c, oh, ow]))
}

/// The inverse of [`dwt2_any`] (PyWavelets' `idwt2`): bands `[a, h, v, d]` of one shape.
pub(crate) fn idwt2_any<T: Real>(
    bands: [&[T]; 4],
    [n, c, mh, mw]: [usize; 4],
    wavelet: &Wavelet,
    mode: Mode,
    real: impl Fn(f64) -> T + Sync,
) -> Result<(Vec<T>, [usize; 4])> {
    let l = wavelet.filter_len();
    let geometry = |m: usize| -> Result<(usize, usize, Vec<usize>)> {
        let out = plan::rec_len(m, l, mode).ok_or_else(|| {
            Error::shape(format!(
                "{m} coefficients are too few to reconstruct with a {l}-tap filter (need ≥ {})",
                l / 2
            ))
        })?;
        let e = if mode == Mode::Periodization {
            l.div_ceil(2)
        } else {
            0
        };
        let idx = if e > 0 {
            plan::periodic(m, e)
                .into_iter()
                .map(|i| i as usize)
                .collect()
        } else {
            (0..m).collect()
        };
        Ok((out, l - 1 - plan::shift(l, mode) + 2 * e, idx))
    };
    let (oh, start_h, idx_h) = geometry(mh)?;
    let (ow, start_w, idx_w) = geometry(mw)?;
    let (rlo, rhi): (Vec<T>, Vec<T>) = (
        wavelet.rec_lo().iter().map(|&v| real(v)).collect(),
        wavelet.rec_hi().iter().map(|&v| real(v)).collect(),
    );
    // Output sample t of an axis: Σ_k rec[k]·z[(t + start − k)/2] over even t + start − k.
    let taps = |t: usize, start: usize, mlen: usize| {
        let p = t + start;
        (p % 2..l.min(p + 1)).step_by(2).filter_map(move |k| {
            let o = (p - k) / 2;
            (o < mlen).then_some((k, o))
        })
    };
    let planes = n * c;
    let [a, h, v, d] = bands;
    // Along W: lo = synth(a, v), hi = synth(h, d); rows of mw → ow. The (tap, source) pairs
    // of every output column are the same on every row: tabulate them once, padded to a fixed
    // count with zero coefficients.
    let per = l.div_ceil(2);
    let mut tab: Vec<(T, T, usize)> = Vec::with_capacity(ow * per);
    for t in 0..ow {
        let mut row: Vec<(T, T, usize)> = taps(t, start_w, idx_w.len())
            .map(|(k, o)| (rlo[k], rhi[k], idx_w[o]))
            .collect();
        row.resize(per, (real(0.0), real(0.0), 0));
        tab.extend(row);
    }
    let along_w = |lo_in: &[T], hi_in: &[T], out: &mut [T]| {
        out.par_chunks_mut(ow)
            .zip(lo_in.par_chunks(mw).zip(hi_in.par_chunks(mw)))
            .with_min_len((MIN_ELEMS_PER_TASK / (ow * l).max(1)).max(1))
            .for_each(|(row, (rl, rh))| {
                for (y, entries) in row.iter_mut().zip(tab.chunks_exact(per)) {
                    let mut s = real(0.0);
                    for &(cl, ch, o) in entries {
                        s = s + cl * rl[o] + ch * rh[o];
                    }
                    *y = s;
                }
            });
    };
    let mut lo = alloc_output::<T>(planes * mh * ow);
    let mut hi = alloc_output::<T>(planes * mh * ow);
    along_w(a, v, &mut lo);
    along_w(h, d, &mut hi);
    // Along H, rows as vectors.
    let mut out = alloc_output::<T>(planes * oh * ow);
    out.par_chunks_mut(ow)
        .enumerate()
        .with_min_len((MIN_ELEMS_PER_TASK / (ow * l).max(1)).max(1))
        .for_each(|(row, y)| {
            let (plane, t) = (row / oh, row % oh);
            let (pl, ph) = (
                &lo[plane * mh * ow..][..mh * ow],
                &hi[plane * mh * ow..][..mh * ow],
            );
            for (k, o) in taps(t, start_h, idx_h.len()) {
                let r = idx_h[o] * ow;
                let (cl, ch) = (rlo[k], rhi[k]);
                for ((y, &x0), &x1) in y.iter_mut().zip(&pl[r..r + ow]).zip(&ph[r..r + ow]) {
                    *y = *y + cl * x0 + ch * x1;
                }
            }
        });
    Ok((out, [n, c, oh, ow]))
}
