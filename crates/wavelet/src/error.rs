//! The error type of `ultrares-wavelet`.

/// Everything that can go wrong in this crate. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wavelet name that is not built in (see [`crate::Wavelet::builtin_names`]).
    #[error("unknown wavelet {0:?} (built in: haar, db1-db38, sym2-sym20, coif1-coif17)")]
    UnknownWavelet(String),
    /// A signal-extension mode name that is not supported.
    #[error(
        "unknown mode {0:?} (supported: zero, constant, symmetric, reflect, periodic, periodization, antisymmetric)"
    )]
    UnknownMode(String),
    /// A custom filter bank that is empty, non-finite, of unequal lengths or not orthonormal.
    #[error("invalid filter bank: {0}")]
    FilterBank(String),
    /// A decomposition level of 0, or deeper than the size allows.
    #[error("{0}")]
    Level(String),
    /// Tensor shapes that do not fit the operation (empty axes, mismatched bands, ...).
    #[error("shape error: {0}")]
    Shape(String),
    /// Any other invalid argument.
    #[error("invalid argument: {0}")]
    Argument(String),
}

impl Error {
    pub(crate) fn shape(msg: impl Into<String>) -> Self {
        Self::Shape(msg.into())
    }
}

/// `Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;
