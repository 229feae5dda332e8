//! The integration tests of `ultrares-nn`, one binary: each file is a module, so the
//! crate is linked and its generic kernels are compiled once for all of them.

#[cfg(feature = "ndarray")]
mod activation;
#[cfg(feature = "ndarray")]
mod attention;
#[cfg(feature = "ndarray")]
mod conv;
#[cfg(all(feature = "ndarray", feature = "flex"))]
mod group_norm;
#[cfg(feature = "ndarray")]
mod layers;
#[cfg(all(feature = "ndarray", feature = "flex"))]
mod linear;
mod weights;
