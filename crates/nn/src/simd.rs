//! Runtime CPU-feature dispatch for the host kernels of burn-ndarray's [`crate::NnBackend`]
//! impl: the workspace builds for the x86-64 baseline (SSE2), so loops such as the softmax's
//! `exp` and GroupNorm's SiLU run 4-wide; compiled again with AVX2 and FMA enabled they run
//! 8-wide (3× faster for the SiLU pass on machine C). Rust never contracts `a·b + c` into an FMA
//! on its own, so both versions give bit-identical results.

/// Runs `f` compiled with AVX2 and FMA enabled when the CPU has them (checked at run time,
/// cached by `std`), otherwise as built. `f` and the functions it calls should be
/// `#[inline(always)]` so that they are compiled inside the feature-enabled frame.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}
