//! # tinyunet
//!
//! TinyU-Net (Chen et al., MICCAI 2024) — a 0.48 M-parameter medical image segmentation network —
//! in pure Rust on [burn](https://burn.dev), for inference and training on the CPU or a GPU, in the
//! browser (WebGPU, through the npm package built from `src/web`) and natively (the `tinyunet`
//! command-line tool).
//!
//! The core modules know nothing of the browser: [`model`] (the network, exact to the PyTorch
//! reference), [`loss`], [`schedule`], [`train`], [`metrics`], [`data`] and [`weights`].

pub mod app;
pub mod backend;
pub mod data;
pub mod domain;
pub mod doubt;
pub mod error;
pub mod gpu_memory;
pub mod infer;
pub mod islands;
pub mod kernels;
pub mod limits;
pub mod loss;
pub mod metrics;
pub mod model;
pub(crate) mod pieces;
pub mod reference;
pub mod rng;
pub mod schedule;
pub mod train;
pub mod weights;

pub use error::{Error, Result};
pub use model::{TinyUNet, TinyUNetConfig};

#[cfg(target_arch = "wasm32")]
pub mod web;
