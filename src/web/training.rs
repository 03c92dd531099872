//! Training through the wasm surface: samples are added one by one, then the run is advanced one
//! step per call so that JavaScript can report progress and cancel between steps.

use wasm_bindgen::prelude::*;

use super::js_error;
use super::segmenter::WasmSegmenter;
use crate::data::image::RgbaImage;
use crate::infer::check_input_size;
use crate::train::{SessionConfig, TrainingSession};

/// What one training step reports.
#[wasm_bindgen]
pub struct TrainProgress {
    /// 0-based epoch of the step.
    pub epoch: u32,
    /// 0-based step within the epoch.
    pub step: u32,
    /// Steps per epoch.
    #[wasm_bindgen(js_name = stepsPerEpoch)]
    pub steps_per_epoch: u32,
    /// Steps done in the run so far.
    #[wasm_bindgen(js_name = stepsDone)]
    pub steps_done: u32,
    /// Steps the run will take.
    #[wasm_bindgen(js_name = totalSteps)]
    pub total_steps: u32,
    /// Loss of the batch.
    pub loss: f64,
    /// Mean soft Dice of the batch.
    pub dice: f64,
    /// Learning rate of the step.
    #[wasm_bindgen(js_name = learningRate)]
    pub learning_rate: f64,
    /// True after the last step of the run.
    pub done: bool,
}

#[wasm_bindgen]
impl WasmSegmenter {
    /// Adds an image and its mask (RGBA each, same size) to the next training run, resized to
    /// `size`. `name` labels the pair in error messages.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<(), JsError> {
        check_input_size(size as usize).map_err(js_error)?;
        let image = RgbaImage::new(width, height, rgba, name).map_err(js_error)?;
        let mask = RgbaImage::new(
            mask_width,
            mask_height,
            mask_rgba,
            &format!("{name} (mask)"),
        )
        .map_err(js_error)?;
        if let Some(first) = self.pending.first()
            && first.size != size as usize
        {
            return Err(JsError::new(&format!(
                "config: all samples of a run must use one size ({}), got {size}",
                first.size
            )));
        }
        let example = self
            .example(image, mask, size as usize, name)
            .map_err(js_error)?;
        self.pending.push(example);
        Ok(())
    }

    /// Samples waiting for the next run.
    #[wasm_bindgen(js_name = pendingSamples)]
    pub fn pending_samples(&self) -> u32 {
        self.pending.len() as u32
    }

    /// Drops the samples added so far.
    #[wasm_bindgen(js_name = clearTrainingSamples)]
    pub fn clear_training_samples(&mut self) {
        self.pending.clear();
    }

    /// Starts a run over the added samples (they are consumed).
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(
        &mut self,
        epochs: u32,
        batch_size: u32,
        learning_rate: f64,
        min_learning_rate: f64,
        augment: bool,
        seed: u32,
    ) -> Result<(), JsError> {
        if self.session.is_some() {
            return Err(JsError::new(
                "config: a training run is already in progress",
            ));
        }
        let config = SessionConfig {
            epochs: epochs as usize,
            batch_size: batch_size as usize,
            learning_rate,
            min_learning_rate,
            augment,
            seed: seed as u64,
        };
        let examples = std::mem::take(&mut self.pending);
        match TrainingSession::new(&self.model, examples.clone(), config) {
            Ok(session) => {
                self.session = Some(session);
                Ok(())
            }
            Err(e) => {
                // Keep the samples so the caller can fix the settings and retry.
                self.pending = examples;
                Err(js_error(e))
            }
        }
    }

    /// Runs one step of the current run and reads its loss and Dice back.
    #[wasm_bindgen(js_name = trainStep)]
    pub async fn train_step(&mut self) -> Result<TrainProgress, JsError> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| JsError::new("config: no training run has been started"))?;
        let steps_per_epoch = session.steps_per_epoch() as u32;
        let step = session
            .step()
            .ok_or_else(|| JsError::new("config: the training run is already complete"))?;
        let (loss, dice) = step.output.read().await.map_err(js_error)?;
        Ok(TrainProgress {
            epoch: step.epoch as u32,
            step: step.step_in_epoch as u32,
            steps_per_epoch,
            steps_done: step.steps_done as u32,
            total_steps: step.total_steps as u32,
            loss,
            dice,
            learning_rate: step.output.learning_rate,
            done: step.steps_done >= step.total_steps,
        })
    }

    /// Ends the run. With `keep`, the segmenter takes the weights of the last finished step;
    /// without, the run is discarded and the weights are those from before it.
    #[wasm_bindgen(js_name = finishTraining)]
    pub fn finish_training(&mut self, keep: bool) -> bool {
        match self.session.take() {
            Some(session) if keep => {
                self.model = session.model();
                true
            }
            _ => false,
        }
    }

    /// True while a run is in progress.
    #[wasm_bindgen(getter, js_name = isTraining)]
    pub fn is_training(&self) -> bool {
        self.session.is_some()
    }
}
