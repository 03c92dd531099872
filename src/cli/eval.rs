//! `tinyunet eval`: IoU and Dice of a model on a folder of images with ground-truth masks.

use std::path::PathBuf;
use std::process::ExitCode;

use tinyunet::Result;
use tinyunet::app::Segmenter;
use tinyunet::data::folder::{Pair, pair_folders};
use tinyunet::domain::OutOfDomain;
use tinyunet::metrics::{Scores, mean_scores, spearman};

use super::common::{ModelArgs, progress_bar, read_pair};

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

/// One image's scores against its mask, and the model's doubt about its own mask.
struct Scored {
    name: String,
    scores: Scores,
    doubt: f64,
    out_of_domain: Option<OutOfDomain>,
}

/// Scores one pair at the image's own size; errors name the file.
fn score_pair(segmenter: &Segmenter, pair: &Pair) -> Result<Scored> {
    let (image, mask) = read_pair(pair)?;
    let what = pair.mask.display().to_string();
    let assessed = pollster::block_on(segmenter.assess(&what, &image, &mask))?;
    Ok(Scored {
        name: pair.name.clone(),
        scores: assessed.scores,
        doubt: assessed.doubt,
        out_of_domain: assessed.out_of_domain,
    })
}

/// Scores every pair it can read; unreadable ones are reported by name and skipped.
fn score_pairs(segmenter: &Segmenter, pairs: &[Pair]) -> Vec<Scored> {
    let bar = progress_bar(pairs.len() as u64, "eval");
    let mut out = Vec::new();
    for pair in pairs {
        match score_pair(segmenter, pair) {
            Ok(scored) => out.push(scored),
            Err(e) => bar.suspend(|| eprintln!("skipping {}: {e}", pair.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// Prints one line per image (with `out_of_domain=REASON` for an image the model was not made
/// for, and its warning on stderr), then the summary line: mean Dice and IoU, and how well the
/// doubt figure ranks the masks (Spearman's correlation of doubt with Dice: −1 is a perfect
/// ranking).
pub fn run(args: Args) -> Result<ExitCode> {
    let segmenter = args.model.load()?;
    let pairs = pair_folders(&args.images, &args.masks)?;
    let scored = score_pairs(&segmenter, &pairs);
    for s in &scored {
        // An image the model was not made for keeps its line (its scores are still what they
        // are) with the reason appended, and the warning in words goes to stderr.
        let ood = s.out_of_domain.as_ref().map_or(String::new(), |o| {
            format!(" out_of_domain={}", o.reason.name())
        });
        println!(
            "{} dice={:.4} iou={:.4} doubt={:.4}{ood}",
            s.name, s.scores.dice, s.scores.iou, s.doubt
        );
        if let Some(o) = &s.out_of_domain {
            eprintln!("warning: {}: {}", s.name, o.message);
        }
    }
    let per_image: Vec<Scores> = scored.iter().map(|s| s.scores).collect();
    let mean = mean_scores(&per_image);
    let dice: Vec<f64> = per_image.iter().map(|s| s.dice).collect();
    let doubt: Vec<f64> = scored.iter().map(|s| s.doubt).collect();
    let rank = spearman(&doubt, &dice).map_or("n/a".to_string(), |r| format!("{r:.3}"));
    println!(
        "mean_dice={:.4} mean_iou={:.4} images={} spearman_doubt_dice={rank}",
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
