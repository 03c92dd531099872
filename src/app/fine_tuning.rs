//! [`FineTuning`]: the on-device fine-tune as both skins run it. Pairs are added one by one (a
//! bad one is refused by name, the others stay), then the run advances one unit of work per call
//! — a training step, or one held-back pair scored — so that a caller can report progress and
//! cancel between any two; the end puts the chosen weights into the [`Segmenter`].

use super::outcome_report::{ClassChange, OutcomeReport, mean_class_scores_of};
use super::segmenter::Segmenter;
use super::train_options::TrainOptions;
use crate::data::augment::Example;
use crate::data::image::RgbaImage;
use crate::gpu_memory::{GpuMemoryWatch, release_gpu_memory};
use crate::infer::check_input_size;
use crate::model::TinyUNet;
use crate::train::{Event, FineTune, HeldOut};
use crate::{Error, Result};

/// What a multi-class run keeps to score its classes at the end: the starting network and the
/// held-back pairs.
struct ClassScoring {
    start: TinyUNet,
    pairs: Vec<HeldOut>,
    size: usize,
}

/// The pairs for the next run, the run in progress, and the last run's final weights when it
/// kept others.
#[derive(Default)]
pub struct FineTuning {
    examples: Vec<Example>,
    held_out: Vec<HeldOut>,
    /// The size the pairs were prepared at: every pair of a run shares it.
    size: Option<usize>,
    run: Option<FineTune>,
    last_trained: Option<TinyUNet>,
    /// Set by `start` for a multi-class model with held-back pairs.
    class_scoring: Option<ClassScoring>,
    /// Left by `finish` for `score_classes`, with whether the run changed the weights.
    finished_scoring: Option<(ClassScoring, bool)>,
    /// The run's GPU memory, on a GPU.
    gpu_memory: Option<GpuMemoryWatch>,
}

impl FineTuning {
    /// Adds an image and its mask (same size) to train on in the next run, prepared at `size`;
    /// `name` labels the pair in errors. A refused pair leaves the others as they were.
    pub fn add_training_pair(
        &mut self,
        segmenter: &Segmenter,
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
        size: usize,
    ) -> Result<()> {
        let example = self.prepare(size, || segmenter.example(name, image, mask, size))?;
        self.examples.push(example);
        Ok(())
    }

    /// Adds an image and its mask to keep out of training and judge the next run by (scored
    /// before training and after every epoch; the last epoch is kept unless clearly beaten).
    pub fn add_held_out_pair(
        &mut self,
        segmenter: &Segmenter,
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
        size: usize,
    ) -> Result<()> {
        let pair = self.prepare(size, || segmenter.held_out(name, image, mask, size))?;
        self.held_out.push(pair);
        Ok(())
    }

    /// Prepares a pair with `make` once `size` fits the run (every pair of a run shares one
    /// size), and records the size only when the pair was accepted.
    fn prepare<T>(&mut self, size: usize, make: impl FnOnce() -> Result<T>) -> Result<T> {
        check_input_size(size)?;
        if let Some(first) = self.size
            && first != size
        {
            return Err(Error::config(format!(
                "all samples of a run must use one size ({first}), got {size}"
            )));
        }
        let prepared = make()?;
        self.size = Some(size);
        Ok(prepared)
    }

    /// Training pairs waiting for the next run.
    pub fn pending(&self) -> usize {
        self.examples.len()
    }

    /// Drops the pairs added so far.
    pub fn clear(&mut self) {
        self.examples.clear();
        self.held_out.clear();
        self.size = None;
    }

    /// Starts a run from `segmenter`'s weights over the added pairs, which it consumes; on an
    /// error (bad settings, say) they stay for a retry.
    pub fn start(&mut self, segmenter: &Segmenter, options: &TrainOptions) -> Result<()> {
        if self.run.is_some() {
            return Err(Error::config("a training run is already in progress"));
        }
        // Read before the trainer empties the pools (`PassPools::new`).
        let gpu_memory = segmenter.device().ok().and_then(GpuMemoryWatch::new);
        let run = FineTune::new(
            segmenter.model(),
            self.examples.clone(),
            self.held_out.clone(),
            options.config_for(segmenter.card()),
        )?
        .with_flips(segmenter.flips())?
        .with_islands(segmenter.islands());
        self.class_scoring = match self.size {
            Some(size) if segmenter.classes() > 1 && !self.held_out.is_empty() => {
                Some(ClassScoring {
                    start: segmenter.model().clone(),
                    pairs: self.held_out.clone(),
                    size,
                })
            }
            _ => None,
        };
        self.run = Some(run);
        self.clear();
        self.last_trained = None;
        self.finished_scoring = None;
        self.gpu_memory = gpu_memory;
        Ok(())
    }

    /// Does the next unit of work of the run and says what it did; `None` once the run is over
    /// (then [`FineTuning::finish`]).
    pub async fn step(&mut self) -> Result<Option<Event>> {
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| Error::config("no training run has been started"))?;
        let event = run.advance().await;
        if let Some(watch) = &mut self.gpu_memory {
            watch.sample(run.session().pool_peak_bytes());
        }
        event
    }

    /// Ends the run (early when `cancelled`): `segmenter` takes the weights the run chose — the
    /// last epoch's unless others scored clearly better ([`crate::train::HELD_OUT_TOLERANCE`]),
    /// or keeps its own when they did. `None` when no run was in
    /// progress. The report's `class_scores` stay empty: [`FineTuning::score_classes`] fills them
    /// (or [`FineTuning::finish_scored`] does both). On a GPU the buffers the run leaves unused
    /// go back to the driver (the report's `gpu_memory`).
    pub fn finish(&mut self, segmenter: &mut Segmenter, cancelled: bool) -> Option<OutcomeReport> {
        let scoring = self.class_scoring.take();
        let mut outcome = self.run.take()?.finish(cancelled);
        self.last_trained = outcome.last.take();
        let mut report = OutcomeReport::new(&outcome, self.last_trained.is_some());
        let changed = outcome.model.is_some();
        if let Some(model) = outcome.model {
            segmenter.set_model(model);
        }
        // The run's graphs, Adam's state and the weights not kept are dropped by now.
        report.gpu_memory = self.gpu_memory.take().map(GpuMemoryWatch::release);
        // Only once the starting weights were scored: the before/after then compares like with like.
        self.finished_scoring = scoring
            .filter(|_| outcome.before.is_some())
            .map(|s| (s, changed));
        Some(report)
    }

    /// For the run [`FineTuning::finish`] just ended, on a multi-class model judged by held-back
    /// pairs: each foreground class's scores before the run and with the weights `segmenter` now
    /// has (one pass over those pairs for each, one when the run kept the starting weights).
    /// Empty otherwise, and when called a second time.
    pub async fn score_classes(&mut self, segmenter: &Segmenter) -> Result<Vec<ClassChange>> {
        let Some((s, changed)) = self.finished_scoring.take() else {
            return Ok(Vec::new());
        };
        let flips = segmenter.flips();
        let masks = (flips, segmenter.islands());
        let before = mean_class_scores_of(&s.start, &s.pairs, s.size, masks).await?;
        let after = if changed {
            mean_class_scores_of(segmenter.model(), &s.pairs, s.size, masks).await?
        } else {
            before.clone()
        };
        let card = segmenter.card();
        Ok(before
            .into_iter()
            .zip(after)
            .enumerate()
            .map(|(i, (before, after))| {
                let class = card.classes.get(i + 1);
                ClassChange {
                    name: class.map_or_else(|| format!("class {}", i + 1), |c| c.name.clone()),
                    colour: class.map_or_else(|| "#808080".into(), |c| c.colour.clone()),
                    before,
                    after,
                }
            })
            .collect())
    }

    /// [`FineTuning::finish`], then [`FineTuning::score_classes`] into the report. An error comes
    /// only from that scoring, with the chosen weights already in place.
    pub async fn finish_scored(
        &mut self,
        segmenter: &mut Segmenter,
        cancelled: bool,
    ) -> Result<Option<OutcomeReport>> {
        let Some(mut report) = self.finish(segmenter, cancelled) else {
            return Ok(None);
        };
        report.class_scores = self.score_classes(segmenter).await?;
        // Scoring the classes used the pools again: what it left goes back too.
        if let Some(memory) = &mut report.gpu_memory
            && !report.class_scores.is_empty()
            && let Some(now) = segmenter.device().ok().and_then(|d| release_gpu_memory(&d))
        {
            memory.after_release_bytes = now.reserved_bytes;
        }
        Ok(Some(report))
    }

    /// Drops the run, if any, keeping the weights from before it (after a failed step).
    pub fn abandon(&mut self) {
        self.run = None;
        self.class_scoring = None;
        // The failed run's buffers go back to the driver.
        if let Some(watch) = self.gpu_memory.take() {
            watch.release();
        }
    }

    /// After a run that kept other weights, gives `segmenter` the last step's weights instead;
    /// false when there are none to take.
    pub fn use_last_trained(&mut self, segmenter: &mut Segmenter) -> bool {
        match self.last_trained.take() {
            Some(model) => {
                segmenter.set_model(model);
                true
            }
            None => false,
        }
    }

    /// True while a run is in progress.
    pub fn is_training(&self) -> bool {
        self.run.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::SegmenterOptions;
    use crate::backend::cpu_device;
    use crate::weights::ModelCard;
    use pollster::block_on;

    /// A 3-class pair, `side`×`side`: a grey image and a mask with a band of each class (label
    /// values in the red channel).
    fn pair(side: u32, shift: u32) -> (RgbaImage, RgbaImage) {
        let (mut image, mut mask) = (Vec::new(), Vec::new());
        for y in 0..side {
            for x in 0..side {
                let label = match (x + shift) % side {
                    v if v < side / 3 => 0u8,
                    v if v < 2 * side / 3 => 1,
                    _ => 2,
                };
                let grey = 60 + 70 * label + (y % 7) as u8;
                image.extend([grey, grey, grey, 255]);
                mask.extend([label, label, label, 255]);
            }
        }
        (
            RgbaImage::new(side, side, image, "image").unwrap(),
            RgbaImage::new(side, side, mask, "mask").unwrap(),
        )
    }

    fn run(
        segmenter: &mut Segmenter,
        held_out: bool,
        epochs: usize,
    ) -> (OutcomeReport, FineTuning) {
        let mut tuning = FineTuning::default();
        for i in 0..3 {
            let (image, mask) = pair(32, i * 5);
            tuning
                .add_training_pair(segmenter, &format!("t{i}"), &image, &mask, 32)
                .unwrap();
        }
        if held_out {
            for i in 0..2 {
                let (image, mask) = pair(32, 3 + i * 7);
                tuning
                    .add_held_out_pair(segmenter, &format!("h{i}"), &image, &mask, 32)
                    .unwrap();
            }
        }
        let options = TrainOptions {
            epochs: Some(epochs),
            batch_size: Some(3),
            augment: Some(false),
            ..TrainOptions::default()
        };
        tuning.start(segmenter, &options).unwrap();
        while block_on(tuning.step()).unwrap().is_some() {}
        let report = block_on(tuning.finish_scored(segmenter, false))
            .unwrap()
            .expect("no report");
        (report, tuning)
    }

    fn ct_segmenter() -> Segmenter {
        let options = SegmenterOptions::default()
            .with_classes(3)
            .with_input_size(32);
        Segmenter::new(&cpu_device(), None, &options)
            .unwrap()
            .with_card(ModelCard::lung_ct())
            .unwrap()
    }

    #[test]
    fn a_multi_class_run_reports_each_class_before_and_after_by_the_cards_names() {
        let mut segmenter = ct_segmenter();
        let (report, mut tuning) = run(&mut segmenter, true, 2);
        assert_eq!(report.class_scores.len(), 2, "{report:?}");
        assert_eq!(report.class_scores[0].name, "ground-glass opacity");
        assert_eq!(report.class_scores[1].colour, "#e0403a");
        for class in &report.class_scores {
            // Both classes are in every held-back mask, so both are scored before and after.
            let (before, after) = (class.before.unwrap(), class.after.unwrap());
            assert!((0.0..=1.0).contains(&before.dice) && (0.0..=1.0).contains(&after.dice));
            if report.kept == "previous" {
                assert_eq!(before, after);
            }
        }
        // The per-class figures are the same passes as the report's means: their mean is it.
        let chosen = report.chosen.as_ref().unwrap().mean.dice;
        let mean = report
            .class_scores
            .iter()
            .map(|c| c.after.unwrap().dice)
            .sum::<f64>()
            / 2.0;
        assert!((chosen - mean).abs() < 1e-9, "{chosen} vs {mean}");
        // Asked again, there is nothing left to score.
        assert!(
            block_on(tuning.score_classes(&segmenter))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn no_class_scores_without_held_back_pairs_or_for_one_class() {
        let mut segmenter = ct_segmenter();
        let (report, _) = run(&mut segmenter, false, 1);
        assert!(report.class_scores.is_empty());

        let options = SegmenterOptions::default().with_input_size(32);
        let mut binary = Segmenter::new(&cpu_device(), None, &options).unwrap();
        let mut tuning = FineTuning::default();
        let (image, mask) = pair(32, 0);
        let binary_mask = RgbaImage::new(
            32,
            32,
            mask.data
                .iter()
                .map(|&v| if v == 1 || v == 2 { 255 } else { v })
                .collect(),
            "mask",
        )
        .unwrap();
        tuning
            .add_training_pair(&binary, "p0", &image, &binary_mask, 32)
            .unwrap();
        tuning
            .add_held_out_pair(&binary, "p1", &image, &binary_mask, 32)
            .unwrap();
        let options = TrainOptions {
            epochs: Some(1),
            ..TrainOptions::default()
        };
        tuning.start(&binary, &options).unwrap();
        while block_on(tuning.step()).unwrap().is_some() {}
        let report = block_on(tuning.finish_scored(&mut binary, false))
            .unwrap()
            .unwrap();
        assert!(report.before.is_some());
        assert!(report.class_scores.is_empty());
    }
}
