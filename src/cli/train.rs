//! `tinyunet train`: trains on a folder of image/mask pairs, with a checkpoint after every epoch
//! and exact resume.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use tinyunet::data::folder::{dataset_folders, pair_folders};
use tinyunet::data::image::MaskKind;
use tinyunet::train::{Event, FineTune, ResumePoint, SessionConfig, Stop, TrainingSession};
use tinyunet::weights::safetensors_io::{FloatStorage, write_safetensors_as};
use tinyunet::weights::{ModelCard, export_weights};
use tinyunet::{Error, Result, TinyUNet};

use super::common::{
    card_from_arg, load_examples, load_held_out, load_model, load_model_and_card, model_or_fresh,
    progress_bar, read_file,
};

/// Arguments of `train`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset root: `images/` + `masks/`, or ISIC 2018's `*_Input/` + `*_GroundTruth/`.
    #[arg(long)]
    data: PathBuf,
    /// Optional validation root in the same layout: Dice/IoU after every epoch, best kept.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Training resolution (square, multiple of 16).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Starting learning rate (paper: 1e-4), cosine-annealed to `--min-lr`.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Final learning rate (paper: 1e-6).
    #[arg(long, default_value_t = 1e-6)]
    min_lr: f64,
    /// Turn off flips, rotations and brightness/contrast jitter.
    #[arg(long)]
    no_augment: bool,
    /// Normalise with the starting model's running BatchNorm statistics instead of each batch's
    /// (γ and β still learn).
    #[arg(long)]
    freeze_bn: bool,
    /// Before training, re-estimate the BatchNorm running statistics on the training images.
    #[arg(long)]
    adapt_bn: bool,
    /// Re-estimate the BatchNorm running statistics on the training images before every
    /// evaluation and for the final weights.
    #[arg(long)]
    recalibrate_bn: bool,
    /// With augmentation, also zoom in and out at random (lesions at other scales, in a wider
    /// field of skin).
    #[arg(long)]
    zoom: bool,
    /// With augmentation, also paste colour-calibration stickers on the skin of some pairs.
    #[arg(long)]
    stickers: bool,
    /// With augmentation, also draw marker-ink rings around the lesion of some pairs.
    #[arg(long)]
    ink: bool,
    /// Pull every weight towards its starting value with this strength (L2-SP; 0: none).
    #[arg(long, default_value_t = 0.0)]
    anchor: f64,
    /// Most images per forward/backward pass within a step (the same update for less memory;
    /// with `--freeze-bn` only); default: as many as one 256² image's pixels.
    #[arg(long)]
    micro_batch: Option<usize>,
    /// Output classes of a fresh network (1 = binary lesion masks).
    #[arg(long, default_value_t = 1)]
    classes: usize,
    /// Start from these weights instead of a fresh network.
    #[arg(long)]
    init: Option<PathBuf>,
    /// The model card the weights carry: a shipped model's name (`skin-lesion`, `lung-ct`) or a
    /// JSON file; default: the `--init` file's card (a fresh network's: numbered classes).
    #[arg(long)]
    card: Option<String>,
    /// Where the final weights go.
    #[arg(long, default_value = "tinyunet.safetensors")]
    out: PathBuf,
    /// Store the final weights' convolution kernels as f16 (half the size; check the change with
    /// `tinyunet convert`).
    #[arg(long)]
    f16: bool,
    /// Folder for the per-epoch checkpoint (`last.*`, and `best.safetensors` with `--val`);
    /// default: `<out>.checkpoints`.
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Continue the run whose checkpoint folder this is (same data and settings).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Stop after this many epochs of this invocation, leaving a checkpoint to `--resume` from
    /// (e.g. to split a long run over several sessions).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Seed for initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute backend.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu"])]
    backend: String,
    /// Mirrored passes averaged when scoring `--val` (as `eval --flips`).
    #[arg(long, default_value_t = tinyunet::infer::DEFAULT_FLIPS)]
    flips: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The settings a checkpoint must share with the run that resumes it.
fn fingerprint(args: &Args, examples: usize) -> String {
    format!(
        "examples={examples} epochs={} batch={} size={} lr={} min_lr={} augment={} seed={} freeze_bn={} adapt_bn={} recalibrate_bn={}{}{}{}",
        args.epochs,
        args.batch,
        args.size,
        args.lr,
        args.min_lr,
        !args.no_augment,
        args.seed,
        args.freeze_bn,
        args.adapt_bn,
        args.recalibrate_bn,
        // Written only when set, so that earlier checkpoints still resume.
        if args.zoom { " zoom=true" } else { "" },
        if args.stickers { " stickers=true" } else { "" },
        if args.ink { " ink=true" } else { "" }
    )
}

fn save_weights(
    model: &TinyUNet,
    card: &ModelCard,
    path: &Path,
    storage: FloatStorage,
) -> Result<()> {
    let set = pollster::block_on(export_weights(model))?;
    let bytes = write_safetensors_as(&set, &card.metadata(), storage)?;
    std::fs::write(path, bytes).map_err(io(path))
}

fn save_checkpoint(
    dir: &Path,
    session: &TrainingSession,
    card: &ModelCard,
    fingerprint: &str,
    best: Option<(usize, f64)>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    save_weights(
        &session.model(),
        card,
        &dir.join("last.safetensors"),
        FloatStorage::F32,
    )?;
    let optim = dir.join("last.optimizer.bpk");
    std::fs::write(&optim, session.optimizer_state()?).map_err(io(&optim))?;
    // Written last: a checkpoint counts only once its state file says so.
    let state = dir.join("last.state");
    let mut text = format!("epochs_done={}\n{fingerprint}\n", session.epochs_done());
    if let Some((epoch, dice)) = best {
        text += &format!("best_epoch={epoch} best_dice={dice}\n");
    }
    std::fs::write(&state, text).map_err(io(&state))
}

/// A checkpoint folder's state: the settings it was made with, and where to resume.
struct Checkpoint {
    dir: PathBuf,
    weights: PathBuf,
    fingerprint: String,
    point: ResumePoint,
    /// The best held-back Dice of the run so far and its epoch (in `best.safetensors`).
    best: Option<(usize, f64)>,
}

fn read_checkpoint(dir: &Path) -> Result<Checkpoint> {
    let state_path = dir.join("last.state");
    let text = String::from_utf8_lossy(&read_file(&state_path)?).into_owned();
    let mut lines = text.lines();
    let epochs_done = lines
        .next()
        .and_then(|l| l.strip_prefix("epochs_done="))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            Error::input(format!(
                "{}: not a tinyunet checkpoint state",
                state_path.display()
            ))
        })?;
    let fingerprint = lines.next().unwrap_or_default().to_string();
    let best = lines.next().and_then(|l| {
        let (epoch, dice) = l.strip_prefix("best_epoch=")?.split_once(" best_dice=")?;
        Some((epoch.parse().ok()?, dice.parse().ok()?))
    });
    let optimizer = read_file(&dir.join("last.optimizer.bpk"))?;
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        weights: dir.join("last.safetensors"),
        fingerprint,
        point: ResumePoint {
            epochs_done,
            optimizer,
        },
        best,
    })
}

fn check_fingerprint(dir: &Path, saved: &str, fingerprint: &str) -> Result<()> {
    if saved == fingerprint {
        return Ok(());
    }
    Err(Error::config(format!(
        "{}: the checkpoint was made with `{saved}`, this run has `{fingerprint}`; \
         resume with the same data and settings",
        dir.display()
    )))
}

/// Trains, printing one summary line per epoch. With `--val`, the held-back pairs are scored
/// before training and after every epoch, and `--out` gets the best-scoring weights — the
/// starting ones if no epoch beat them.
pub fn run(args: Args) -> Result<ExitCode> {
    let device = tinyunet::backend::device_by_name(&args.backend)?;
    let (images, masks) = dataset_folders(&args.data)?;
    let pairs = pair_folders(&images, &masks)?;
    // The starting model first: its class count says how the masks are read (a resumed run or
    // `--init` keeps the model's own, whatever `--classes` says).
    let checkpoint = args.resume.as_deref().map(read_checkpoint).transpose()?;
    let (model, card) = match &checkpoint {
        Some(c) => load_model_and_card(Some(&c.weights), &device)?,
        None => model_or_fresh(args.init.as_deref(), args.classes, &device, args.seed)?,
    };
    let card = match &args.card {
        Some(arg) => card_from_arg(arg, model.config.classes)?,
        None => card,
    };
    let kind = MaskKind::for_classes(model.config.classes);
    let (examples, skipped) = load_examples(&pairs, args.size, kind);
    if examples.is_empty() {
        return Err(Error::input(format!(
            "no readable training pairs in {}",
            args.data.display()
        )));
    }
    let held_out = match &args.val {
        Some(root) => {
            let (i, m) = dataset_folders(root)?;
            load_held_out(&pair_folders(&i, &m)?, args.size, kind)
        }
        None => Vec::new(),
    };
    let config = SessionConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        learning_rate: args.lr,
        min_learning_rate: args.min_lr,
        augment: !args.no_augment,
        seed: args.seed,
        freeze_batch_norm: args.freeze_bn,
        adapt_batch_norm: args.adapt_bn,
        recalibrate_batch_norm: args.recalibrate_bn,
        zoom: args.zoom,
        stickers: args.stickers,
        ink: args.ink,
        anchor: args.anchor,
        micro_batch: args.micro_batch,
    };
    let fingerprint = fingerprint(&args, examples.len());
    let checkpoints = args
        .checkpoints
        .clone()
        .unwrap_or_else(|| args.out.with_extension("checkpoints"));
    let best_path = checkpoints.join("best.safetensors");
    let (mut run, mut best) = match checkpoint {
        Some(c) => {
            check_fingerprint(&c.dir, &c.fingerprint, &fingerprint)?;
            println!(
                "resuming after epoch {} from {}",
                c.point.epochs_done,
                c.dir.display()
            );
            let run = FineTune::resume(&model, examples, held_out, config, c.point)?;
            (run.with_flips(args.flips)?, c.best)
        }
        None => {
            let run = FineTune::new(&model, examples, held_out, config)?;
            (run.with_flips(args.flips)?, None)
        }
    };
    println!(
        "training on {} pair(s) ({} skipped), {} step(s) per epoch ({} image(s) per pass), \
         backend {}, {}{}",
        pairs.len() - skipped.len(),
        skipped.len(),
        run.steps_per_epoch(),
        run.session().micro_batch(),
        args.backend,
        match kind {
            MaskKind::Binary => "binary masks (≥ 128 is lesion)".to_string(),
            MaskKind::Labels { classes } => format!("class-index masks ({classes} classes)"),
        },
        if args.freeze_bn {
            ", BatchNorm statistics frozen"
        } else {
            ""
        }
    );
    let bar = progress_bar(run.total_steps() as u64, "train");
    let first_epoch = run.session().epochs_done();
    bar.set_position((first_epoch * run.steps_per_epoch()) as u64);
    let mut epoch_started = Instant::now();
    let mut learning_rate = args.lr;
    while let Some(event) = pollster::block_on(run.advance())? {
        match event {
            Event::Trained {
                loss,
                dice,
                learning_rate: lr,
                ..
            } => {
                learning_rate = lr;
                bar.set_prefix(format!("loss {loss:.4} dice {dice:.3}"));
                bar.inc(1);
            }
            Event::Scored { epoch, mean, .. } => {
                let Some(m) = mean else { continue };
                best = save_if_best(&run, &card, best, &best_path)?;
                if epoch == 0 {
                    bar.suspend(|| {
                        println!(
                            "before training val_dice={:.4} val_iou={:.4}",
                            m.dice, m.iou
                        )
                    });
                }
            }
            Event::EpochEnded(record) => {
                let mut line = format!(
                    "epoch {}/{} loss={:.4} dice={:.4} lr={learning_rate:.2e} time={:.1}s",
                    record.epoch,
                    args.epochs,
                    record.loss,
                    record.dice,
                    epoch_started.elapsed().as_secs_f64()
                );
                if let Some(m) = record.held_out {
                    line += &format!(" val_dice={:.4} val_iou={:.4}", m.dice, m.iou);
                }
                bar.suspend(|| println!("{line}"));
                save_checkpoint(&checkpoints, run.session(), &card, &fingerprint, best)?;
                epoch_started = Instant::now();
                let stop = args
                    .stop_after
                    .is_some_and(|n| record.epoch - first_epoch >= n);
                if stop && !run.is_finished() {
                    bar.finish_and_clear();
                    println!(
                        "stopped after epoch {}; continue with --resume {}",
                        record.epoch,
                        checkpoints.display()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
    bar.finish_and_clear();
    let validated = args.val.is_some();
    let outcome = run.finish(false);
    let storage = if args.f16 {
        FloatStorage::F16Kernels
    } else {
        FloatStorage::F32
    };
    let chosen = match (&outcome.model, validated) {
        // The best held-back weights of the whole run (over every resumed part) are on disk.
        (_, true) if best.is_some() => load_model(Some(&best_path), &device)?,
        (Some(trained), false) => trained.clone(),
        // Diverged before anything was kept: the starting weights.
        _ => model.clone(),
    };
    save_weights(&chosen, &card, &args.out, storage)?;
    if let Stop::Diverged { step, loss } = outcome.stop {
        return Err(Error::Backend(format!(
            "the loss became {loss} at step {step}; try a lower learning rate ({} now holds \
             the {} weights)",
            args.out.display(),
            if best.is_some() {
                "best scored"
            } else {
                "starting"
            }
        )));
    }
    match best {
        Some((0, dice)) => println!(
            "no epoch beat the starting weights on --val (Dice {dice:.4}): kept them in {}; the last \
             epoch's weights are in {}",
            args.out.display(),
            checkpoints.join("last.safetensors").display()
        ),
        Some((epoch, dice)) => println!(
            "wrote {} (epoch {epoch}, the best val_dice {dice:.4})",
            args.out.display()
        ),
        None => println!("wrote {}", args.out.display()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the run's best weights to `path` when they beat `best` (the run's best so far,
/// across resumed parts), and returns the new best.
fn save_if_best(
    run: &FineTune,
    card: &ModelCard,
    best: Option<(usize, f64)>,
    path: &Path,
) -> Result<Option<(usize, f64)>> {
    let Some((evaluation, model)) = run.best() else {
        return Ok(best);
    };
    if best.is_some_and(|(_, dice)| dice >= evaluation.mean.dice) {
        return Ok(best);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    save_weights(model, card, path, FloatStorage::F32)?;
    Ok(Some((evaluation.epoch, evaluation.mean.dice)))
}
