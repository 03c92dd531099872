//! `tinyunet eval`: IoU and Dice of a model on a folder of images with ground-truth masks.

use std::path::PathBuf;
use std::process::ExitCode;

use tinyunet::app::Segmenter;
use tinyunet::data::folder::{Pair, pair_folders};
use tinyunet::data::window::Window;
use tinyunet::domain::OutOfDomain;
use tinyunet::metrics::{Scores, mean_class_scores, mean_scores, spearman};
use tinyunet::{Error, Result};

use super::common::{ModelArgs, dicom_window, parse_window, progress_bar, read_pair_with_window};

/// Arguments of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of images (PNG/JPEG or DICOM slices, any size).
    #[arg(long)]
    images: PathBuf,
    /// CT window for DICOM slices, `LEVEL,WIDTH` in Hounsfield units (e.g. `-600,1500`);
    /// default: the model card's window, else the lung window.
    #[arg(long, value_name = "LEVEL,WIDTH", value_parser = parse_window, allow_hyphen_values = true)]
    window: Option<Window>,
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
    class_scores: Vec<Option<Scores>>,
    doubt: f64,
    out_of_domain: Option<OutOfDomain>,
}

/// Scores one pair at the image's own size (a DICOM slice through `window`); errors name the file.
fn score_pair(segmenter: &Segmenter, pair: &Pair, window: Window) -> Result<Scored> {
    let (image, mask) = read_pair_with_window(pair, window)?;
    let what = pair.mask.display().to_string();
    let assessed = pollster::block_on(segmenter.assess(&what, &image, &mask))?;
    Ok(Scored {
        name: pair.name.clone(),
        scores: assessed.scores,
        class_scores: assessed.class_scores,
        doubt: assessed.doubt,
        out_of_domain: assessed.out_of_domain,
    })
}

/// Scores every pair it can read; unreadable ones are reported by name and skipped.
fn score_pairs(segmenter: &Segmenter, pairs: &[Pair], window: Window) -> Vec<Scored> {
    let bar = progress_bar(pairs.len() as u64, "eval");
    let mut out = Vec::new();
    for pair in pairs {
        match score_pair(segmenter, pair, window) {
            Ok(scored) => out.push(scored),
            Err(e) => bar.suspend(|| eprintln!("skipping {}: {e}", pair.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// ` dice_class_1=… iou_class_1=… …` for each foreground class (`n/a` where a class was in neither
/// mask); empty for a binary model.
fn class_figures(per_class: &[Option<Scores>]) -> String {
    per_class
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Some(s) => format!(
                " dice_class_{0}={1:.4} iou_class_{0}={2:.4}",
                i + 1,
                s.dice,
                s.iou
            ),
            None => format!(" dice_class_{0}=n/a iou_class_{0}=n/a", i + 1),
        })
        .collect()
}

/// Prints one line per image (with `out_of_domain=REASON` for an image the model was not made
/// for, and its warning on stderr), then the summary line: mean Dice and IoU, and how well the
/// doubt figure ranks the masks (Spearman's correlation of doubt with Dice: −1 is a perfect
/// ranking). A pair that could not be scored is named on stderr and left out (`images=` counts
/// those scored); with none scored there are no figures at all (a mean over nothing would read
/// as a perfect score), only the error.
pub fn run(args: Args) -> Result<ExitCode> {
    let segmenter = args.model.load()?;
    let pairs = pair_folders(&args.images, &args.masks)?;
    let window = dicom_window(args.window, &segmenter);
    let scored = score_pairs(&segmenter, &pairs, window);
    if scored.is_empty() {
        return Err(Error::input(format!(
            "none of the {} pair(s) could be scored (each reason above); no figures",
            pairs.len()
        )));
    }
    for s in &scored {
        // An image the model was not made for keeps its line (its scores are still what they
        // are) with the reason appended, and the warning in words goes to stderr.
        let ood = s.out_of_domain.as_ref().map_or(String::new(), |o| {
            format!(" out_of_domain={}", o.reason.name())
        });
        println!(
            "{} dice={:.4} iou={:.4}{} doubt={:.4}{ood}",
            s.name,
            s.scores.dice,
            s.scores.iou,
            class_figures(&s.class_scores),
            s.doubt
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
    let per_class: Vec<_> = scored.iter().map(|s| s.class_scores.clone()).collect();
    // A multi-class model's summary names its numbered classes at the end of the line.
    let card = segmenter.card();
    let names: String = if card.classes.len() > 2 {
        (1..card.classes.len())
            .map(|c| format!(" class_{c}=\"{}\"", card.classes[c].name))
            .collect()
    } else {
        String::new()
    };
    println!(
        "mean_dice={:.4} mean_iou={:.4}{} images={} spearman_doubt_dice={rank}{names}",
        mean.dice,
        mean.iou,
        class_figures(&mean_class_scores(&per_class)),
        per_image.len()
    );
    Ok(ExitCode::SUCCESS)
}
