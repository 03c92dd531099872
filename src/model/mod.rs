//! The TinyU-Net network and its layers.

pub mod batch_norm;
pub mod cmrf;
pub mod conv_bn;
pub mod init;
pub mod param_paths;
pub mod tinyunet;

pub use tinyunet::{SIZE_MULTIPLE, TinyUNet, TinyUNetConfig};
