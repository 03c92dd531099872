//! Pieces the subcommands share: reading weights, building examples from folders, devices.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tinyunet::app::{Segmenter, SegmenterOptions, model_from_weights};
use tinyunet::data::augment::Example;
use tinyunet::data::folder::{Pair, read_image};
use tinyunet::data::image::{MaskKind, RgbaImage, check_mask_size, example_from_pair};
use tinyunet::train::HeldOut;
use tinyunet::{Error, Result, TinyUNet, TinyUNetConfig};

/// The demo weights shipped in the repository (trained on generated images; see the README).
pub fn demo_weights_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/demo-weights.safetensors")
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The model options of the commands that run a trained network (`eval`, `predict`).
#[derive(clap::Args)]
pub struct ModelArgs {
    /// Weights (`.safetensors` or `.pth`); the shipped demo weights when absent.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Side the images are resized to for the network.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    pub backend: String,
    /// Mirrored passes averaged per image: 1 (none), 2 (left-right) or 4 (and top-bottom).
    #[arg(long, default_value_t = tinyunet::infer::DEFAULT_FLIPS)]
    pub flips: usize,
}

impl ModelArgs {
    /// The segmenter these options name, on their backend.
    pub fn load(&self) -> Result<Segmenter> {
        let device = tinyunet::backend::device_by_name(&self.backend)?;
        let options = SegmenterOptions::default()
            .with_input_size(self.size)
            .with_flips(self.flips);
        Segmenter::from_model(load_model(self.weights.as_deref(), &device)?, &options)
    }
}

/// A model on `device` with the weights of `path`, or of the shipped demo weights.
pub fn load_model(path: Option<&Path>, device: &Device) -> Result<TinyUNet> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(demo_weights_path);
    model_from_weights(&read_file(&path)?, device)
        .map_err(|e| e.context(&path.display().to_string()))
}

/// A fresh model, or one continuing from weights.
pub fn model_or_fresh(
    init: Option<&Path>,
    classes: usize,
    device: &Device,
    seed: u64,
) -> Result<TinyUNet> {
    match init {
        Some(path) => load_model(Some(path), device),
        None => TinyUNetConfig::with_classes(classes).init(device, seed),
    }
}

/// Loads a pair as a training example at `size`. Errors name the file.
pub fn load_example(pair: &Pair, size: usize, kind: MaskKind) -> Result<Example> {
    let (image, mask) = read_pair(pair)?;
    let mask_name = pair.mask.display().to_string();
    example_from_pair(&image, &mask, size, kind, &mask_name, &mask_name)
}

/// Reads a pair's image and mask and checks that their sizes match. Errors name the file.
pub fn read_pair(pair: &Pair) -> Result<(RgbaImage, RgbaImage)> {
    let image = read_image(&pair.image)?;
    let mask = read_image(&pair.mask)?;
    check_mask_size(&image, &mask, &pair.mask.display().to_string())?;
    Ok((image, mask))
}

/// Loads every pair it can; unreadable ones are reported on stderr by name and skipped.
pub fn load_examples(pairs: &[Pair], size: usize, kind: MaskKind) -> (Vec<Example>, Vec<String>) {
    let mut examples = Vec::with_capacity(pairs.len());
    let mut skipped = Vec::new();
    for pair in pairs {
        match load_example(pair, size, kind) {
            Ok(example) => examples.push(example),
            Err(e) => {
                eprintln!("skipping {}: {e}", pair.name);
                skipped.push(pair.name.clone());
            }
        }
    }
    (examples, skipped)
}

/// Reads every pair it can as a held-back pair scored at `size`; unreadable ones are reported on
/// stderr by name and skipped.
pub fn load_held_out(pairs: &[Pair], size: usize, kind: MaskKind) -> Vec<HeldOut> {
    pairs
        .iter()
        .filter_map(|pair| {
            let loaded = read_pair(pair)
                .and_then(|(image, mask)| HeldOut::new(&pair.name, &image, &mask, size, kind));
            loaded
                .inspect_err(|e| eprintln!("skipping {} (validation): {e}", pair.name))
                .ok()
        })
        .collect()
}

/// A progress bar in the house style.
pub fn progress_bar(len: u64, message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {bar:30} {pos}/{len} {per_sec} eta {eta} {prefix}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_string());
    bar
}
