//! The error type of `ultrares-vae`.

/// Errors returned by `ultrares-vae`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value was out of range or unsupported.
    #[error("invalid VAE config `{field}`: expected {expected}, got {got}")]
    Config {
        /// The config field.
        field: &'static str,
        /// What was expected, in words.
        expected: String,
        /// What was given.
        got: String,
    },
    /// An error from `ultrares-core`: tensor shapes, sizes, non-finite inputs, and checkpoints
    /// ([`ultrares_core::Error::Weights`]: unreadable files, missing/unexpected/mis-shaped keys).
    #[error(transparent)]
    Core(#[from] ultrares_core::Error),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(
        field: &'static str,
        expected: impl Into<String>,
        got: impl ToString,
    ) -> Self {
        Self::Config {
            field,
            expected: expected.into(),
            got: got.to_string(),
        }
    }
}
