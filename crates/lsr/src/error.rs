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
    /// A checkpoint could not be read, or its tensors do not fit the model.
    #[error("checkpoint {source_name}: {message}")]
    Weights {
        /// The file (or in-memory source) being loaded.
        source_name: String,
        /// What went wrong: unreadable file, missing/unexpected/mis-shaped keys, bad spec.
        message: String,
    },
    /// An error from `ultrares-core` (tensor shapes, NaN, sizes, images).
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

    pub(crate) fn weights(source: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Weights {
            source_name: source.into(),
            message: message.into(),
        }
    }
}
