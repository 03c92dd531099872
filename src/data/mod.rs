//! Data: images and masks in memory, augmentation, and the synthetic lesion generator.

pub mod augment;
pub mod dicom;
/// Image folders on disk (PNG/JPEG files), for the command-line tool: needs the `cli` feature.
#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub mod folder;
pub mod image;
pub mod ink;
pub mod stickers;
pub mod synth;
pub mod window;
