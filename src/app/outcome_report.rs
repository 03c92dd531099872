//! What a finished fine-tune reports: how it ended, which weights it kept, and each class's
//! held-back scores before and after.

use serde::Serialize;

use crate::Result;
use crate::gpu_memory::RunGpuMemory;
use crate::islands::Islands;
use crate::metrics::{Scores, class_scores, mean_class_scores};
use crate::model::TinyUNet;
use crate::train::{EpochRecord, Evaluation, HeldOut, Outcome, Stop};

/// How a run ended and which weights the segmenter now has. `Default` is an empty report
/// (nothing run, nothing kept), a base to fill in field by field.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeReport {
    /// `"completed"`, `"cancelled"` or `"diverged"`.
    pub stop: &'static str,
    /// For `"diverged"`: the step whose loss was not finite.
    pub diverged_at_step: Option<usize>,
    /// The weights in use now: `"last"` (the last scored epoch's: no other scored weights beat
    /// them by more than `tolerance`; or the last step's when nothing was held back to judge
    /// by), `"best"` (an earlier epoch's, which beat the last scored one by more than
    /// `tolerance`) or `"previous"` (the starting weights beat it by more than `tolerance` and
    /// no epoch beat them; or no epoch was scored: no step finished, or the run was cancelled
    /// or diverged before its first epoch's score).
    pub kept: &'static str,
    /// Why those weights were kept: the one decision both skins word (the page's Fine-tune panel,
    /// `tinyunet fine-tune`), made here so that they cannot disagree.
    pub why: KeptBecause,
    /// The epoch whose weights were kept (0: the starting ones).
    pub chosen_epoch: usize,
    /// The epoch with the best held-back Dice (0: the starting weights, or nothing scored; ties:
    /// the earlier).
    pub best_epoch: usize,
    /// How far (mean held-back Dice) the best scored weights may lead the last scored epoch's
    /// and the last still be kept: below that, the held-back pairs cannot tell them apart.
    pub tolerance: f64,
    /// True when the last scored epoch was kept although the starting weights or an earlier
    /// epoch scored better (not merely as well), by no more than `tolerance`.
    pub within_tolerance: bool,
    /// Whether the kept weights score better than the starting ones on the held-back pairs.
    pub improved: Option<bool>,
    /// Whether enough pairs were held back for their Dice to mean much.
    pub reliable: bool,
    /// Names of the held-back pairs.
    pub held_out: Vec<String>,
    /// The starting weights' scores.
    pub before: Option<Evaluation>,
    /// The kept weights' scores.
    pub chosen: Option<Evaluation>,
    /// One record per finished epoch.
    pub epochs: Vec<EpochRecord>,
    /// Optimiser steps taken.
    pub steps_done: usize,
    /// Steps the full run would have taken.
    pub total_steps: usize,
    /// Most pairs a step put through one forward/backward pass: the micro-batch, or the batch
    /// size when BatchNorm used each batch's statistics (batches then run whole).
    pub micro_batch: usize,
    /// True when the last step's weights differ from those kept and can be taken instead.
    pub last_available: bool,
    /// For a multi-class model judged by held-back pairs: each foreground class's scores before
    /// the run and with the weights kept (means over the pairs where the class was scored); empty
    /// for a one-class model, without held-back pairs, or when the run stopped before the
    /// starting weights were scored.
    pub class_scores: Vec<ClassChange>,
    /// On a GPU: the buffers its pools held before, at the peak of, and after the run, and after
    /// the buffers the run left unused were given back (see `gpu_memory.rs`); `None` on the CPU.
    pub gpu_memory: Option<RunGpuMemory>,
}

/// Why a run left the weights it did (`OutcomeReport::why`); each case belongs to one `kept`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KeptBecause {
    /// `previous`: the loss stopped being a number, and no epoch the run scored was kept.
    Diverged,
    /// `previous`: no epoch was scored (no step finished, or the run was cancelled first).
    #[default]
    Unscored,
    /// `previous`: the starting weights beat the last scored epoch by more than the tolerance,
    /// and no epoch beat them.
    StartBeatLast,
    /// `best`: an earlier epoch beat the last scored one by more than the tolerance.
    EarlierBeatLast,
    /// `last`: the starting weights or an earlier epoch scored better, by no more than the
    /// tolerance: too little for the held-back pairs to tell apart.
    WithinTolerance,
    /// `last`: the last scored epoch is also the best.
    LastAndBest,
    /// `last`: nothing was held back to judge by, so the last step's weights.
    NothingHeldBack,
}

impl KeptBecause {
    /// The reason for `kept`, from how the run ended and what was scored.
    fn of(kept: &str, stop: &str, scored: bool, held_back: bool, within_tolerance: bool) -> Self {
        match kept {
            "previous" if stop == "diverged" => Self::Diverged,
            "previous" if !scored => Self::Unscored,
            "previous" => Self::StartBeatLast,
            "best" => Self::EarlierBeatLast,
            _ if !held_back => Self::NothingHeldBack,
            _ if within_tolerance => Self::WithinTolerance,
            _ => Self::LastAndBest,
        }
    }
}

/// One foreground class's held-back scores before a run and with the weights it kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassChange {
    /// The class's name on the model's card.
    pub name: String,
    /// Its colour on the card, `#rrggbb`.
    pub colour: String,
    /// Mean Dice and IoU of the starting weights over the pairs where the class is in the truth
    /// or the mask (`None`: in no pair's).
    pub before: Option<Scores>,
    /// The same for the weights kept.
    pub after: Option<Scores>,
}

impl OutcomeReport {
    pub(super) fn new(outcome: &Outcome, last_available: bool) -> Self {
        let (stop, diverged_at_step) = match outcome.stop {
            Stop::Completed => ("completed", None),
            Stop::Cancelled => ("cancelled", None),
            Stop::Diverged { step, .. } => ("diverged", Some(step)),
        };
        let kept = match (&outcome.model, outcome.held_out.is_empty()) {
            (None, _) => "previous",
            (Some(_), true) => "last",
            (Some(_), false) if outcome.last_scored_epoch() == Some(outcome.chosen_epoch) => "last",
            (Some(_), false) => "best",
        };
        let why = KeptBecause::of(
            kept,
            stop,
            outcome.last_scored_epoch().is_some(),
            !outcome.held_out.is_empty(),
            outcome.within_tolerance(),
        );
        Self {
            stop,
            diverged_at_step,
            kept,
            why,
            chosen_epoch: outcome.chosen_epoch,
            best_epoch: outcome.best_epoch,
            tolerance: outcome.tolerance,
            within_tolerance: outcome.within_tolerance(),
            improved: outcome.improved(),
            reliable: outcome.reliable(),
            held_out: outcome.held_out.clone(),
            before: outcome.before.clone(),
            chosen: outcome.chosen.clone(),
            epochs: outcome.epochs.clone(),
            steps_done: outcome.steps_done,
            total_steps: outcome.total_steps,
            micro_batch: outcome.micro_batch,
            last_available,
            class_scores: Vec::new(),
            gpu_memory: None,
        }
    }
}

/// Each foreground class's mean scores of `model` over `pairs` (entry `i` is class `i + 1`).
pub(super) async fn mean_class_scores_of(
    model: &TinyUNet,
    pairs: &[HeldOut],
    size: usize,
    (flips, islands): (usize, Islands),
) -> Result<Vec<Option<Scores>>> {
    let classes = model.config.classes;
    let mut per_pair = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let prediction = pair.predict(model, size, flips, islands).await?;
        per_pair.push(class_scores(&prediction.mask, pair.truth(), classes));
    }
    let mut means = mean_class_scores(&per_pair);
    means.resize(classes.saturating_sub(1), None);
    Ok(means)
}

#[cfg(test)]
mod tests {
    use super::KeptBecause::{self, *};

    /// `KeptBecause::of` for a completed run, `scored` and `held_back` both as given.
    fn of(kept: &str, scored: bool, within_tolerance: bool) -> KeptBecause {
        KeptBecause::of(kept, "completed", scored, scored, within_tolerance)
    }

    #[test]
    fn each_choice_has_its_one_reason() {
        assert_eq!(
            KeptBecause::of("previous", "diverged", true, true, false),
            Diverged
        );
        assert_eq!(
            KeptBecause::of("previous", "cancelled", false, true, false),
            Unscored
        );
        assert_eq!(of("previous", true, false), StartBeatLast);
        assert_eq!(of("best", true, false), EarlierBeatLast);
        assert_eq!(of("last", true, true), WithinTolerance);
        assert_eq!(of("last", true, false), LastAndBest);
        assert_eq!(of("last", false, false), NothingHeldBack);
    }
}
