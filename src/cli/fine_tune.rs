//! `tinyunet fine-tune`: the page's fine-tune, natively. The same core ([`FineTuning`]), the
//! same defaults ([`TrainOptions`] left empty), the same held-back rule ([`held_out_mask`]) and
//! the same choice of weights (the last epoch unless an earlier one or the starting weights
//! scored clearly better on the held-back pairs), so that a clinic's run in the browser can be
//! reproduced and checked here without guessing flags. `--val` scores a further set the run never sees, before and after.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tinyunet::app::{
    FineTuning, KeptBecause, OutcomeReport, Segmenter, SegmenterOptions, TrainOptions,
    held_out_mask,
};
use tinyunet::data::folder::{Pair, dataset_folders, pair_folders};
use tinyunet::domain::out_of_domain_for;
use tinyunet::islands::Islands;
use tinyunet::metrics::{Scores, class_scores, mask_scores, mean_class_scores, mean_scores};
use tinyunet::train::{Event, HeldOut};
use tinyunet::{Error, Result, TinyUNet};

use super::common::{
    MODEL_NAMES, check_output_file, load_held_out, load_model_and_card, model_file, progress_bar,
    read_pair,
};

/// Arguments of `fine-tune`. Every training setting left out takes the page's default.
#[derive(clap::Args)]
pub struct Args {
    /// The weights to start from; the shipped `--model` when absent.
    #[arg(long, conflicts_with = "model")]
    init: Option<PathBuf>,
    /// A shipped model to start from, by name (`www/models/NAME.safetensors`).
    #[arg(long, value_parser = MODEL_NAMES, default_value = "skin-lesion")]
    model: String,
    /// The user's pairs: `images/` + `masks/`, or ISIC 2018's `*_Input/` + `*_GroundTruth/`.
    /// About a fifth are held back to judge the run, as the page does.
    #[arg(long)]
    data: PathBuf,
    /// Where the kept weights go (the last epoch's, unless others scored clearly better on the
    /// held-back pairs: then the best of those, the starting ones included).
    #[arg(long)]
    out: PathBuf,
    /// Optional further pairs the run never sees, scored before and after (same layout).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Side the pairs are resized to (the page's resolution setting).
    #[arg(long, default_value_t = tinyunet::app::DEFAULT_INPUT_SIZE)]
    size: usize,
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    backend: String,
    /// Passes over the training pairs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Pairs per optimiser step.
    #[arg(long)]
    batch: Option<usize>,
    /// Starting learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Learning rate at the end of the cosine schedule.
    #[arg(long)]
    min_lr: Option<f64>,
    /// Random flips, quarter turns and brightness/contrast changes of the training pairs
    /// (true/false); zoom is `--zoom`.
    #[arg(long)]
    augment: Option<bool>,
    /// Seed of the shuffling and augmentation.
    #[arg(long)]
    seed: Option<u64>,
    /// Normalise with the running BatchNorm statistics while training (true/false).
    #[arg(long)]
    freeze_bn: Option<bool>,
    /// Re-estimate the running BatchNorm statistics on the pairs before training (true/false).
    #[arg(long)]
    adapt_bn: Option<bool>,
    /// Re-estimate them before every evaluation and for the kept weights (true/false).
    #[arg(long)]
    recalibrate_bn: Option<bool>,
    /// With augmentation, also zoom in and out at random (true/false).
    #[arg(long)]
    zoom: Option<bool>,
    /// Pull of the weights towards the starting ones (L2-SP strength; 0: none).
    #[arg(long)]
    anchor: Option<f64>,
    /// Most pairs per forward/backward pass within a step (the same update for less memory;
    /// BatchNorm frozen only); default: the core's automatic size.
    #[arg(long)]
    micro_batch: Option<usize>,
}

impl Args {
    fn options(&self) -> TrainOptions {
        TrainOptions {
            epochs: self.epochs,
            batch_size: self.batch,
            learning_rate: self.lr,
            min_learning_rate: self.min_lr,
            augment: self.augment,
            seed: self.seed,
            freeze_batch_norm: self.freeze_bn,
            adapt_batch_norm: self.adapt_bn,
            recalibrate_batch_norm: self.recalibrate_bn,
            zoom: self.zoom,
            anchor: self.anchor,
            micro_batch: self.micro_batch,
        }
    }
}

/// Adds every pair it can read to the run, held back or trained on by the page's rule; a pair
/// that cannot be read is named and skipped, as the page refuses it. A pair whose image is not
/// the kind the model was made for (a CT slice for the skin model) is added, with a warning on
/// stderr, as `eval` and `predict` warn.
fn add_pairs(
    run: &mut FineTuning,
    segmenter: &Segmenter,
    pairs: &[Pair],
    size: usize,
) -> (Vec<String>, usize) {
    let held = held_out_mask(&pairs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>());
    let (mut held_names, mut trained) = (Vec::new(), 0);
    for (pair, &is_held) in pairs.iter().zip(&held) {
        let added = read_pair(pair).and_then(|(image, mask)| {
            if let Some(o) = out_of_domain_for(&image, segmenter.card().image_kind) {
                eprintln!("warning: {}: {}", pair.name, o.message);
            }
            if is_held {
                run.add_held_out_pair(segmenter, &pair.name, &image, &mask, size)
            } else {
                run.add_training_pair(segmenter, &pair.name, &image, &mask, size)
            }
        });
        match added {
            Ok(()) if is_held => held_names.push(pair.name.clone()),
            Ok(()) => trained += 1,
            Err(e) => eprintln!("skipping {}: {e}", pair.name),
        }
    }
    (held_names, trained)
}

/// Mean Dice/IoU of `model` on the prepared pairs.
/// Mean scores of `model` on `pairs`, and each foreground class's mean for a multi-class model
/// (as `tinyunet eval` averages them).
fn score(
    model: &TinyUNet,
    pairs: &[HeldOut],
    size: usize,
    (flips, islands): (usize, Islands),
) -> Result<(Scores, Vec<Option<Scores>>)> {
    let (mut scores, mut per_class) = (Vec::new(), Vec::new());
    for pair in pairs {
        let prediction = pollster::block_on(pair.predict(model, size, flips, islands))?;
        let classes = model.config.classes;
        scores.push(mask_scores(&prediction.mask, pair.truth(), classes));
        if classes > 1 {
            per_class.push(class_scores(&prediction.mask, pair.truth(), classes));
        }
    }
    Ok((mean_scores(&scores), mean_class_scores(&per_class)))
}

fn pairs_of(root: &Path) -> Result<Vec<Pair>> {
    let (images, masks) = dataset_folders(root)?;
    pair_folders(&images, &masks)
}

/// Runs the fine-tune, one line per epoch, and writes the weights it keeps.
pub fn run(args: Args) -> Result<ExitCode> {
    check_output_file("--out", &args.out)?;
    let device = tinyunet::backend::device_by_name(&args.backend)?;
    let init = args.init.clone().unwrap_or_else(|| model_file(&args.model));
    let (start, card) = load_model_and_card(Some(&init), &device)?;
    let mut segmenter =
        Segmenter::from_model(start.clone(), &SegmenterOptions::default())?.with_card(card)?;
    let pairs = pairs_of(&args.data)?;
    let mut run = FineTuning::default();
    let (held_names, trained) = add_pairs(&mut run, &segmenter, &pairs, args.size);
    if trained == 0 {
        return Err(Error::input(format!(
            "no readable training pairs in {}",
            args.data.display()
        )));
    }
    let unseen = match &args.val {
        Some(root) => load_held_out(&pairs_of(root)?, args.size, segmenter.mask_kind()),
        None => Vec::new(),
    };
    let options = args.options();
    run.start(&segmenter, &options)?;
    let config = options.config_for(segmenter.card());
    println!(
        "fine-tuning on {trained} pair(s), {} held back ({}); {} epoch(s), batch {}, lr {:e} → {:e}, \
         augment {} (zoom {}), pull to start {}, BatchNorm {}",
        held_names.len(),
        held_names.join(" "),
        config.epochs,
        config.batch_size,
        config.learning_rate,
        config.min_learning_rate,
        config.augment,
        config.zoom,
        config.anchor,
        if config.freeze_batch_norm {
            "frozen"
        } else {
            "on batch statistics"
        },
    );
    let bar = progress_bar(0, "fine-tune");
    while let Some(event) = pollster::block_on(run.step())? {
        match event {
            Event::Trained {
                total_steps,
                loss,
                dice,
                ..
            } => {
                bar.set_length(total_steps as u64);
                bar.set_prefix(format!("loss {loss:.4} dice {dice:.3}"));
                bar.inc(1);
            }
            Event::Scored {
                epoch: 0,
                mean: Some(m),
                ..
            } => bar.suspend(|| println!("before held_dice={:.4} held_iou={:.4}", m.dice, m.iou)),
            Event::Scored { .. } => {}
            Event::EpochEnded(r) => bar.suspend(|| {
                let held = r.held_out.map_or(String::new(), |m| {
                    format!(" held_dice={:.4} held_iou={:.4}", m.dice, m.iou)
                });
                println!(
                    "epoch {} loss={:.4} dice={:.4}{held}",
                    r.epoch, r.loss, r.dice
                )
            }),
        }
    }
    bar.finish_and_clear();
    let report = run
        .finish(&mut segmenter, false)
        .ok_or_else(|| Error::Backend("the run ended before it began".into()))?;
    std::fs::write(&args.out, pollster::block_on(segmenter.export_weights())?).map_err(
        |source| Error::Io {
            path: args.out.display().to_string(),
            source,
        },
    )?;
    println!("{}", kept_line(&report, &args.out));
    if !unseen.is_empty() {
        let masks = (segmenter.flips(), segmenter.islands());
        let (before, classes_before) = score(&start, &unseen, args.size, masks)?;
        let (after, classes_after) = score(segmenter.model(), &unseen, args.size, masks)?;
        let per_class: String = classes_before
            .iter()
            .zip(&classes_after)
            .enumerate()
            .map(|(i, (b, a))| {
                let dice =
                    |s: &Option<Scores>| s.map_or("n/a".into(), |s| format!("{:.4}", s.dice));
                format!(
                    " dice_class_{0}_before={1} dice_class_{0}_after={2}",
                    i + 1,
                    dice(b),
                    dice(a)
                )
            })
            .collect();
        println!(
            "unseen pairs={} dice_before={:.4} dice_after={:.4} iou_before={:.4} iou_after={:.4}{per_class}",
            unseen.len(),
            before.dice,
            after.dice,
            before.iou,
            after.iou
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Which weights the run left in `out`, and why.
fn kept_line(report: &OutcomeReport, out: &Path) -> String {
    let out = out.display();
    let epoch = report.chosen_epoch;
    let tolerance = report.tolerance;
    match report.why {
        KeptBecause::Diverged => format!(
            "the loss stopped being a number at step {} (try a lower --lr): kept the starting \
             weights in {out}",
            report.diverged_at_step.unwrap_or(0)
        ),
        KeptBecause::Unscored => format!("no epoch was scored: kept the starting weights in {out}"),
        KeptBecause::StartBeatLast => format!(
            "kept the starting weights (they beat the last epoch by more than {tolerance} on the \
             held-back pairs, and no epoch beat them) in {out}"
        ),
        KeptBecause::EarlierBeatLast => format!(
            "kept epoch {epoch} (it beat the last epoch by more than {tolerance} on the held-back \
             pairs) in {out}"
        ),
        KeptBecause::WithinTolerance => format!(
            "kept epoch {epoch}, the last ({} scored better on the held-back pairs, by no more \
             than {tolerance}: too little to tell apart) in {out}",
            match report.best_epoch {
                0 => "the starting weights".to_string(),
                best => format!("epoch {best}"),
            },
        ),
        KeptBecause::NothingHeldBack => format!("wrote the last step's weights to {out}"),
        KeptBecause::LastAndBest => {
            format!("kept epoch {epoch}, the last and best on the held-back pairs, in {out}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report whose weights were kept for `why`: epoch `chosen`, `best` the best scored.
    fn line(why: KeptBecause, chosen: usize, best: usize) -> String {
        let report = OutcomeReport {
            why,
            chosen_epoch: chosen,
            best_epoch: best,
            tolerance: 0.005,
            diverged_at_step: Some(3),
            ..OutcomeReport::default()
        };
        kept_line(&report, Path::new("o.safetensors"))
    }

    #[test]
    fn says_which_weights_were_kept_and_why() {
        assert_eq!(
            line(KeptBecause::EarlierBeatLast, 4, 4),
            "kept epoch 4 (it beat the last epoch by more than 0.005 on the held-back pairs) in \
             o.safetensors"
        );
        assert_eq!(
            line(KeptBecause::WithinTolerance, 10, 0),
            "kept epoch 10, the last (the starting weights scored better on the held-back pairs, \
             by no more than 0.005: too little to tell apart) in o.safetensors"
        );
        assert!(
            line(KeptBecause::WithinTolerance, 10, 7).contains("the last (epoch 7 scored better")
        );
        assert_eq!(
            line(KeptBecause::LastAndBest, 10, 10),
            "kept epoch 10, the last and best on the held-back pairs, in o.safetensors"
        );
        assert_eq!(
            line(KeptBecause::NothingHeldBack, 10, 0),
            "wrote the last step's weights to o.safetensors"
        );
        assert!(
            line(KeptBecause::StartBeatLast, 0, 0)
                .starts_with("kept the starting weights (they beat")
        );
        assert!(line(KeptBecause::Unscored, 0, 0).starts_with("no epoch was scored"));
        assert!(line(KeptBecause::Diverged, 0, 0).contains("at step 3 (try a lower --lr)"));
    }
}
