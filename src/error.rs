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
    /// The error's category, the word its message starts with: `weights`, `input`, `config`,
    /// `backend` or `io`. A program branches on this (JavaScript sees it as `err.kind`), never
    /// on the message text, which is for people.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Weights(_) => "weights",
            Error::Input(_) => "input",
            Error::Config(_) => "config",
            Error::Backend(_) => "backend",
            Error::Io { .. } => "io",
        }
    }

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

    /// A tensor read back with another element type than the f32 asked for.
    pub fn result_type(cause: impl std::fmt::Debug) -> Self {
        Error::Backend(format!("unexpected result type: {cause:?}"))
    }

    /// A failed tensor read-back. burn's error prints its cause chain over several lines and
    /// ends with a backtrace note; a user needs the causes on one line, e.g. `…: The device is
    /// poisoned: Destroyed: Device was destroyed.`
    pub fn read_back(cause: impl std::fmt::Debug) -> Self {
        let text = format!("{cause:?}");
        let mut parts: Vec<&str> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with("Backtrace") {
                break;
            }
            if !line.is_empty() && line != "Caused by:" && parts.last() != Some(&line) {
                parts.push(line);
            }
        }
        Error::Backend(format!(
            "reading the result back failed: {}",
            parts.join(": ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_the_first_word_of_its_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let errors = [
            Error::weights("w"),
            Error::input("i"),
            Error::config("c"),
            Error::Backend("b".into()),
        ];
        for e in errors {
            assert!(e.to_string().starts_with(&format!("{}: ", e.kind())), "{e}");
        }
        let io = Error::Io {
            path: "a.png".into(),
            source: io,
        };
        assert_eq!(io.kind(), "io");
    }

    #[test]
    fn read_back_errors_keep_the_causes_on_one_line() {
        let chain = "The device is poisoned\nCaused by:\n  The device is poisoned\nCaused by:\n  Destroyed: Device was destroyed.\nBacktrace:\nNo backtrace available";
        assert_eq!(
            Error::read_back(format_args!("{chain}")).to_string(),
            "backend: reading the result back failed: The device is poisoned: Destroyed: Device was destroyed."
        );
    }
}
