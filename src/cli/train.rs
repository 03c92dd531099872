//! `tinyunet train`: trains on a folder of image/mask pairs, with a checkpoint after every epoch
//! and exact resume.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use tinyunet::data::folder::{dataset_folders, pair_folders};
use tinyunet::data::image::MaskKind;
use tinyunet::metrics::{Scores, mean_scores};
use tinyunet::train::{ResumePoint, SessionConfig, TrainingSession};
use tinyunet::weights::export_weights;
use tinyunet::weights::safetensors_io::{FloatStorage, write_safetensors_as};
use tinyunet::{Error, Result, TinyUNet};

use super::common::{
    load_examples, load_model, mask_kind, model_or_fresh, progress_bar, read_file,
};
use super::eval::score_pairs;

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
    /// Output classes of a fresh network (1 = binary lesion masks).
    #[arg(long, default_value_t = 1)]
    classes: usize,
    /// Start from these weights instead of a fresh network.
    #[arg(long)]
    init: Option<PathBuf>,
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
        "examples={examples} epochs={} batch={} size={} lr={} min_lr={} augment={} seed={}",
        args.epochs, args.batch, args.size, args.lr, args.min_lr, !args.no_augment, args.seed
    )
}

fn save_weights(model: &TinyUNet, path: &Path, storage: FloatStorage) -> Result<()> {
    let set = pollster::block_on(export_weights(model))?;
    let metadata = [("format".to_string(), "pt".to_string())];
    let bytes = write_safetensors_as(&set, &metadata, storage)?;
    std::fs::write(path, bytes).map_err(io(path))
}

fn save_checkpoint(dir: &Path, session: &TrainingSession, fingerprint: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    save_weights(
        &session.model(),
        &dir.join("last.safetensors"),
        FloatStorage::F32,
    )?;
    let optim = dir.join("last.optimizer.bpk");
    std::fs::write(&optim, session.optimizer_state()?).map_err(io(&optim))?;
    // Written last: a checkpoint counts only once its state file says so.
    let state = dir.join("last.state");
    let text = format!("epochs_done={}\n{fingerprint}\n", session.epochs_done());
    std::fs::write(&state, text).map_err(io(&state))
}

/// A checkpoint folder's state: the settings it was made with, and where to resume.
struct Checkpoint {
    dir: PathBuf,
    weights: PathBuf,
    fingerprint: String,
    point: ResumePoint,
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
    let optimizer = read_file(&dir.join("last.optimizer.bpk"))?;
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        weights: dir.join("last.safetensors"),
        fingerprint,
        point: ResumePoint {
            epochs_done,
            optimizer,
        },
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

/// Trains, printing one summary line per epoch.
pub fn run(args: Args) -> Result<ExitCode> {
    let device = tinyunet::backend::device_by_name(&args.backend)?;
    let (images, masks) = dataset_folders(&args.data)?;
    let pairs = pair_folders(&images, &masks)?;
    // The starting model first: its class count says how the masks are read (a resumed run or
    // `--init` keeps the model's own, whatever `--classes` says).
    let checkpoint = args.resume.as_deref().map(read_checkpoint).transpose()?;
    let model = match &checkpoint {
        Some(c) => load_model(Some(&c.weights), &device)?,
        None => model_or_fresh(args.init.as_deref(), args.classes, &device, args.seed)?,
    };
    let kind = mask_kind(model.config.classes);
    let (examples, skipped) = load_examples(&pairs, args.size, kind);
    if examples.is_empty() {
        return Err(Error::input(format!(
            "no readable training pairs in {}",
            args.data.display()
        )));
    }
    let val_pairs = match &args.val {
        Some(root) => {
            let (i, m) = dataset_folders(root)?;
            pair_folders(&i, &m)?
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
    };
    let fingerprint = fingerprint(&args, examples.len());
    let checkpoints = args
        .checkpoints
        .clone()
        .unwrap_or_else(|| args.out.with_extension("checkpoints"));
    let mut session = match checkpoint {
        Some(c) => {
            check_fingerprint(&c.dir, &c.fingerprint, &fingerprint)?;
            println!(
                "resuming after epoch {} from {}",
                c.point.epochs_done,
                c.dir.display()
            );
            TrainingSession::resume(&model, examples, config, c.point)?
        }
        None => TrainingSession::new(&model, examples, config)?,
    };
    println!(
        "training on {} pair(s) ({} skipped), {} step(s) per epoch, backend {}, {}",
        pairs.len() - skipped.len(),
        skipped.len(),
        session.steps_per_epoch(),
        args.backend,
        match kind {
            MaskKind::Binary => "binary masks (≥ 128 is lesion)".to_string(),
            MaskKind::Labels { classes } => format!("class-index masks ({classes} classes)"),
        }
    );
    let bar = progress_bar(session.total_steps() as u64, "train");
    bar.set_position((session.epochs_done() * session.steps_per_epoch()) as u64);
    let mut best = f64::NEG_INFINITY;
    let (mut loss_sum, mut dice_sum, mut count) = (0.0, 0.0, 0usize);
    let mut epoch_started = Instant::now();
    let first_epoch = session.epochs_done();
    while let Some(step) = session.step() {
        let (loss, dice) = pollster::block_on(step.output.read())?;
        if !loss.is_finite() {
            return Err(Error::Backend(format!(
                "the loss became {loss} at step {}; try a lower learning rate",
                step.steps_done
            )));
        }
        loss_sum += loss;
        dice_sum += dice;
        count += 1;
        bar.set_prefix(format!("loss {loss:.4} dice {dice:.3}"));
        bar.inc(1);
        if session.epochs_done() == step.epoch {
            continue; // the epoch is not over yet
        }
        let mut line = format!(
            "epoch {}/{} loss={:.4} dice={:.4} lr={:.2e} time={:.1}s",
            step.epoch + 1,
            args.epochs,
            loss_sum / count as f64,
            dice_sum / count as f64,
            step.output.learning_rate,
            epoch_started.elapsed().as_secs_f64()
        );
        if !val_pairs.is_empty() {
            let model = session.model();
            let scores: Vec<Scores> = score_pairs(&model, &val_pairs, args.size, true)
                .into_iter()
                .map(|(_, s)| s)
                .collect();
            let mean = mean_scores(&scores);
            line += &format!(" val_dice={:.4} val_iou={:.4}", mean.dice, mean.iou);
            if mean.dice > best {
                best = mean.dice;
                std::fs::create_dir_all(&checkpoints).map_err(io(&checkpoints))?;
                save_weights(
                    &model,
                    &checkpoints.join("best.safetensors"),
                    FloatStorage::F32,
                )?;
            }
        }
        bar.suspend(|| println!("{line}"));
        save_checkpoint(&checkpoints, &session, &fingerprint)?;
        (loss_sum, dice_sum, count) = (0.0, 0.0, 0);
        epoch_started = Instant::now();
        if args
            .stop_after
            .is_some_and(|n| session.epochs_done() - first_epoch >= n)
            && !session.is_finished()
        {
            bar.finish_and_clear();
            println!(
                "stopped after epoch {}; continue with --resume {}",
                session.epochs_done(),
                checkpoints.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    bar.finish_and_clear();
    let storage = if args.f16 {
        FloatStorage::F16Kernels
    } else {
        FloatStorage::F32
    };
    save_weights(&session.model(), &args.out, storage)?;
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
