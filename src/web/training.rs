//! Fine-tuning through the wasm surface: pairs are added one by one, then the core's
//! [`crate::app::FineTuning`] run advances one unit of work per call, so that JavaScript can
//! report progress and cancel between any two.

use wasm_bindgen::prelude::*;

use super::compute;
use super::convert::{js_error, options, rgba_image, to_js};
use super::segmenter::WasmSegmenter;
use crate::app::{TrainDefaults, TrainOptions};

#[wasm_bindgen]
impl WasmSegmenter {
    /// The training defaults for this model (the core's, with its card's learning rate), and
    /// the fewest held-back pairs whose Dice means much.
    #[wasm_bindgen(js_name = trainingDefaults)]
    pub fn training_defaults(&self) -> Result<JsValue, JsValue> {
        to_js(&TrainDefaults::for_model(self.core.card())).map_err(js_error)
    }

    /// Adds a `{ data, width, height }` image and its mask (same size) to the next run, resized
    /// to `size`; `held_out` keeps it out of training to judge the run by. `name` labels the
    /// pair in errors.
    #[wasm_bindgen(js_name = addTrainingSample)]
    pub fn add_training_sample(
        &mut self,
        name: &str,
        image: JsValue,
        mask: JsValue,
        size: u32,
        held_out: bool,
    ) -> Result<(), JsValue> {
        let image = rgba_image(&image, name).map_err(js_error)?;
        let mask = rgba_image(&mask, &format!("{name} (mask)")).map_err(js_error)?;
        let size = size as usize;
        let added = if held_out {
            self.tuning
                .add_held_out_pair(&self.core, name, &image, &mask, size)
        } else {
            self.tuning
                .add_training_pair(&self.core, name, &image, &mask, size)
        };
        added.map_err(js_error)
    }

    /// Training samples waiting for the next run.
    #[wasm_bindgen(js_name = pendingSamples)]
    pub fn pending_samples(&self) -> u32 {
        self.tuning.pending() as u32
    }

    /// Drops the samples added so far.
    #[wasm_bindgen(js_name = clearTrainingSamples)]
    pub fn clear_training_samples(&mut self) {
        self.tuning.clear();
    }

    /// Starts a run over the added samples (they are consumed). `options` is a `TrainOptions`
    /// object (camelCase); unknown keys are refused.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(&mut self, settings: JsValue) -> Result<(), JsValue> {
        let settings: TrainOptions = options(settings, "training options").map_err(js_error)?;
        self.tuning.start(&self.core, &settings).map_err(js_error)
    }

    /// Does the next unit of work of the current run and says what it did (an `Event`, with a
    /// `kind`: `scored`, `trained` or `epochEnded`); `null` once the run is over (then call
    /// `finishTraining`).
    #[wasm_bindgen(js_name = trainStep)]
    pub async fn train_step(&mut self) -> Result<JsValue, JsValue> {
        match compute(self.tuning.step()).await.map_err(js_error)? {
            Some(event) => to_js(&event).map_err(js_error),
            None => Ok(JsValue::NULL),
        }
    }

    /// Ends the run (early when `cancelled`): the segmenter takes the weights the run chose —
    /// the last epoch's unless others scored clearly better (see `train::HELD_OUT_TOLERANCE`),
    /// or keeps its own when they did — and the report says
    /// which and why; for a multi-class model with held-back pairs, `classScores` has each
    /// class's scores before and after (two more passes over those pairs). `null` when no run
    /// was in progress.
    #[wasm_bindgen(js_name = finishTraining)]
    pub async fn finish_training(&mut self, cancelled: bool) -> Result<JsValue, JsValue> {
        let finished = compute(self.tuning.finish_scored(&mut self.core, cancelled))
            .await
            .map_err(js_error)?;
        match finished {
            Some(report) => to_js(&report).map_err(js_error),
            None => Ok(JsValue::NULL),
        }
    }

    /// Drops the current run, if any, keeping the weights from before it (after a failed step).
    #[wasm_bindgen(js_name = abandonTraining)]
    pub fn abandon_training(&mut self) {
        self.tuning.abandon();
    }

    /// After a run that kept other weights (an earlier epoch's, or the previous ones), takes the
    /// last step's weights instead; false when there are none to take.
    #[wasm_bindgen(js_name = useLastTrainedWeights)]
    pub fn use_last_trained_weights(&mut self) -> bool {
        self.tuning.use_last_trained(&mut self.core)
    }

    /// True while a run is in progress.
    #[wasm_bindgen(getter, js_name = isTraining)]
    pub fn is_training(&self) -> bool {
        self.tuning.is_training()
    }
}
