//! Data: images and masks in memory, augmentation, and the synthetic lesion generator.

pub mod augment;
pub mod image;
pub mod synth;
