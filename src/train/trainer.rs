//! One optimisation step at a time: forward in training mode, loss, backward, Adam, cosine LR.

use std::collections::HashMap;

use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::error::{Error, Result};
use crate::loss::segmentation_loss;
use crate::model::TinyUNet;
use crate::schedule::CosineSchedule;

/// Adam exactly as PyTorch's defaults (the paper's optimiser).
fn pytorch_adam() -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init()
}

/// What one step produced; values stay on the device until someone reads them.
pub struct StepOutput {
    /// The loss of the batch before the update.
    pub loss: Tensor<1>,
    /// Mean soft Dice of the batch before the update.
    pub soft_dice: Tensor<1>,
    /// Learning rate used for this step.
    pub learning_rate: f64,
}

impl StepOutput {
    /// Reads the loss and the soft Dice back to the host in one transfer (one GPU map, not two).
    pub async fn read(&self) -> Result<(f64, f64)> {
        let both = Tensor::cat(vec![self.loss.clone(), self.soft_dice.clone()], 0);
        let data = both.into_data_async().await.map_err(Error::read_back)?;
        let values = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(Error::result_type)?;
        match values[..] {
            [loss, dice] => Ok((loss as f64, dice as f64)),
            _ => Err(Error::Backend(format!(
                "expected the loss and the Dice, read {} values",
                values.len()
            ))),
        }
    }
}

/// Owns a model on an autodiff device plus the optimiser state.
pub struct Trainer {
    model: TinyUNet,
    optimizer: ModuleOptimizer,
    schedule: CosineSchedule,
    steps_done: usize,
    anchor: Option<Anchor>,
}

/// The pull towards the weights a run started from (L2-SP, Li et al. 2018): a fine-tune on a
/// few photos then adapts without drifting far from what the weights already knew.
struct Anchor {
    strength: f64,
    /// Each trainable parameter's starting value, flattened, by parameter id.
    start: HashMap<ParamId, Tensor<1>>,
}

impl Anchor {
    fn new(model: &TinyUNet, strength: f64) -> Self {
        struct Collect(HashMap<ParamId, Tensor<1>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.insert(param.id, param.val().inner().reshape([-1]));
            }
        }
        let mut collect = Collect(HashMap::new());
        model.visit(&mut collect);
        Self {
            strength,
            start: collect.0,
        }
    }

    /// Adds `strength · (w − w₀)` to the gradient of every parameter that has one.
    fn pull(&self, model: &TinyUNet, grads: &mut GradientsParams) {
        struct Pull<'a> {
            anchor: &'a Anchor,
            grads: &'a mut GradientsParams,
        }
        impl ModuleVisitor for Pull<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let Some(start) = self.anchor.start.get(&param.id) else {
                    return;
                };
                let Some(grad) = self.grads.remove::<D>(param.id) else {
                    return;
                };
                let weight = param.val().inner();
                let start = start.clone().reshape(weight.shape());
                let pulled = grad + (weight - start).mul_scalar(self.anchor.strength);
                self.grads.register(param.id, pulled);
            }
        }
        model.visit(&mut Pull {
            anchor: self,
            grads,
        });
    }
}

impl Trainer {
    /// Starts training from `model` (any device; a training copy is made, `model` is not changed).
    pub fn new(model: &TinyUNet, schedule: CosineSchedule) -> Result<Self> {
        if !(schedule.initial > 0.0 && schedule.initial <= 1.0) {
            return Err(Error::config(format!(
                "learning rate must be in (0, 1], got {}",
                schedule.initial
            )));
        }
        if !(schedule.minimum >= 0.0 && schedule.minimum <= schedule.initial) {
            return Err(Error::config(format!(
                "final learning rate must be in [0, {}], got {}",
                schedule.initial, schedule.minimum
            )));
        }
        Ok(Self {
            model: model.valid().train(),
            optimizer: pytorch_adam(),
            schedule,
            steps_done: 0,
            anchor: None,
        })
    }

    /// Pulls every weight towards its value now with `strength` (see [`Anchor`]); 0: no pull.
    pub fn with_anchor(mut self, strength: f64) -> Self {
        self.anchor = (strength > 0.0).then(|| Anchor::new(&self.model, strength));
        self
    }

    /// Continues a run: `steps_done` steps of `schedule` already happened and `optimizer` holds
    /// the Adam state saved by [`Trainer::optimizer_state`] (from a model with the same
    /// parameter ids, which [`crate::TinyUNetConfig::init`] guarantees).
    pub fn resume(
        model: &TinyUNet,
        schedule: CosineSchedule,
        steps_done: usize,
        optimizer: &[u8],
    ) -> Result<Self> {
        let mut trainer = Self::new(model, schedule)?;
        let bytes = burn::tensor::Bytes::from_bytes_vec(optimizer.to_vec());
        trainer.optimizer = pytorch_adam()
            .from_bytes(bytes)
            .map_err(|e| Error::weights(format!("the optimiser state cannot be read: {e:?}")))?;
        trainer.steps_done = steps_done;
        Ok(trainer)
    }

    /// The Adam moments, serialised, for resuming later.
    pub fn optimizer_state(&self) -> Result<Vec<u8>> {
        self.optimizer
            .into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| Error::Backend(format!("saving the optimiser state failed: {e:?}")))
    }

    /// The device the training model lives on (an autodiff device).
    pub fn device(&self) -> Device {
        self.model
            .devices()
            .into_iter()
            .next()
            .unwrap_or_else(|| Device::default().autodiff())
    }

    /// Optimiser steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// One step on `images` `[N, C, H, W]` and `targets` `[N, classes, H, W]`. Shapes must
    /// already be checked. Nothing is read back from the device.
    pub fn step(&mut self, images: Tensor<4>, targets: Tensor<4>) -> StepOutput {
        let device = self.device();
        let images = images.to_device(&device);
        let targets = targets.to_device(&device);
        let logits = self.model.forward(images);
        let parts = segmentation_loss(logits, targets);
        let mut grads = GradientsParams::from_grads(parts.total.backward(), &self.model);
        if let Some(anchor) = &self.anchor {
            anchor.pull(&self.model, &mut grads);
        }
        let learning_rate = self.schedule.lr(self.steps_done);
        let mut model = self
            .optimizer
            .step(learning_rate, self.model.clone(), grads);
        model.num_batches_tracked += 1;
        self.model = model;
        self.steps_done += 1;
        StepOutput {
            loss: parts.total.detach(),
            soft_dice: parts.soft_dice,
            learning_rate,
        }
    }

    /// A snapshot of the current weights for inference (running statistics, no autodiff, no
    /// frozen BatchNorm left behind for a later run).
    pub fn model(&self) -> TinyUNet {
        self.model.valid().with_frozen_batch_norm(false)
    }
}

/// The loss of one train-mode forward pass and the gradient of every trainable parameter, by its
/// reference name — what the PyTorch fixtures record. The model is not changed (its running
/// statistics are updated on a private copy).
pub fn loss_and_gradients(
    model: &TinyUNet,
    images: Tensor<4>,
    targets: Tensor<4>,
) -> (Tensor<1>, Vec<(String, Tensor<1>)>) {
    let model = model.valid().train();
    let device = model
        .devices()
        .into_iter()
        .next()
        .unwrap_or_else(|| Device::default().autodiff());
    let logits = model.forward(images.to_device(&device));
    let loss = segmentation_loss(logits, targets.to_device(&device)).total;
    let grads = GradientsParams::from_grads(loss.backward(), &model);

    struct Named<'a> {
        path: Vec<String>,
        grads: &'a GradientsParams,
        out: Vec<(String, Tensor<1>)>,
    }
    impl ModuleVisitor for Named<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                self.out.push((self.path.join("."), grad.reshape([-1])));
            }
        }
    }
    let mut named = Named {
        path: Vec::new(),
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut named);
    (loss.detach().inner(), named.out)
}
