//! `tinyunet eval`: IoU and Dice of a model on a folder of images with ground-truth masks.

use std::path::PathBuf;
use std::process::ExitCode;

use tinyunet::data::folder::{Pair, pair_folders};
use tinyunet::data::image::mask_from_rgba;
use tinyunet::infer::segment;
use tinyunet::metrics::{Scores, binary_scores, mean_scores, multiclass_scores};
use tinyunet::{Error, Result, TinyUNet};

use super::common::{ModelArgs, mask_kind, progress_bar, read_pair};

/// Arguments of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (PNG/JPEG, any size).
    #[arg(long)]
    images: PathBuf,
    /// Folder of masks, matched by stem (`NAME.png` or ISIC's `NAME_segmentation.png`).
    #[arg(long)]
    masks: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

/// Scores one pair at the image's own size; errors name the file.
pub fn score_pair(model: &TinyUNet, pair: &Pair, size: usize) -> Result<Scores> {
    let (image, mask) = read_pair(pair)?;
    let classes = model.config.classes;
    let truth = mask_from_rgba(&mask, mask_kind(classes), &pair.mask.display().to_string())?;
    let prediction = pollster::block_on(segment(model, std::slice::from_ref(&image), size))?
        .pop()
        .ok_or_else(|| Error::Backend("no prediction".into()))?;
    Ok(if classes == 1 {
        binary_scores(&prediction.mask, &truth)
    } else {
        multiclass_scores(&prediction.mask, &truth, classes)
    })
}

/// Scores every pair it can read; unreadable ones are reported by name and skipped.
pub fn score_pairs(
    model: &TinyUNet,
    pairs: &[Pair],
    size: usize,
    quiet: bool,
) -> Vec<(String, Scores)> {
    let bar = progress_bar(pairs.len() as u64, "eval");
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut out = Vec::new();
    for pair in pairs {
        match score_pair(model, pair, size) {
            Ok(scores) => out.push((pair.name.clone(), scores)),
            Err(e) => bar.suspend(|| eprintln!("skipping {}: {e}", pair.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// Prints one line per image and the final summary line.
pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let pairs = pair_folders(&args.images, &args.masks)?;
    let scores = score_pairs(&model, &pairs, args.model.size, false);
    for (name, s) in &scores {
        println!("{name} dice={:.4} iou={:.4}", s.dice, s.iou);
    }
    let per_image: Vec<Scores> = scores.iter().map(|(_, s)| *s).collect();
    let mean = mean_scores(&per_image);
    println!(
        "mean_dice={:.4} mean_iou={:.4} images={}",
        mean.dice,
        mean.iou,
        per_image.len()
    );
    Ok(if per_image.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
