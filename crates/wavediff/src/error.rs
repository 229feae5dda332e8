//! The error type of ultrares-wavediff.

/// Everything that can go wrong while building, loading or running a WaveDiff network.
#[derive(Debug, thiserror::Error)]
pub enum WaveDiffError {
    /// A weight or file error from the shared layers (names the file, the keys and the
    /// expectation).
    #[error(transparent)]
    Model(#[from] ultrares_core::Error),
    /// A wavelet-transform error.
    #[error(transparent)]
    Wavelet(#[from] ultrares_wavelet::Error),
    /// A sampler error.
    #[error(transparent)]
    Scheduler(#[from] ultrares_schedulers::Error),
    /// A configuration that cannot be built (names the field and the expectation).
    #[error("WaveDiff config: {field} = {value} ({expected})")]
    Config {
        /// The field (the official argparse name).
        field: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// A model input has the wrong shape or values (names the argument and the expectation).
    #[error("{argument}: expected {expected}, got {got}")]
    Input {
        /// The argument.
        argument: &'static str,
        /// What was expected.
        expected: String,
        /// What was given.
        got: String,
    },
}

impl WaveDiffError {
    pub(crate) fn input(
        argument: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Debug,
    ) -> Self {
        Self::Input {
            argument,
            expected: expected.into(),
            got: format!("{got:?}"),
        }
    }

    pub(crate) fn config(
        field: &'static str,
        value: impl std::fmt::Debug,
        expected: impl Into<String>,
    ) -> Self {
        Self::Config {
            field,
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }
}

/// `Result` with [`WaveDiffError`].
pub type Result<T, E = WaveDiffError> = std::result::Result<T, E>;
