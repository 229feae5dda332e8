//! The error type of `ultrares-metrics`.

/// Everything that can go wrong in this crate. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid argument (no distances, levels out of range, zero patch size, ...).
    #[error("invalid argument: {0}")]
    Argument(String),
    /// An image whose size or pixel values do not fit the operation.
    #[error("invalid image: {0}")]
    Image(String),
    /// A weight file that is missing, unreadable, or whose tensors do not match the network.
    #[error("weights: {0}")]
    Weights(String),
    /// An error from `ultrares-core` (reading images).
    #[error(transparent)]
    Core(#[from] ultrares_core::Error),
    /// An error from a CLIP tower or its tokenizer (CLIPScore).
    #[error(transparent)]
    Text(#[from] ultrares_text::TextError),
}

impl Error {
    pub(crate) fn argument(
        arg: &str,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Self::Argument(format!("`{arg}`: expected {expected}, got {got}"))
    }
}

/// `Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;
