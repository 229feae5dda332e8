//! The integration tests of `ultrares-wavelet`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

mod autodiff;
mod common;
#[cfg(all(feature = "cubecl", feature = "ndarray"))]
mod device;
mod errors;
#[cfg(feature = "ndarray")]
mod fast;
mod filters;
mod layout;
mod pywt;
