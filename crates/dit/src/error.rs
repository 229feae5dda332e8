//! The error type of ultrares-dit.

/// Everything that can go wrong while building, loading or running a DiT.
#[derive(Debug, thiserror::Error)]
pub enum DitError {
    /// A config, weight or file error from the shared layers (names the file, key and
    /// expectation).
    #[error(transparent)]
    Model(#[from] ultrares_core::Error),
    /// A configuration this crate does not implement (names the field and what is supported).
    #[error("unsupported transformer config: {field} = {value} ({supported})")]
    Unsupported {
        /// The `config.json` field.
        field: String,
        /// Its value.
        value: String,
        /// What is supported instead.
        supported: String,
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

impl DitError {
    pub(crate) fn input(
        argument: &'static str,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        Self::Input {
            argument,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    pub(crate) fn unsupported(
        field: &str,
        value: impl std::fmt::Display,
        supported: impl Into<String>,
    ) -> Self {
        Self::Unsupported {
            field: field.to_string(),
            value: value.to_string(),
            supported: supported.into(),
        }
    }
}

/// `Result` with [`DitError`].
pub type Result<T, E = DitError> = std::result::Result<T, E>;
