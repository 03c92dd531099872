//! Pieces the subcommands share: reading weights, building examples from folders, devices.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tinyunet::app::{Segmenter, SegmenterOptions, model_and_card_from_weights};
use tinyunet::data::augment::Example;
use tinyunet::data::folder::{Pair, read_image_with_window};
use tinyunet::data::image::{MaskKind, RgbaImage, check_mask_size, example_from_pair};
use tinyunet::data::window::Window;
use tinyunet::train::HeldOut;
use tinyunet::weights::ModelCard;
use tinyunet::{Error, Result, TinyUNet, TinyUNetConfig};

/// The shipped models' names, as `--model` takes them (files `www/models/NAME.safetensors`).
pub const MODEL_NAMES: [&str; 2] = ["skin-lesion", "lung-ct"];

/// The weights file of a shipped model.
pub fn model_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("www/models/{name}.safetensors"))
}

/// The default model's weights (the skin-lesion model; see the README).
pub fn demo_weights_path() -> PathBuf {
    model_file("skin-lesion")
}

/// A model card by a shipped model's name, or read from a JSON file, for a network with
/// `outputs` outputs.
pub fn card_from_arg(arg: &str, outputs: usize) -> Result<ModelCard> {
    match ModelCard::builtin(arg) {
        Some(card) => {
            card.check(outputs)?;
            Ok(card)
        }
        None => ModelCard::from_json(
            &String::from_utf8_lossy(&read_file(Path::new(arg))?),
            outputs,
        )
        .map_err(|e| e.context(arg)),
    }
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
    /// Weights (`.safetensors` or `.pth`); the shipped `--model` when absent.
    #[arg(long, conflicts_with = "model")]
    pub weights: Option<PathBuf>,
    /// A shipped model by name (`www/models/NAME.safetensors`).
    #[arg(long, value_parser = MODEL_NAMES, default_value = "skin-lesion")]
    pub model: String,
    /// Side the images are resized to for the network.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    pub backend: String,
    /// Mirrored passes averaged per image: 1 (none), 2 (left-right) or 4 (and top-bottom).
    #[arg(long, default_value_t = tinyunet::infer::DEFAULT_FLIPS)]
    pub flips: usize,
    /// Stray pieces of each mask: `keep` them, keep only the `main` piece (the lesion; one-class
    /// models), or remove pieces below a share of the image (such as `0.002`). Default: the
    /// model's (`main` for one class, `keep` for several).
    #[arg(long)]
    pub islands: Option<tinyunet::islands::Islands>,
}

impl ModelArgs {
    /// The segmenter these options name, on their backend.
    pub fn load(&self) -> Result<Segmenter> {
        let device = tinyunet::backend::device_by_name(&self.backend)?;
        let options = SegmenterOptions::default()
            .with_input_size(self.size)
            .with_flips(self.flips)
            .with_islands(self.islands);
        let path = self
            .weights
            .clone()
            .unwrap_or_else(|| model_file(&self.model));
        let (model, card) = load_model_and_card(Some(&path), &device)?;
        Segmenter::from_model(model, &options)?.with_card(card)
    }
}

/// A model on `device` with the weights of `path`, or of the shipped demo weights.
pub fn load_model(path: Option<&Path>, device: &Device) -> Result<TinyUNet> {
    load_model_and_card(path, device).map(|(model, _)| model)
}

/// [`load_model`], with the file's model card.
pub fn load_model_and_card(path: Option<&Path>, device: &Device) -> Result<(TinyUNet, ModelCard)> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(demo_weights_path);
    model_and_card_from_weights(&read_file(&path)?, device)
        .map_err(|e| e.context(&path.display().to_string()))
}

/// A fresh model (with the fallback card), or one continuing from weights (with theirs).
pub fn model_or_fresh(
    init: Option<&Path>,
    classes: usize,
    device: &Device,
    seed: u64,
) -> Result<(TinyUNet, ModelCard)> {
    match init {
        Some(path) => load_model_and_card(Some(path), device),
        None => Ok((
            TinyUNetConfig::with_classes(classes).init(device, seed)?,
            ModelCard::fallback(classes),
        )),
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
    read_pair_with_window(pair, Window::LUNG)
}

/// [`read_pair`], with a DICOM image mapped to grey through `window`.
pub fn read_pair_with_window(pair: &Pair, window: Window) -> Result<(RgbaImage, RgbaImage)> {
    let image = read_image_with_window(&pair.image, window)?;
    let mask = read_image_with_window(&pair.mask, window)?;
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

/// `--window LEVEL,WIDTH`: a CT window in Hounsfield units, as clap parses it.
pub fn parse_window(text: &str) -> std::result::Result<Window, String> {
    let figures: Vec<&str> = text.split(',').map(str::trim).collect();
    let [level, width] = figures[..] else {
        return Err(format!(
            "expected LEVEL,WIDTH in Hounsfield units (e.g. -600,1500 for the lung window), got {text:?}"
        ));
    };
    let number = |s: &str, what: &str| {
        s.parse::<f64>()
            .map_err(|_| format!("the window's {what} {s:?} is not a number"))
    };
    Window::new(number(level, "level")?, number(width, "width")?).map_err(|e| e.to_string())
}

/// The window that maps a DICOM slice to grey: `--window` when given, else the model card's,
/// else the lung window.
pub fn dicom_window(arg: Option<Window>, segmenter: &Segmenter) -> Window {
    arg.or(segmenter.card().window).unwrap_or(Window::LUNG)
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

/// Refuses, before any work, an output file that could not be written at the end of a long run:
/// its folder missing, or the path itself a folder. `flag` names the option in the error.
pub fn check_output_file(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::input(format!(
            "{flag} {} is a folder; give a file name (e.g. {}/tuned.safetensors)",
            path.display(),
            path.display()
        )));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(Error::input(format!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            folder.display()
        )));
    }
    Ok(())
}
