//! A fine-tuning run as a user sees it: score the held-back pairs before training and after every
//! epoch, train in between, and end with the last epoch's weights unless an earlier epoch, or the
//! starting weights, scored clearly better ([`HELD_OUT_TOLERANCE`]) — then with those, so a run
//! that did not help never leaves worse weights behind silently.
//!
//! Why not simply the best-scoring weights: a clinic holds back a handful of pairs (five from ten
//! on), and on so few the epochs of a good run differ by less than their noise. On ISIC 2017
//! photos new to the weights (docs/FINE_TUNING.md, protocol (a), four seeds) the last epoch gained
//! +0.034 to +0.043 Dice on 30 unseen photos every time, while the five held back scored it
//! within 0.0025 of the best epoch or of the start — and "strictly the best" kept the starting
//! weights on two seeds, and once an epoch that lost 0.016 on the unseen photos because it led
//! the five by 0.0001. Where training does go wrong (the CT model past its best epoch, labels
//! that contradict the weights), the held-back Dice falls by more than the tolerance.
//!
//! Both skins (the browser and the CLI) drive it one unit of work at a time through
//! [`FineTune::advance`], reporting progress and stopping between any two units.

use serde::Serialize;

use super::adapt::adapt_batch_norm;
use super::session::{ResumePoint, SessionConfig, TrainingSession};
use crate::data::augment::Example;
use crate::data::image::{MaskKind, RgbaImage, check_mask_size, image_to_chw, mask_from_rgba};
use crate::error::{Error, Result};
use crate::infer::{DEFAULT_FLIPS, Prediction, check_flips, segment_prepared};
use crate::islands::Islands;
use crate::metrics::{Scores, mask_scores, mean_scores};
use crate::model::TinyUNet;

/// Fewer held-back pairs than this give a before/after Dice too noisy to mean much; the run
/// still chooses the weights by them, and says so ([`Outcome::reliable`]).
pub const MIN_RELIABLE_HELD_OUT: usize = 5;

/// How much better (mean held-back Dice) an earlier epoch, or the starting weights, must score
/// than the last scored epoch to be kept instead of it. Measured (docs/FINE_TUNING.md): on five
/// held-back pairs the best epoch led the last by at most 0.0025 in six ISIC 2017 and PH2 runs
/// (the last epoch better on unseen photos in five of them), and by 0.015 and 0.052 in the two
/// CT runs (the CT model, 40 epochs), whose last epoch was worse on unseen slices.
pub const HELD_OUT_TOLERANCE: f64 = 0.005;

/// A pair kept out of training to judge it: the network's input at the run's size and the truth
/// at the image's own size (Dice is measured where the user sees the mask).
#[derive(Clone, Debug)]
pub struct HeldOut {
    /// Names the pair in reports.
    pub name: String,
    input: Vec<f32>,
    width: u32,
    height: u32,
    truth: Vec<u8>,
}

impl HeldOut {
    /// Prepares `image` and its `mask` (same size) for scoring at `size`; errors name `name`.
    pub fn new(
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
        size: usize,
        kind: MaskKind,
    ) -> Result<Self> {
        check_mask_size(image, mask, name)?;
        let truth = mask_from_rgba(mask, kind, &format!("{name} (mask)"))?;
        Ok(Self {
            name: name.to_string(),
            input: image_to_chw(image, size, size),
            width: image.width,
            height: image.height,
            truth,
        })
    }

    /// `model`'s segmentation of this pair's image at its own size, from `flips` mirrored
    /// passes (see [`crate::infer::segment`]), its stray pieces handled by `islands` as the
    /// user's segmentations are.
    pub async fn predict(
        &self,
        model: &TinyUNet,
        size: usize,
        flips: usize,
        islands: Islands,
    ) -> Result<Prediction> {
        let mut prediction = segment_prepared(
            model,
            self.input.clone(),
            size,
            &[(self.width, self.height)],
            flips,
        )
        .await?
        .pop()
        .ok_or_else(|| Error::Backend("no prediction was produced".into()))?;
        islands.apply(&mut prediction.mask, self.width as usize);
        Ok(prediction)
    }

    /// The pair's mask as labels, one byte per pixel at the image's own size.
    pub fn truth(&self) -> &[u8] {
        &self.truth
    }

    /// Dice and IoU of `model`'s mask for this pair, from `flips` mirrored passes, with
    /// `islands` applied.
    pub async fn score(
        &self,
        model: &TinyUNet,
        size: usize,
        flips: usize,
        islands: Islands,
    ) -> Result<Scores> {
        let prediction = self.predict(model, size, flips, islands).await?;
        Ok(mask_scores(
            &prediction.mask,
            &self.truth,
            model.config.classes,
        ))
    }
}

/// The held-back scores of one set of weights.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Epochs trained when it was taken (0: the starting weights).
    pub epoch: usize,
    /// Mean over the held-back pairs.
    pub mean: Scores,
    /// One per held-back pair, in their order.
    pub per_pair: Vec<Scores>,
}

/// One finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over its steps.
    pub loss: f64,
    /// Mean training (soft) Dice over its steps.
    pub dice: f64,
    /// The held-back scores after it, when there are held-back pairs.
    pub held_out: Option<Scores>,
}

/// What one call of [`FineTune::advance`] did. Serialised (for the browser) with a `kind` tag
/// and camelCase names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// Scored one held-back pair of the weights after `epoch` epochs (0: before training).
    Scored {
        /// Epochs trained.
        epoch: usize,
        /// Pairs of this evaluation scored so far.
        done: usize,
        /// Held-back pairs.
        total: usize,
        /// The mean over all held-back pairs, with the last of them.
        mean: Option<Scores>,
    },
    /// Took one optimiser step.
    Trained {
        /// 0-based epoch of the step.
        epoch: usize,
        /// 0-based step within the epoch.
        step_in_epoch: usize,
        /// Steps in one epoch.
        steps_per_epoch: usize,
        /// Steps done in the run.
        steps_done: usize,
        /// Steps the run will take.
        total_steps: usize,
        /// Loss of the batch.
        loss: f64,
        /// Mean soft Dice of the batch.
        dice: f64,
        /// Learning rate of the step.
        learning_rate: f64,
    },
    /// The epoch that just ended (after its held-back evaluation, if any).
    EpochEnded(EpochRecord),
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// Every planned step ran and was scored.
    Completed,
    /// The caller stopped it.
    Cancelled,
    /// The loss stopped being a number at `step`: the learning rate is too high for these data.
    Diverged {
        /// 1-based step whose loss was not finite.
        step: usize,
        /// The loss it had.
        loss: f64,
    },
}

/// How a run ended and which weights it leaves.
pub struct Outcome {
    /// Why it ended.
    pub stop: Stop,
    /// The weights to use from now on; `None`: keep the starting ones (they scored more than
    /// [`HELD_OUT_TOLERANCE`] better than the last scored epoch and at least as well as every
    /// other; or no epoch was scored: no step finished, or the run was cancelled or diverged
    /// before its first epoch's score).
    pub model: Option<TinyUNet>,
    /// The weights of the last finished step when they are not the ones `model` holds (for "use
    /// them anyway"); `None` when they are, or when no step finished well.
    pub last: Option<TinyUNet>,
    /// The epoch whose weights `model` holds (0: the starting weights).
    pub chosen_epoch: usize,
    /// The epoch with the best held-back Dice (0: the starting weights, or nothing scored; ties:
    /// the earlier), which `chosen_epoch` differs from when the last scored epoch came within
    /// `tolerance` of it.
    pub best_epoch: usize,
    /// The tolerance the choice was made with ([`HELD_OUT_TOLERANCE`] unless set otherwise).
    pub tolerance: f64,
    /// The starting weights' held-back scores.
    pub before: Option<Evaluation>,
    /// The held-back scores of the chosen weights.
    pub chosen: Option<Evaluation>,
    /// Every finished epoch.
    pub epochs: Vec<EpochRecord>,
    /// Names of the held-back pairs, in the order of `per_pair`.
    pub held_out: Vec<String>,
    /// Steps done and planned.
    pub steps_done: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Most images a step put through one forward/backward pass
    /// ([`TrainingSession::micro_batch`]).
    pub micro_batch: usize,
}

impl Outcome {
    /// True when the held-back pairs are numerous enough for the before/after figure to mean
    /// something (at least [`MIN_RELIABLE_HELD_OUT`]).
    pub fn reliable(&self) -> bool {
        self.held_out.len() >= MIN_RELIABLE_HELD_OUT
    }

    /// True when the weights kept score a better held-back Dice than the starting ones; `None`
    /// when either was not scored.
    pub fn improved(&self) -> Option<bool> {
        let (before, chosen) = (self.before.as_ref()?, self.chosen.as_ref()?);
        Some(chosen.mean.dice > before.mean.dice)
    }

    /// The last epoch whose weights were scored on the held-back pairs, if any.
    pub fn last_scored_epoch(&self) -> Option<usize> {
        self.epochs
            .iter()
            .rev()
            .find(|r| r.held_out.is_some())
            .map(|r| r.epoch)
    }

    /// The mean held-back Dice of the weights after `epoch` epochs (0: the starting weights), if
    /// they were scored.
    pub fn held_out_dice(&self, epoch: usize) -> Option<f64> {
        if epoch == 0 {
            return self.before.as_ref().map(|e| e.mean.dice);
        }
        let record = self.epochs.iter().find(|r| r.epoch == epoch)?;
        record.held_out.map(|s| s.dice)
    }

    /// True when the last scored epoch was kept although the starting weights or an earlier
    /// epoch scored better (not merely as well), by no more than `tolerance`: the held-back
    /// pairs could not tell them apart.
    pub fn within_tolerance(&self) -> bool {
        let Some(chosen) = &self.chosen else {
            return false;
        };
        self.chosen_epoch != self.best_epoch
            && self
                .held_out_dice(self.best_epoch)
                .is_some_and(|best| best > chosen.mean.dice)
    }
}

/// Scored weights: the best so far, or the latest.
struct Scored {
    evaluation: Evaluation,
    model: TinyUNet,
}

/// An evaluation under way: the weights after `epoch` epochs and the pairs scored so far.
struct Scoring {
    epoch: usize,
    model: TinyUNet,
    scores: Vec<Scores>,
}

/// A fine-tuning run with held-back pairs (see the module documentation).
pub struct FineTune {
    session: TrainingSession,
    held_out: Vec<HeldOut>,
    size: usize,
    flips: usize,
    /// What happens to the held-back masks' stray pieces (see [`FineTune::with_islands`]).
    islands: Islands,
    /// `Some` while an evaluation is under way.
    scoring: Option<Scoring>,
    evaluations: Vec<Evaluation>,
    best: Option<Scored>,
    /// The last evaluation and its weights (see [`HELD_OUT_TOLERANCE`]).
    latest: Option<Scored>,
    /// See [`FineTune::with_tolerance`].
    tolerance: f64,
    epochs: Vec<EpochRecord>,
    pending_epoch: Option<EpochRecord>,
    loss_sum: f64,
    dice_sum: f64,
    steps_in_epoch: usize,
    steps_done: usize,
    diverged: Option<Stop>,
}

impl FineTune {
    /// Prepares a run from `model` on `examples`, judged by `held_out` (may be empty: then the
    /// run ends with its last weights, unscored).
    pub fn new(
        model: &TinyUNet,
        examples: Vec<Example>,
        held_out: Vec<HeldOut>,
        config: SessionConfig,
    ) -> Result<Self> {
        let session = TrainingSession::new(model, examples, config)?;
        let scoring = (!held_out.is_empty()).then(|| Scoring {
            epoch: 0,
            model: model.clone(),
            scores: Vec::with_capacity(held_out.len()),
        });
        Ok(Self::with_session(session, held_out, scoring))
    }

    /// Continues an interrupted run (see [`TrainingSession::resume`]). The checkpoint's weights
    /// were scored when their epoch ended, so scoring starts after the next epoch, and "before"
    /// and "improved" are left to whoever kept the earlier scores.
    pub fn resume(
        model: &TinyUNet,
        examples: Vec<Example>,
        held_out: Vec<HeldOut>,
        config: SessionConfig,
        point: ResumePoint,
    ) -> Result<Self> {
        let session = TrainingSession::resume(model, examples, config, point)?;
        Ok(Self::with_session(session, held_out, None))
    }

    fn with_session(
        session: TrainingSession,
        held_out: Vec<HeldOut>,
        scoring: Option<Scoring>,
    ) -> Self {
        let size = session.size();
        Self {
            session,
            held_out,
            size,
            flips: DEFAULT_FLIPS,
            islands: Islands::Keep,
            scoring,
            evaluations: Vec::new(),
            best: None,
            latest: None,
            tolerance: HELD_OUT_TOLERANCE,
            epochs: Vec::new(),
            pending_epoch: None,
            loss_sum: 0.0,
            dice_sum: 0.0,
            steps_in_epoch: 0,
            steps_done: 0,
            diverged: None,
        }
    }

    /// Scores the held-back pairs from `flips` mirrored passes, as the segmentations the user
    /// sees are made (default [`DEFAULT_FLIPS`]).
    pub fn with_flips(mut self, flips: usize) -> Result<Self> {
        check_flips(flips)?;
        self.flips = flips;
        Ok(self)
    }

    /// Scores the held-back masks with their stray pieces handled by `islands`, as the user's
    /// segmentations are (default [`Islands::Keep`]: the network's own masks), so that the epoch
    /// kept and the before/after figures judge the masks the user will see.
    pub fn with_islands(mut self, islands: Islands) -> Self {
        self.islands = islands;
        self
    }

    /// Keeps the last scored epoch unless the best scored weights lead it by more than `tolerance`
    /// in mean held-back Dice (default [`HELD_OUT_TOLERANCE`]; 0: the best, ties to the latest).
    pub fn with_tolerance(mut self, tolerance: f64) -> Result<Self> {
        if !(tolerance.is_finite() && (0.0..=1.0).contains(&tolerance)) {
            return Err(Error::config(format!(
                "the held-back tolerance must be a Dice difference from 0 to 1, not {tolerance}"
            )));
        }
        self.tolerance = tolerance;
        Ok(self)
    }

    /// The weights after the last step, their BatchNorm statistics re-estimated on the training
    /// images when the run is set to ([`SessionConfig::recalibrate_batch_norm`]).
    fn session_model(&self) -> Result<TinyUNet> {
        let model = self.session.model();
        if !self.session.config().recalibrate_batch_norm {
            return Ok(model);
        }
        let config = self.session.config();
        adapt_batch_norm(&model, self.session.examples(), config.batch_size)
    }

    /// The training run underneath (for checkpoints: epochs done, optimiser state).
    pub fn session(&self) -> &TrainingSession {
        &self.session
    }

    /// The best-scoring weights so far and their scores (epoch 0: the starting weights).
    pub fn best(&self) -> Option<(&Evaluation, &TinyUNet)> {
        self.best.as_ref().map(|b| (&b.evaluation, &b.model))
    }

    /// Steps the run will take.
    pub fn total_steps(&self) -> usize {
        self.session.total_steps()
    }

    /// Steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.session.steps_per_epoch()
    }

    /// Held-back pairs.
    pub fn held_out(&self) -> usize {
        self.held_out.len()
    }

    /// True once nothing is left to do ([`FineTune::advance`] returns `None`).
    pub fn is_finished(&self) -> bool {
        self.diverged.is_some()
            || (self.scoring.is_none()
                && self.pending_epoch.is_none()
                && self.session.is_finished())
    }

    /// Does the next unit of work — score one held-back pair, or take one training step — and
    /// says what it did; `None` when the run is over. A loss that is not finite ends the run
    /// (see [`Stop::Diverged`]) with weights chosen among those scored before it.
    pub async fn advance(&mut self) -> Result<Option<Event>> {
        if self.diverged.is_some() {
            return Ok(None);
        }
        if let Some(scoring) = &mut self.scoring {
            let pair = &self.held_out[scoring.scores.len()];
            let score = pair
                .score(&scoring.model, self.size, self.flips, self.islands)
                .await?;
            scoring.scores.push(score);
            let (epoch, done) = (scoring.epoch, scoring.scores.len());
            let mut mean = None;
            if done == self.held_out.len()
                && let Some(finished) = self.scoring.take()
            {
                mean = Some(mean_scores(&finished.scores));
                self.record(finished.epoch, finished.scores, finished.model);
            }
            return Ok(Some(Event::Scored {
                epoch,
                done,
                total: self.held_out.len(),
                mean,
            }));
        }
        if let Some(record) = self.end_pending_epoch() {
            return Ok(Some(Event::EpochEnded(record)));
        }
        let steps_per_epoch = self.session.steps_per_epoch();
        let Some(step) = self.session.step() else {
            return Ok(None);
        };
        let (loss, dice) = step.output.read().await?;
        self.steps_done = step.steps_done;
        if !loss.is_finite() {
            self.diverged = Some(Stop::Diverged {
                step: step.steps_done,
                loss,
            });
            return Ok(None);
        }
        self.loss_sum += loss;
        self.dice_sum += dice;
        self.steps_in_epoch += 1;
        if self.session.epochs_done() > step.epoch {
            let n = self.steps_in_epoch as f64;
            let epoch = step.epoch + 1;
            self.pending_epoch = Some(EpochRecord {
                epoch,
                loss: self.loss_sum / n,
                dice: self.dice_sum / n,
                held_out: None,
            });
            (self.loss_sum, self.dice_sum, self.steps_in_epoch) = (0.0, 0.0, 0);
            if !self.held_out.is_empty() {
                self.scoring = Some(Scoring {
                    epoch,
                    model: self.session_model()?,
                    scores: Vec::with_capacity(self.held_out.len()),
                });
            }
        }
        Ok(Some(Event::Trained {
            epoch: step.epoch,
            step_in_epoch: step.step_in_epoch,
            steps_per_epoch,
            steps_done: step.steps_done,
            total_steps: step.total_steps,
            loss,
            dice,
            learning_rate: step.output.learning_rate,
        }))
    }

    /// Records the epoch that ended last (with its held-back mean once scored), if not yet done.
    fn end_pending_epoch(&mut self) -> Option<EpochRecord> {
        let record = self.pending_epoch.take()?;
        let record = EpochRecord {
            held_out: self
                .evaluations
                .last()
                .filter(|e| e.epoch == record.epoch)
                .map(|e| e.mean),
            ..record
        };
        self.epochs.push(record.clone());
        Some(record)
    }

    /// Keeps an evaluation as the latest, and as the best so far when its Dice is strictly better
    /// than every earlier one (ties: the earlier, the starting weights first of all).
    fn record(&mut self, epoch: usize, per_pair: Vec<Scores>, model: TinyUNet) {
        let evaluation = Evaluation {
            epoch,
            mean: mean_scores(&per_pair),
            per_pair,
        };
        let better = self
            .best
            .as_ref()
            .is_none_or(|b| evaluation.mean.dice > b.evaluation.mean.dice);
        if better {
            self.best = Some(Scored {
                evaluation: evaluation.clone(),
                model: model.clone(),
            });
        }
        self.latest = Some(Scored {
            evaluation: evaluation.clone(),
            model,
        });
        self.evaluations.push(evaluation);
    }

    /// Ends the run (early if `cancelled` or unfinished) and says which weights it leaves: with
    /// held-back pairs, the last scored epoch's unless the best scored lead them by more than the
    /// tolerance (then the best: the starting weights when they were); else the last step's.
    pub fn finish(mut self, cancelled: bool) -> Outcome {
        // Stopped between an epoch's end and its report: the epoch still counts.
        self.end_pending_epoch();
        let stop = match self.diverged.clone() {
            Some(stop) => stop,
            None if cancelled || !self.session.is_finished() => Stop::Cancelled,
            None => Stop::Completed,
        };
        let trained = self.steps_done > 0 && !matches!(stop, Stop::Diverged { .. });
        let last = if trained {
            self.session_model().ok()
        } else {
            None
        };
        let before = self.evaluations.first().filter(|e| e.epoch == 0).cloned();
        let best_epoch = self.best.as_ref().map_or(0, |b| b.evaluation.epoch);
        let tolerance = self.tolerance;
        let choice = match (self.best, self.latest) {
            (Some(best), Some(latest))
                if best.evaluation.mean.dice - latest.evaluation.mean.dice <= tolerance =>
            {
                Some(latest)
            }
            (best, _) => best,
        };
        let (model, chosen_epoch, chosen, last) = match choice {
            Some(best) => {
                let epoch = best.evaluation.epoch;
                let model = (epoch > 0).then_some(best.model);
                // Nothing ran after the chosen epoch's end: its weights are the last ones.
                let ran_on = self.steps_done > epoch * self.session.steps_per_epoch();
                let last = if model.is_some() && !ran_on {
                    None
                } else {
                    last
                };
                (model, epoch, Some(best.evaluation), last)
            }
            None if self.held_out.is_empty() => (last, self.epochs.len(), None, None),
            None => (None, 0, None, last),
        };
        Outcome {
            stop,
            model,
            last,
            chosen_epoch,
            best_epoch,
            tolerance,
            before,
            chosen,
            epochs: self.epochs,
            held_out: self.held_out.into_iter().map(|h| h.name).collect(),
            steps_done: self.steps_done,
            total_steps: self.session.total_steps(),
            micro_batch: self.session.micro_batch(),
        }
    }
}
