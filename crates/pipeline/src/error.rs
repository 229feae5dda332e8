//! The error type of `ultrares-pipeline`.

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Errors returned by `ultrares-pipeline`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value or argument was out of range.
    #[error("invalid `{arg}`: expected {expected}, got {got}")]
    Argument {
        /// The argument or config field.
        arg: &'static str,
        /// What was expected, in words.
        expected: String,
        /// What was given.
        got: String,
    },
    /// The observer asked to stop (see [`crate::Observer::on_progress`]).
    #[error("generation cancelled at {0}")]
    Cancelled(String),
    /// The denoiser failed.
    #[error("denoiser: {0}")]
    Denoiser(#[source] Boxed),
    /// The latent codec (VAE) failed.
    #[error("latent codec: {0}")]
    Codec(#[source] Boxed),
    /// The latent upsampler failed.
    #[error("latent upsampler: {0}")]
    Upsampler(#[source] Boxed),
    /// An error from `ultrares-core` (shapes, non-finite values, noise sizes).
    #[error(transparent)]
    Core(#[from] ultrares_core::Error),
    /// An error from the scheduler.
    #[error(transparent)]
    Scheduler(#[from] ultrares_schedulers::Error),
    /// An error from region-wise noise addition.
    #[error(transparent)]
    Rna(#[from] ultrares_rna::Error),
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
