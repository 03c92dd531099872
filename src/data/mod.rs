//! Data: images and masks in memory, augmentation, and the synthetic lesion generator.

pub mod augment;
#[cfg(not(target_arch = "wasm32"))]
pub mod folder;
pub mod image;
pub mod synth;
