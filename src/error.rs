//! The crate's error type: every failure a user can cause is one of these, with a message that
//! names the input and what was expected.

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tinyunet, as values rather than panics.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file is malformed, truncated, or does not fit the model.
    #[error("weights: {0}")]
    Weights(String),
    /// An image, mask or tensor given by the caller has the wrong size, type or content.
    #[error("input: {0}")]
    Input(String),
    /// A configuration value (classes, sizes, learning rate, ...) is out of range.
    #[error("config: {0}")]
    Config(String),
    /// The compute backend failed (device lost, out of memory, read-back failed).
    #[error("backend: {0}")]
    Backend(String),
    /// The caller cancelled a long operation.
    #[error("cancelled")]
    Cancelled,
    /// A file could not be read or written (native only).
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::Weights`].
    pub fn weights(msg: impl Into<String>) -> Self {
        Error::Weights(msg.into())
    }
    /// Shorthand for [`Error::Input`].
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }
    /// The same error with `what` (a file name, say) put in front of its message.
    pub fn context(self, what: &str) -> Self {
        match self {
            Error::Weights(m) => Error::Weights(format!("{what}: {m}")),
            Error::Input(m) => Error::Input(format!("{what}: {m}")),
            Error::Config(m) => Error::Config(format!("{what}: {m}")),
            Error::Backend(m) => Error::Backend(format!("{what}: {m}")),
            other => other,
        }
    }

    /// Shorthand for [`Error::Config`].
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
}
