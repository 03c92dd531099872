//! Every bound a user's input or setting is checked against, in one place: the core checks
//! against these constants, and the JavaScript package reads the same numbers from
//! [`LIMITS`] (through the wasm module's `limits()`) instead of writing them again.

use serde::Serialize;

use crate::error::{Error, Result};

/// Inputs must be divisible by 2⁴ because of the four 2×2 poolings.
pub const SIZE_MULTIPLE: usize = 16;
/// Largest working size (the side images are resized to): beyond it one image no longer fits a
/// browser tab's memory during training.
pub const MAX_INPUT_SIZE: usize = 1024;
/// Largest accepted image side, in pixels. Bigger photographs are refused with a clear error
/// rather than allowed to exhaust a browser tab's memory; downscale them first.
pub const MAX_SIDE: u32 = 8192;
/// Largest accepted image area, in pixels (about a 40-megapixel photograph).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most output classes a network may have (a mask stores one byte per pixel).
pub const MAX_CLASSES: usize = 256;
/// Most epochs of one run.
pub const MAX_EPOCHS: usize = 10_000;
/// Largest batch of one training step.
pub const MAX_BATCH_SIZE: usize = 256;
/// Learning rates accepted: positive, at most 1 (far beyond any that trains this network).
pub const LEARNING_RATE_RANGE: (f64, f64) = (1e-12, 1.0);
/// Strongest pull towards a run's starting weights (`SessionConfig::anchor`): far beyond any
/// that lets the weights move at all.
pub const MAX_ANCHOR: f64 = 1e3;
/// Largest seed: JavaScript numbers hold integers exactly only up to 2⁵³, so stay well inside.
pub const MAX_SEED: u64 = u32::MAX as u64;
/// Mirrored passes a segmentation may average (`doubt::MAX_FLIPS`, the most it mirrors).
pub const FLIPS: [usize; 3] = [1, 2, 4];

/// The limits above as one value, for a skin to hand on (camelCase for JavaScript).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// [`SIZE_MULTIPLE`].
    pub size_multiple: usize,
    /// [`MAX_INPUT_SIZE`].
    pub max_input_size: usize,
    /// [`MAX_SIDE`].
    pub max_side: u32,
    /// [`MAX_PIXELS`].
    pub max_pixels: u64,
    /// [`MAX_CLASSES`].
    pub max_classes: usize,
    /// [`MAX_EPOCHS`].
    pub max_epochs: usize,
    /// [`MAX_BATCH_SIZE`].
    pub max_batch_size: usize,
    /// Smallest learning rate ([`LEARNING_RATE_RANGE`]).
    pub min_learning_rate: f64,
    /// Largest learning rate ([`LEARNING_RATE_RANGE`]).
    pub max_learning_rate: f64,
    /// [`MAX_ANCHOR`].
    pub max_anchor: f64,
    /// [`MAX_SEED`].
    pub max_seed: u64,
    /// [`FLIPS`].
    pub flips: [usize; 3],
}

/// All the limits.
pub const LIMITS: Limits = Limits {
    size_multiple: SIZE_MULTIPLE,
    max_input_size: MAX_INPUT_SIZE,
    max_side: MAX_SIDE,
    max_pixels: MAX_PIXELS,
    max_classes: MAX_CLASSES,
    max_epochs: MAX_EPOCHS,
    max_batch_size: MAX_BATCH_SIZE,
    min_learning_rate: LEARNING_RATE_RANGE.0,
    max_learning_rate: LEARNING_RATE_RANGE.1,
    max_anchor: MAX_ANCHOR,
    max_seed: MAX_SEED,
    flips: FLIPS,
};

/// Checks a working size for inference (a multiple of [`SIZE_MULTIPLE`] up to [`MAX_INPUT_SIZE`]).
pub fn check_input_size(size: usize) -> Result<()> {
    if size == 0 || !size.is_multiple_of(SIZE_MULTIPLE) || size > MAX_INPUT_SIZE {
        return Err(Error::config(format!(
            "input size must be a multiple of {SIZE_MULTIPLE} between {SIZE_MULTIPLE} and {MAX_INPUT_SIZE}, got {size}"
        )));
    }
    Ok(())
}
