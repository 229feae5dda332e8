//! Pixelsmith's Fourier phase mixing (`Thanos-DB/Pixelsmith:pixelsmith_pipeline.py`): keep a
//! patch's amplitude spectrum, replace its phase by `angle(e^{iφ_z} + e^{iφ_g})`, the circular
//! mean of its own and the guidance patch's phase.

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// 2-D FFTs of `h × w` planes (rows then columns), planned once.
pub struct Fft2 {
    h: usize,
    w: usize,
    rows: [Arc<dyn Fft<f64>>; 2],
    cols: [Arc<dyn Fft<f64>>; 2],
}

impl Fft2 {
    /// Plans forward and inverse transforms of `h × w` planes.
    pub fn new(h: usize, w: usize) -> Self {
        let mut p = FftPlanner::new();
        Self {
            h,
            w,
            rows: [p.plan_fft_forward(w), p.plan_fft_inverse(w)],
            cols: [p.plan_fft_forward(h), p.plan_fft_inverse(h)],
        }
    }

    fn transform(&self, x: &mut [Complex64], dir: usize) {
        let (h, w) = (self.h, self.w);
        for row in x.chunks_exact_mut(w) {
            self.rows[dir].process(row);
        }
        let mut col = vec![Complex64::default(); h];
        for c in 0..w {
            for (r, v) in col.iter_mut().enumerate() {
                *v = x[r * w + c];
            }
            self.cols[dir].process(&mut col);
            for (r, v) in col.iter().enumerate() {
                x[r * w + c] = *v;
            }
        }
    }

    /// Mixes the phase of every `h × w` plane of `z` with the same plane of `guide` (both
    /// row-major, any number of planes): the result has `z`'s amplitudes and the phase
    /// `angle(e^{iφ_z} + e^{iφ_g})`, as `torch.fft.rfft2`/`irfft2` (norm `ortho`) upstream.
    pub fn mix_phase(&self, z: &[f32], guide: &[f32]) -> Vec<f32> {
        let n = self.h * self.w;
        let mut out = Vec::with_capacity(z.len());
        for (pz, pg) in z.chunks_exact(n).zip(guide.chunks_exact(n)) {
            let mut fz: Vec<Complex64> =
                pz.iter().map(|&v| Complex64::new(v as f64, 0.0)).collect();
            let mut fg: Vec<Complex64> =
                pg.iter().map(|&v| Complex64::new(v as f64, 0.0)).collect();
            self.transform(&mut fz, 0);
            self.transform(&mut fg, 0);
            for (a, b) in fz.iter_mut().zip(&fg) {
                let phase = (Complex64::from_polar(1.0, a.arg())
                    + Complex64::from_polar(1.0, b.arg()))
                .arg();
                *a = Complex64::from_polar(a.norm(), phase);
            }
            self.transform(&mut fz, 1);
            // The mixed spectrum keeps Hermitian symmetry, so the inverse is real (irfft2).
            out.extend(fz.iter().map(|v| (v.re / n as f64) as f32));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_with_itself_is_the_identity() {
        let f = Fft2::new(8, 6);
        let z: Vec<f32> = (0..96)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let y = f.mix_phase(&z, &z);
        for (a, b) in z.iter().zip(&y) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
