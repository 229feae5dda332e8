//! The error type of ultrares-text.

use std::path::PathBuf;

/// Everything that can go wrong while loading a tokenizer or encoding text.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file a tokenizer folder needs is not there.
    #[error("{path} not found: {expected}")]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
        /// What the folder must contain instead.
        expected: String,
    },
    /// A JSON file is not valid JSON or not the expected layout.
    #[error("{path}: {message}")]
    Json {
        /// The file (or a description of in-memory data).
        path: PathBuf,
        /// What is wrong, naming the key and the expectation.
        message: String,
    },
    /// The vocabulary and merges do not form a CLIP BPE vocabulary.
    #[error("{what}: {message}")]
    Vocabulary {
        /// Which input (file path or description).
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A model input has the wrong shape or values.
    #[error("{0}")]
    Input(String),
    /// A config or weight error from the shared layers (names the file, key and expectation).
    #[error(transparent)]
    Model(#[from] ultrares_core::Error),
    /// The tokenizer engine refused the input or the configuration.
    #[error("tokenizer: {0}")]
    Engine(String),
}

impl TextError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Json {
            path: path.into(),
            message: message.into(),
        }
    }
}
