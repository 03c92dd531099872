//! Test fixtures of the weights readers: the small hand-made files in `tests/fixtures/weights/`
//! and the PyTorch reference checkpoint in `tests/fixtures/reference/`, read by name; and the checks on
//! error messages both readers' tests make.

use crate::error::Result;
use crate::weights::tensor_set::TensorSet;

/// A file from `tests/fixtures/weights/`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    read(&format!(
        "{}/tests/fixtures/weights/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// A file from the PyTorch reference fixtures (`tests/fixtures/reference/`).
pub(crate) fn reference(name: &str) -> Vec<u8> {
    read(&format!(
        "{}/tests/fixtures/reference/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// Reads a whole file; a missing fixture fails the test with its path.
fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The error text of a read that must fail.
pub(crate) fn error_text(read: Result<TensorSet>) -> String {
    match read {
        Ok(set) => panic!("expected an error, got {} tensors", set.len()),
        Err(e) => e.to_string(),
    }
}

/// Fails the test unless `message` contains every one of `parts`.
pub(crate) fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{message}` lacks `{part}`");
    }
}
