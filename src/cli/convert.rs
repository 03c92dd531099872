//! `tinyunet convert`: re-encode weights (e.g. a PyTorch `.pth`) as safetensors, optionally f16 or
//! blended with a second training of the same network, and say how much the outputs move.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::*;
use tinyunet::data::image::{RgbaImage, image_to_chw};
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::infer::probabilities;
use tinyunet::weights::safetensors_io::{FloatStorage, write_safetensors_as};
use tinyunet::weights::{blend, decode_weights, export_weights, import_weights};
use tinyunet::{Error, Result};

use super::common::{card_from_arg, load_model_and_card, read_file};

/// Arguments of `convert`.
#[derive(clap::Args)]
pub struct Args {
    /// Weights to read (`.pth` or `.safetensors`).
    #[arg(long)]
    weights: PathBuf,
    /// Where to write the safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Store convolution kernels as f16 (half the size; biases and BatchNorm tensors stay f32).
    #[arg(long)]
    f16: bool,
    /// The model card to write: a shipped model's name (`skin-lesion`, `lung-ct`) or a JSON
    /// file; default: the input file's own card.
    #[arg(long)]
    card: Option<String>,
    /// Blend the weights with a second training of the same network (`.pth` or `.safetensors`):
    /// every tensor becomes (1 − share) × `--weights` + share × this file's (WiSE-FT). The card
    /// stays `--weights`' unless `--card` says otherwise.
    #[arg(long, value_name = "WEIGHTS")]
    blend_with: Option<PathBuf>,
    /// The second file's share in `--blend-with` (0: `--weights` as they are, 1: the second file).
    #[arg(long, default_value_t = 0.5, requires = "blend_with")]
    blend_share: f32,
}

/// Converts, then compares the probabilities of both files on generated images.
pub fn run(args: Args) -> Result<ExitCode> {
    let device = tinyunet::backend::cpu_device();
    let (mut model, card) = load_model_and_card(Some(&args.weights), &device)?;
    if let Some(other) = &args.blend_with {
        let theirs = decode_weights(&read_file(other)?)?;
        let ours = pollster::block_on(export_weights(&model))?;
        model = import_weights(&model, &blend(&ours, &theirs, args.blend_share)?)?;
    }
    let card = match &args.card {
        Some(arg) => card_from_arg(arg, model.config.classes)?,
        None => card,
    };
    let set = pollster::block_on(export_weights(&model))?;
    let storage = if args.f16 {
        FloatStorage::F16Kernels
    } else {
        FloatStorage::F32
    };
    let bytes = write_safetensors_as(&set, &card.metadata(), storage)?;
    std::fs::write(&args.out, &bytes).map_err(|source| Error::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let converted = import_weights(&model, &decode_weights(&bytes)?)?;
    let size = 256;
    let mut images = Vec::with_capacity(4 * 3 * size * size);
    for seed in 0..4u64 {
        let s = generate(
            9_000_000 + seed,
            &SynthOptions::with_size(size as u32, size as u32),
        );
        let rgba = RgbaImage::new(size as u32, size as u32, s.rgba, "generated image")?;
        images.extend(image_to_chw(&rgba, size, size));
    }
    let x = Tensor::<4>::from_data(TensorData::new(images, [4, 3, size, size]), &device);
    let a = probabilities(&model, x.clone())
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>();
    let b = probabilities(&converted, x)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>();
    let change = match (a, b) {
        (Ok(a), Ok(b)) => a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max),
        _ => f32::NAN,
    };
    println!(
        "wrote {} ({} bytes); probabilities change by at most {change:.2e} on 4 generated 256×256 images",
        args.out.display(),
        bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}
