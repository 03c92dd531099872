//! Fine-tuning through the wasm surface: training pairs and held-back pairs are added one by one,
//! then the run ([`FineTune`]) is advanced one unit of work per call — a training step, or one
//! held-back pair scored — so that JavaScript can report progress and cancel between any two.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::js_error;
use super::segmenter::WasmSegmenter;
use crate::data::image::RgbaImage;
use crate::infer::check_input_size;
use crate::train::{
    EpochRecord, Evaluation, FineTune, HeldOut, MIN_RELIABLE_HELD_OUT, SessionConfig, Stop,
};

/// Settings of a run as JavaScript passes them; what is left out takes the core's default
/// ([`SessionConfig::default`]).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct TrainOptions {
    epochs: Option<usize>,
    batch_size: Option<usize>,
    learning_rate: Option<f64>,
    min_learning_rate: Option<f64>,
    augment: Option<bool>,
    seed: Option<u64>,
    freeze_batch_norm: Option<bool>,
    adapt_batch_norm: Option<bool>,
    recalibrate_batch_norm: Option<bool>,
}

impl TrainOptions {
    fn config(self) -> SessionConfig {
        let d = SessionConfig::default();
        SessionConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            min_learning_rate: self.min_learning_rate.unwrap_or(
                d.min_learning_rate
                    .min(self.learning_rate.unwrap_or(f64::MAX)),
            ),
            augment: self.augment.unwrap_or(d.augment),
            seed: self.seed.unwrap_or(d.seed),
            freeze_batch_norm: self.freeze_batch_norm.unwrap_or(d.freeze_batch_norm),
            adapt_batch_norm: self.adapt_batch_norm.unwrap_or(d.adapt_batch_norm),
            recalibrate_batch_norm: self
                .recalibrate_batch_norm
                .unwrap_or(d.recalibrate_batch_norm),
        }
    }
}

/// The defaults JavaScript shows and falls back to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TrainDefaults {
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    min_learning_rate: f64,
    augment: bool,
    freeze_batch_norm: bool,
    adapt_batch_norm: bool,
    recalibrate_batch_norm: bool,
    min_reliable_held_out: usize,
}

/// How a run ended and which weights the segmenter now has.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeReport {
    /// `"completed"`, `"cancelled"` or `"diverged"`.
    stop: &'static str,
    /// For `"diverged"`: the step whose loss was not finite.
    diverged_at_step: Option<usize>,
    /// The weights in use now: `"best"` (the best-scoring epoch), `"previous"` (no epoch beat
    /// the starting weights, or no step finished) or `"last"` (nothing held back to judge by).
    kept: &'static str,
    chosen_epoch: usize,
    improved: Option<bool>,
    reliable: bool,
    held_out: Vec<String>,
    before: Option<Evaluation>,
    chosen: Option<Evaluation>,
    epochs: Vec<EpochRecord>,
    steps_done: usize,
    total_steps: usize,
    /// True when the last step's weights differ from those kept and can be taken instead.
    last_available: bool,
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("backend: a result could not be handed over: {e}")))
}

#[wasm_bindgen]
impl WasmSegmenter {
    /// The training defaults of the core, and the fewest held-back pairs whose Dice means much.
    #[wasm_bindgen(js_name = trainingDefaults)]
    pub fn training_defaults() -> Result<JsValue, JsError> {
        let d = SessionConfig::default();
        to_js(&TrainDefaults {
            epochs: d.epochs,
            batch_size: d.batch_size,
            learning_rate: d.learning_rate,
            min_learning_rate: d.min_learning_rate,
            augment: d.augment,
            freeze_batch_norm: d.freeze_batch_norm,
            adapt_batch_norm: d.adapt_batch_norm,
            recalibrate_batch_norm: d.recalibrate_batch_norm,
            min_reliable_held_out: MIN_RELIABLE_HELD_OUT,
        })
    }

    /// Adds an image and its mask (RGBA each, same size) to the next run, resized to `size`;
    /// `held_out` keeps it out of training to judge the run by. `name` labels the pair in errors.
    #[allow(clippy::too_many_arguments)] // one flat call across the wasm boundary
    #[wasm_bindgen(js_name = addTrainingSample)]
    pub fn add_training_sample(
        &mut self,
        name: &str,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        mask_rgba: Vec<u8>,
        mask_width: u32,
        mask_height: u32,
        size: u32,
        held_out: bool,
    ) -> Result<(), JsError> {
        let size = size as usize;
        check_input_size(size).map_err(js_error)?;
        if let Some(first) = self.pending_size
            && first != size
        {
            return Err(JsError::new(&format!(
                "config: all samples of a run must use one size ({first}), got {size}"
            )));
        }
        let image = RgbaImage::new(width, height, rgba, name).map_err(js_error)?;
        let mask = RgbaImage::new(
            mask_width,
            mask_height,
            mask_rgba,
            &format!("{name} (mask)"),
        )
        .map_err(js_error)?;
        if held_out {
            let pair =
                HeldOut::new(name, &image, &mask, size, self.mask_kind()).map_err(js_error)?;
            self.pending_held_out.push(pair);
        } else {
            let example = self.example(image, mask, size, name).map_err(js_error)?;
            self.pending.push(example);
        }
        self.pending_size = Some(size);
        Ok(())
    }

    /// Training samples waiting for the next run.
    #[wasm_bindgen(js_name = pendingSamples)]
    pub fn pending_samples(&self) -> u32 {
        self.pending.len() as u32
    }

    /// Drops the samples added so far.
    #[wasm_bindgen(js_name = clearTrainingSamples)]
    pub fn clear_training_samples(&mut self) {
        self.pending.clear();
        self.pending_held_out.clear();
        self.pending_size = None;
    }

    /// Starts a run over the added samples (they are consumed). `options` is an object of
    /// `TrainOptions` (camelCase); unknown keys are refused.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(&mut self, options: JsValue) -> Result<(), JsError> {
        if self.run.is_some() {
            return Err(JsError::new(
                "config: a training run is already in progress",
            ));
        }
        let options: TrainOptions = if options.is_undefined() || options.is_null() {
            TrainOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| JsError::new(&format!("config: training options: {e}")))?
        };
        let examples = std::mem::take(&mut self.pending);
        let held_out = std::mem::take(&mut self.pending_held_out);
        let run = FineTune::new(
            &self.model,
            examples.clone(),
            held_out.clone(),
            options.config(),
        )
        .and_then(|run| run.with_flips(self.flips));
        match run {
            Ok(run) => {
                self.run = Some(run);
                self.pending_size = None;
                self.last_trained = None;
                Ok(())
            }
            Err(e) => {
                // Keep the samples so the caller can fix the settings and retry.
                self.pending = examples;
                self.pending_held_out = held_out;
                Err(js_error(e))
            }
        }
    }

    /// Does the next unit of work of the current run and says what it did (an `Event`, with a
    /// `kind`: `scored`, `trained` or `epochEnded`); `null` once the run is over (then call
    /// `finishTraining`).
    #[wasm_bindgen(js_name = trainStep)]
    pub async fn train_step(&mut self) -> Result<JsValue, JsError> {
        let run = self
            .run
            .as_mut()
            .ok_or_else(|| JsError::new("config: no training run has been started"))?;
        match run.advance().await.map_err(js_error)? {
            Some(event) => to_js(&event),
            None => Ok(JsValue::NULL),
        }
    }

    /// Ends the run (early when `cancelled`): the segmenter takes the weights the run chose —
    /// the best-scoring epoch's, or keeps its own when no epoch beat them — and the report says
    /// which and why. `null` when no run was in progress.
    #[wasm_bindgen(js_name = finishTraining)]
    pub fn finish_training(&mut self, cancelled: bool) -> Result<JsValue, JsError> {
        let Some(run) = self.run.take() else {
            return Ok(JsValue::NULL);
        };
        let outcome = run.finish(cancelled);
        let reliable = outcome.reliable();
        let improved = outcome.improved();
        let (stop, diverged_at_step) = match outcome.stop {
            Stop::Completed => ("completed", None),
            Stop::Cancelled => ("cancelled", None),
            Stop::Diverged { step, .. } => ("diverged", Some(step)),
        };
        let kept = match (&outcome.model, outcome.held_out.is_empty()) {
            (None, _) => "previous",
            (Some(_), true) => "last",
            (Some(_), false) => "best",
        };
        if let Some(model) = outcome.model {
            self.model = model;
        }
        self.last_trained = outcome.last;
        to_js(&OutcomeReport {
            stop,
            diverged_at_step,
            kept,
            chosen_epoch: outcome.chosen_epoch,
            improved,
            reliable,
            held_out: outcome.held_out,
            before: outcome.before,
            chosen: outcome.chosen,
            epochs: outcome.epochs,
            steps_done: outcome.steps_done,
            total_steps: outcome.total_steps,
            last_available: self.last_trained.is_some(),
        })
    }

    /// Drops the current run, if any, keeping the weights from before it (after a failed step).
    #[wasm_bindgen(js_name = abandonTraining)]
    pub fn abandon_training(&mut self) {
        self.run = None;
    }

    /// After a run that kept other weights (the best epoch's, or the previous ones), takes the
    /// last step's weights instead; false when there are none to take.
    #[wasm_bindgen(js_name = useLastTrainedWeights)]
    pub fn use_last_trained_weights(&mut self) -> bool {
        match self.last_trained.take() {
            Some(model) => {
                self.model = model;
                true
            }
            None => false,
        }
    }

    /// True while a run is in progress.
    #[wasm_bindgen(getter, js_name = isTraining)]
    pub fn is_training(&self) -> bool {
        self.run.is_some()
    }
}
