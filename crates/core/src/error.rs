//! The error type of `ultrares-core`.

use std::path::PathBuf;

/// Errors returned by `ultrares-core`.
///
/// Every variant names the offending argument and what was expected, so that a message such as
/// ``invalid argument `stride`: expected 1 ≤ stride ≤ window (64), got 0`` is enough to fix the call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor or image had the wrong shape (rank, channel count, spatial size, …).
    #[error("invalid shape for `{arg}`: expected {expected}, got {got:?}")]
    Shape {
        /// The argument that had the wrong shape.
        arg: &'static str,
        /// What was expected, in words.
        expected: String,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// A scalar argument was out of its valid range or inconsistent with another one.
    #[error("invalid argument `{arg}`: expected {expected}, got {got}")]
    Argument {
        /// The argument that was invalid.
        arg: &'static str,
        /// What was expected, in words.
        expected: String,
        /// The value that was given.
        got: String,
    },
    /// A tensor contained NaN or ±∞ where finite values are required.
    #[error("`{arg}` contains {count} non-finite value(s) (NaN or ±inf)")]
    NonFinite {
        /// The argument that contained non-finite values.
        arg: &'static str,
        /// How many non-finite values were found.
        count: usize,
    },
    /// A tensor or request was larger than this library accepts.
    #[error("`{arg}` is too large: {elements} elements, at most {limit} are supported")]
    TooLarge {
        /// The argument that was too large.
        arg: &'static str,
        /// The number of elements requested.
        elements: u128,
        /// The largest number of elements accepted.
        limit: u128,
    },
    /// A tensor had an element type this operation does not support.
    #[error("unsupported dtype for `{arg}`: expected {expected}, got {got}")]
    DType {
        /// The argument with the wrong dtype.
        arg: &'static str,
        /// The dtypes that are supported, in words.
        expected: &'static str,
        /// The dtype that was given.
        got: String,
    },
    /// An image file could not be read, decoded, encoded or written.
    #[error("image file {path}: {source}")]
    Image {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },
    /// Reading tensor data back from the device failed.
    #[error("reading `{arg}` back from the device failed: {message}")]
    Readback {
        /// The tensor being read.
        arg: &'static str,
        /// The backend's message.
        message: String,
    },
    /// A checkpoint could not be read, or its tensors do not fit the model.
    #[error("checkpoint {source_name}: {message}")]
    Weights {
        /// The file (or in-memory source) being loaded.
        source_name: String,
        /// What went wrong: unreadable file, missing/unexpected/mis-shaped keys, bad config.
        message: String,
    },
    /// A configuration file (`config.json`, `scheduler_config.json`, …) has a missing or
    /// ill-typed key, or is not JSON.
    #[error("config {source_name}: expected {expected}{}, got {got}", if key.is_empty() { String::new() } else { format!(" for `{key}`") })]
    Config {
        /// The file (or in-memory source) being read.
        source_name: String,
        /// The key (empty for the whole file).
        key: String,
        /// What was expected, in words.
        expected: String,
        /// What was found.
        got: String,
    },
    /// An operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Argument`].
    pub fn argument(arg: &'static str, expected: impl Into<String>, got: impl ToString) -> Self {
        Self::Argument {
            arg,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// Shorthand for [`Error::Weights`].
    pub fn weights(source: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Weights {
            source_name: source.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(arg: &'static str, expected: impl Into<String>, got: &[usize]) -> Self {
        Self::Shape {
            arg,
            expected: expected.into(),
            got: got.to_vec(),
        }
    }
}
