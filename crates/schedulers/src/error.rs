//! The error type of `ultrares-schedulers`.

/// Everything that can go wrong in this crate. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid configuration (zero steps, steps above the training steps, bad betas, ...).
    #[error("invalid scheduler configuration: {0}")]
    Config(String),
    /// A step or begin index outside the schedule.
    #[error("index out of range: {0}")]
    Index(String),
    /// Tensors that do not fit (shape mismatch, missing noise for a stochastic step).
    #[error("invalid input: {0}")]
    Input(String),
    /// A `scheduler_config.json` that cannot be read or parsed.
    #[error("scheduler_config.json: {0}")]
    Json(String),
}

/// `Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;
