//! The error type of `ultrares-lsr`.

/// Errors returned by `ultrares-lsr`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument was out of range or inconsistent with another one.
    #[error("invalid argument `{arg}`: expected {expected}, got {got}")]
    Argument {
        /// The argument.
        arg: &'static str,
        /// What was expected, in words.
        expected: String,
        /// What was given.
        got: String,
    },
    /// An error from `ultrares-core`: tensor shapes, NaN, sizes, images, and checkpoints
    /// ([`ultrares_core::Error::Weights`]: unreadable files, missing/unexpected/mis-shaped keys).
    #[error(transparent)]
    Core(#[from] ultrares_core::Error),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn argument(
        arg: &'static str,
        expected: impl Into<String>,
        got: impl ToString,
    ) -> Self {
        Self::Argument {
            arg,
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}
