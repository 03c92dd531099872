//! A whole fine-tuning run, advanced one step at a time so that callers (the browser worker, the
//! CLI) can report progress, yield to their event loop and stop between any two steps.

use burn::prelude::*;

use super::adapt::adapt_batch_norm;
use super::batch::batch_tensors;
use super::trainer::{StepOutput, Trainer};
use crate::data::augment::{Example, augment, zoom};
use crate::data::ink::add_ink_ring;
use crate::data::stickers::add_sticker;
use crate::error::{Error, Result};
use crate::limits::{LEARNING_RATE_RANGE, MAX_ANCHOR, MAX_BATCH_SIZE, MAX_EPOCHS};
use crate::model::{SIZE_MULTIPLE, TinyUNet};
use crate::rng::Rng;
use crate::schedule::CosineSchedule;

/// Settings of a run. Defaults suit a short on-device fine-tune.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// Passes over the examples.
    pub epochs: usize,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Starting learning rate (cosine-annealed to `min_learning_rate`).
    pub learning_rate: f64,
    /// Learning rate at the last step.
    pub min_learning_rate: f64,
    /// Random flips, rotations and brightness/contrast jitter.
    pub augment: bool,
    /// Seed for shuffling and augmentation.
    pub seed: u64,
    /// Normalise with the model's running BatchNorm statistics during training (and keep them)
    /// instead of each batch's own: see [`crate::model::batch_norm::BatchNorm2d::frozen`]. Ignored
    /// for a network that has never trained (`num_batches_tracked` 0): it has no statistics yet.
    pub freeze_batch_norm: bool,
    /// Before the first step, re-estimate the running BatchNorm statistics on the examples
    /// (see [`super::adapt::adapt_batch_norm`]).
    pub adapt_batch_norm: bool,
    /// Re-estimate the running BatchNorm statistics on the examples (with the weights trained so
    /// far) whenever the weights are taken for inference: the running averages lag behind weights
    /// that changed in a few steps.
    pub recalibrate_batch_norm: bool,
    /// With `augment`, also zoom in and out at random (see [`crate::data::augment::zoom`]).
    pub zoom: bool,
    /// With `augment`, also paste colour-calibration stickers on the skin of some examples (see
    /// [`crate::data::stickers`]).
    pub stickers: bool,
    /// With `augment`, also draw marker-ink rings around the lesion of some examples (see
    /// [`crate::data::ink`]).
    pub ink: bool,
    /// Strength of the pull of every weight towards its value at the start of the run (L2-SP:
    /// `anchor · (w − w₀)` added to each gradient); 0 turns it off.
    pub anchor: f64,
    /// Most images per forward/backward pass within a step: the batch runs as micro-batches of
    /// this size whose gradients are summed before the one optimiser step, the same update for
    /// a fraction of the memory (see [`Trainer::with_micro_batch`]). `None`: as many images as
    /// [`MICRO_BATCH_PIXELS`] holds. Only with BatchNorm frozen: on batch statistics the
    /// micro-batches would each be normalised by their own, so batches then run whole.
    pub micro_batch: Option<usize>,
}

/// The pixels one forward/backward pass takes when [`SessionConfig::micro_batch`] is left
/// automatic: one 256² image. A training pass holds ~400 MiB of wasm memory per 256² image
/// (its saved activations), so one image at a time keeps the page's default fine-tune (batch 4
/// at 256²) at 426 MiB, within 512, against 1.6 GB in whole batches, for a step as fast
/// (docs/BENCHMARKS.md, "Training memory").
pub const MICRO_BATCH_PIXELS: usize = 256 * 256;

/// The micro-batch [`SessionConfig::micro_batch`] means for `size`² examples.
fn micro_batch_for(config: &SessionConfig, size: usize) -> usize {
    config
        .micro_batch
        .unwrap_or_else(|| MICRO_BATCH_PIXELS / (size * size).max(1))
        .max(1)
}

/// The fine-tuning defaults (the page's, the package's and `tinyunet fine-tune`'s), chosen on
/// two protocols, a new kind of photo and a familiar one (docs/FINE_TUNING.md): BatchNorm
/// frozen, because the statistics of a batch of 4 very different photos make the training
/// forward a far worse network than the one being tuned; and a learning rate of 3e-5, which on
/// frozen statistics gains on both where 1e-4 over-fits a few photos and 1e-5 learns little.
impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 4,
            learning_rate: 3e-5,
            min_learning_rate: 1e-6,
            augment: true,
            seed: 0,
            freeze_batch_norm: true,
            adapt_batch_norm: false,
            recalibrate_batch_norm: false,
            zoom: false,
            stickers: false,
            ink: false,
            anchor: 0.0,
            micro_batch: None,
        }
    }
}

/// Where a finished step sits in the run.
pub struct SessionStep {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based step within the epoch.
    pub step_in_epoch: usize,
    /// 1-based count of steps done in the whole run.
    pub steps_done: usize,
    /// Steps the whole run will take.
    pub total_steps: usize,
    /// Loss, Dice and learning rate of the step.
    pub output: StepOutput,
}

/// Where an interrupted run stood, to continue it exactly.
pub struct ResumePoint {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Adam state from [`TrainingSession::optimizer_state`].
    pub optimizer: Vec<u8>,
}

/// A training run over a fixed set of equally sized square examples.
pub struct TrainingSession {
    trainer: Trainer,
    examples: Vec<Example>,
    order: Vec<usize>,
    cursor: usize,
    epoch: usize,
    step_in_epoch: usize,
    rng: Rng,
    config: SessionConfig,
    classes: usize,
    device: Device,
}

impl TrainingSession {
    /// Checks the examples and settings and prepares a run from `model`'s current weights.
    pub fn new(model: &TinyUNet, examples: Vec<Example>, config: SessionConfig) -> Result<Self> {
        Self::start(model, examples, config, None)
    }

    /// Continues a run from a checkpoint made at the end of epoch `resume.epochs_done`, with
    /// the same examples and settings, so that it ends exactly where an uninterrupted run would.
    pub fn resume(
        model: &TinyUNet,
        examples: Vec<Example>,
        config: SessionConfig,
        resume: ResumePoint,
    ) -> Result<Self> {
        if resume.epochs_done >= config.epochs {
            return Err(Error::config(format!(
                "the checkpoint has already done {} of {} epochs",
                resume.epochs_done, config.epochs
            )));
        }
        Self::start(model, examples, config, Some(resume))
    }

    fn start(
        model: &TinyUNet,
        examples: Vec<Example>,
        config: SessionConfig,
        resume: Option<ResumePoint>,
    ) -> Result<Self> {
        if examples.is_empty() {
            return Err(Error::input("no training examples were given"));
        }
        if config.epochs == 0 || config.epochs > MAX_EPOCHS {
            return Err(Error::config(format!(
                "epochs must be 1..={MAX_EPOCHS}, got {}",
                config.epochs
            )));
        }
        if config.batch_size == 0 || config.batch_size > MAX_BATCH_SIZE {
            return Err(Error::config(format!(
                "batch size must be 1..={MAX_BATCH_SIZE}, got {}",
                config.batch_size
            )));
        }
        let (low, high) = LEARNING_RATE_RANGE;
        let rate_ok = |r: f64, low: f64| (low..=high).contains(&r);
        if !rate_ok(config.learning_rate, low) {
            return Err(Error::config(format!(
                "learning rate must be a number from {low} to {high}, got {}",
                config.learning_rate
            )));
        }
        if !(config.anchor.is_finite() && (0.0..=MAX_ANCHOR).contains(&config.anchor)) {
            return Err(Error::config(format!(
                "the pull towards the starting weights must be a number from 0 to {MAX_ANCHOR}, got {}",
                config.anchor
            )));
        }
        if config.micro_batch == Some(0) {
            return Err(Error::config(
                "the micro-batch must hold at least 1 image (leave it out for the automatic size)",
            ));
        }
        if !rate_ok(config.min_learning_rate, 0.0) {
            return Err(Error::config(format!(
                "minimum learning rate must be a number from 0 to {high}, got {}",
                config.min_learning_rate
            )));
        }
        let size = examples[0].size;
        if size == 0 || !size.is_multiple_of(SIZE_MULTIPLE) {
            return Err(Error::config(format!(
                "training size must be a positive multiple of {SIZE_MULTIPLE}, got {size}"
            )));
        }
        let classes = model.config.classes;
        let label_limit = classes.max(2);
        for (i, ex) in examples.iter().enumerate() {
            if ex.size != size || ex.image.len() != 3 * size * size || ex.mask.len() != size * size
            {
                return Err(Error::input(format!(
                    "example {i} is not a {size}×{size} image with a matching mask"
                )));
            }
            if let Some(v) = ex.mask.iter().find(|&&v| v as usize >= label_limit) {
                return Err(Error::input(format!(
                    "example {i}: mask value {v} is not a class index below {label_limit}"
                )));
            }
        }
        let steps_per_epoch = examples.len().div_ceil(config.batch_size);
        let schedule = CosineSchedule {
            initial: config.learning_rate,
            minimum: config.min_learning_rate,
            total_steps: steps_per_epoch * config.epochs,
        };
        // A network that has never trained has no statistics to freeze (its running ones are the
        // initial 0 and 1): it normalises by each batch's whatever the setting.
        let freeze = config.freeze_batch_norm && model.num_batches_tracked > 0;
        let model = &model.clone().with_frozen_batch_norm(freeze);
        let (trainer, epoch) = match resume {
            None if config.adapt_batch_norm => {
                let adapted = adapt_batch_norm(model, &examples, config.batch_size)?
                    .with_frozen_batch_norm(freeze);
                let trainer = Trainer::new(&adapted, schedule)?.with_anchor(config.anchor);
                (trainer, 0)
            }
            None => (Trainer::new(model, schedule)?.with_anchor(config.anchor), 0),
            Some(_) if config.anchor > 0.0 => {
                return Err(Error::config(
                    "a run that pulls towards its starting weights cannot be resumed: \
                     the checkpoint does not hold them",
                ));
            }
            Some(point) => {
                let done = point.epochs_done * steps_per_epoch;
                let trainer = Trainer::resume(model, schedule, done, &point.optimizer)?;
                (trainer, point.epochs_done)
            }
        };
        let trainer = trainer.with_micro_batch(micro_batch_for(&config, size));
        let device = trainer.device().without_autodiff();
        let mut session = Self {
            trainer,
            order: (0..examples.len()).collect(),
            examples,
            cursor: 0,
            epoch,
            step_in_epoch: 0,
            rng: Rng::new(0),
            config,
            classes,
            device,
        };
        session.begin_epoch();
        Ok(session)
    }

    /// Shuffles for the current epoch from a stream that depends only on the seed and the epoch,
    /// so a resumed run sees the same batches as an uninterrupted one.
    fn begin_epoch(&mut self) {
        let epoch = self.epoch as u64;
        self.rng = Rng::new(self.config.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.order = (0..self.examples.len()).collect();
        self.rng.shuffle(&mut self.order);
        self.cursor = 0;
        self.step_in_epoch = 0;
    }

    /// The settings of the run.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The training examples, as given (not augmented).
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// Side of the (square) examples.
    pub fn size(&self) -> usize {
        self.examples.first().map_or(0, |e| e.size)
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// The Adam state, for a checkpoint (see [`TrainingSession::resume`]).
    pub fn optimizer_state(&self) -> Result<Vec<u8>> {
        self.trainer.optimizer_state()
    }

    /// Most images a step puts through one forward/backward pass: the micro-batch
    /// ([`SessionConfig::micro_batch`]), or the batch size when BatchNorm normalises with each
    /// batch's statistics (then batches run whole).
    pub fn micro_batch(&self) -> usize {
        self.trainer.micro_batch().min(self.config.batch_size)
    }

    /// On a GPU, the most its buffer pools held at the end of any training pass of this run
    /// (see [`Trainer::pool_peak_bytes`]); `None` on the CPU.
    pub fn pool_peak_bytes(&self) -> Option<u64> {
        self.trainer.pool_peak_bytes()
    }

    /// Steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.examples.len().div_ceil(self.config.batch_size)
    }

    /// Steps in the whole run.
    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.config.epochs
    }

    /// True once every planned step ran.
    pub fn is_finished(&self) -> bool {
        self.trainer.steps_done() >= self.total_steps()
    }

    /// Runs the next step, or returns `None` when the run is complete.
    pub fn step(&mut self) -> Option<SessionStep> {
        if self.is_finished() {
            return None;
        }
        let end = (self.cursor + self.config.batch_size).min(self.order.len());
        let batch: Vec<Example> = self.order[self.cursor..end]
            .iter()
            .map(|&i| {
                let example = &self.examples[i];
                if !self.config.augment {
                    return example.clone();
                }
                // Each extra draws from the stream only when on: runs without them see the
                // batches they always saw.
                let mut out = augment(example, &mut self.rng);
                if self.config.zoom {
                    out = zoom(&out, &mut self.rng);
                }
                if self.config.stickers {
                    out = add_sticker(&out, &mut self.rng);
                }
                if self.config.ink {
                    out = add_ink_ring(&out, &mut self.rng);
                }
                out
            })
            .collect();
        let (images, targets) = batch_tensors(&batch, self.classes, &self.device);
        let output = self.trainer.step(images, targets);
        let done = SessionStep {
            epoch: self.epoch,
            step_in_epoch: self.step_in_epoch,
            steps_done: self.trainer.steps_done(),
            total_steps: self.total_steps(),
            output,
        };
        self.cursor = end;
        self.step_in_epoch += 1;
        if self.cursor >= self.order.len() {
            self.epoch += 1;
            self.begin_epoch();
        }
        Some(done)
    }

    /// The weights after the last finished step, ready for inference.
    pub fn model(&self) -> TinyUNet {
        self.trainer.model()
    }
}
