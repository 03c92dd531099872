//! One optimisation step at a time: forward in training mode, loss, backward, Adam, cosine LR.
//!
//! A step may run its batch as several micro-batches whose gradients are summed before the one
//! Adam update ([`Trainer::with_micro_batch`]): the memory a step needs is then that of one
//! micro-batch's autodiff graph (its saved activations), not the whole batch's. The loss is a
//! mean of per-image terms (`crate::loss`), so the batch's gradient is the images-weighted mean
//! of the micro-batches' — exactly, as long as the forward of one image does not depend on the
//! others, i.e. BatchNorm normalises with its running statistics (frozen). With batch
//! statistics a micro-batch would be normalised by its own, a different network: the batch then
//! runs whole.

use std::collections::HashMap;

use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::adam::pytorch_adam;
use super::compact::compact_gradients;
use crate::error::{Error, Result};
use crate::gpu_memory::PassPools;
use crate::loss::{LossParts, segmentation_loss};
use crate::model::TinyUNet;
use crate::schedule::CosineSchedule;

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
    /// Most images per forward/backward pass within a step (see [`Trainer::with_micro_batch`]).
    micro_batch: usize,
    /// Whether the training forward normalises with each batch's BatchNorm statistics, which
    /// ties the images of a batch together (then no micro-batches).
    batch_statistics: bool,
    /// On a GPU, its buffer pools, emptied after every pass.
    pools: Option<PassPools>,
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
        let mut model = model.valid().train();
        let device = model.devices().into_iter().next();
        let batch_statistics = model
            .batch_norms_mut()
            .any(|bn| device.as_ref().is_none_or(|d| bn.uses_batch_stats(d)));
        let pools = device.as_ref().and_then(PassPools::new);
        Ok(Self {
            model,
            optimizer: pytorch_adam(),
            schedule,
            steps_done: 0,
            anchor: None,
            micro_batch: usize::MAX,
            batch_statistics,
            pools,
        })
    }

    /// Runs each step's batch as passes of at most `images` images (at least 1) and sums their
    /// gradients, each weighted by its share of the batch, before the one optimiser step: the
    /// same update as the whole batch (to rounding), for the memory of `images` images. Only
    /// when BatchNorm does not use the batch's statistics ([`Trainer::micro_batch`]); otherwise
    /// batches run whole. Default: whole batches.
    pub fn with_micro_batch(mut self, images: usize) -> Self {
        self.micro_batch = images.max(1);
        self
    }

    /// Most images a step puts through one forward/backward pass: the micro-batch size, or
    /// `usize::MAX` (whole batches) when BatchNorm normalises with each batch's statistics.
    pub fn micro_batch(&self) -> usize {
        if self.batch_statistics {
            usize::MAX
        } else {
            self.micro_batch
        }
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

    /// On a GPU, the most its buffer pools held at the end of any pass of this trainer's steps
    /// (before they were released: `gpu_memory::PassPools`); `None` on the CPU.
    pub fn pool_peak_bytes(&self) -> Option<u64> {
        self.pools.as_ref().map(PassPools::peak_bytes)
    }

    /// One step on `images` `[N, C, H, W]` and `targets` `[N, classes, H, W]`. Shapes must
    /// already be checked. Nothing is read back from the device. The batch runs in passes of at
    /// most [`Trainer::micro_batch`] images; the loss and Dice reported are the whole batch's.
    pub fn step(&mut self, images: Tensor<4>, targets: Tensor<4>) -> StepOutput {
        let micro = self.micro_batch();
        let (parts, mut grads) =
            batch_gradients(&self.model, micro, images, targets, &mut self.pools);
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
        // The update's temporaries and the weights and moments it replaced are gone.
        if let Some(pools) = &mut self.pools {
            pools.after_pass();
        }
        StepOutput {
            loss: parts.total,
            soft_dice: parts.soft_dice,
            learning_rate,
        }
    }

    /// The gradient of every trainable parameter, by its reference name, that the next
    /// [`Trainer::step`] on this batch would apply (micro-batches summed; before the pull
    /// towards the starting weights), and the batch's loss. The model is not changed (its
    /// running statistics are updated on a private copy when it uses the batch's).
    pub fn gradients(
        &self,
        images: Tensor<4>,
        targets: Tensor<4>,
    ) -> (Tensor<1>, Vec<(String, Tensor<1>)>) {
        let model = self.model.valid().train();
        let (parts, grads) =
            batch_gradients(&model, self.micro_batch(), images, targets, &mut None);
        (parts.total.inner(), named_gradients(&model, &grads))
    }

    /// A snapshot of the current weights for inference (running statistics, no autodiff, no
    /// frozen BatchNorm left behind for a later run).
    pub fn model(&self) -> TinyUNet {
        self.model.valid().with_frozen_batch_norm(false)
    }
}

/// The loss parts (detached) and gradients of `model` (on an autodiff device) on a batch, in
/// passes of at most `micro` images; on a GPU, `pools` are emptied after each pass
/// ([`compact_gradients`]).
fn batch_gradients(
    model: &TinyUNet,
    micro: usize,
    images: Tensor<4>,
    targets: Tensor<4>,
    pools: &mut Option<PassPools>,
) -> (LossParts, GradientsParams) {
    // After each pass on a GPU: the pools emptied and the gradients in buffers of their own size.
    let mut after_pass = |grads: GradientsParams| match pools {
        Some(pools) => compact_gradients(model, grads, pools),
        None => grads,
    };
    let device = model
        .devices()
        .into_iter()
        .next()
        .unwrap_or_else(|| Device::default().autodiff());
    let n = images.dims()[0];
    if micro >= n {
        let logits = model.forward(images.to_device(&device));
        let parts = segmentation_loss(logits, targets.to_device(&device));
        let grads = GradientsParams::from_grads(parts.total.backward(), model);
        let parts = LossParts {
            total: parts.total.detach(),
            soft_dice: parts.soft_dice,
        };
        return (parts, after_pass(grads));
    }
    let mut sum: Option<GradientsParams> = None;
    let mut total: Option<LossParts> = None;
    for start in (0..n).step_by(micro) {
        let len = micro.min(n - start);
        // The batch's loss is the mean of its images' (a mean over images of per-image
        // terms), so each pass counts by its share of the images.
        let share = len as f64 / n as f64;
        let images = images.clone().narrow(0, start, len).to_device(&device);
        let targets = targets.clone().narrow(0, start, len).to_device(&device);
        let parts = segmentation_loss(model.forward(images), targets);
        // Scaling the loss scales every gradient by the same factor (exactly, for the
        // powers of two of even splits) without another pass over the gradients.
        let weighted = parts.total.mul_scalar(share);
        let grads = GradientsParams::from_grads(weighted.backward(), model);
        let grads = match sum.take() {
            None => grads,
            Some(sum) => add_gradients(model, sum, grads),
        };
        let part = LossParts {
            total: weighted.detach(),
            soft_dice: parts.soft_dice.mul_scalar(share),
        };
        // The backward consumed this pass's graph and what is kept of it is detached: nothing
        // holds its saved activations when the next pass allocates its own.
        total = Some(match total {
            None => part,
            Some(sum) => LossParts {
                total: sum.total + part.total,
                soft_dice: sum.soft_dice + part.soft_dice,
            },
        });
        sum = Some(after_pass(grads));
    }
    let parts = total.expect("n > micro ≥ 1: at least one pass ran");
    (parts, sum.expect("at least one pass ran"))
}

/// `sum + grads`, parameter by parameter, in `sum` (a parameter with a gradient in only one of
/// them keeps it).
fn add_gradients(
    model: &TinyUNet,
    mut sum: GradientsParams,
    mut grads: GradientsParams,
) -> GradientsParams {
    struct Add<'a> {
        sum: &'a mut GradientsParams,
        grads: &'a mut GradientsParams,
    }
    impl ModuleVisitor for Add<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.remove::<D>(param.id) {
                let total = match self.sum.remove::<D>(param.id) {
                    Some(before) => before + grad,
                    None => grad,
                };
                self.sum.register(param.id, total);
            }
        }
    }
    model.visit(&mut Add {
        sum: &mut sum,
        grads: &mut grads,
    });
    sum
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
    let (parts, grads) = batch_gradients(&model, usize::MAX, images, targets, &mut None);
    (parts.total.inner(), named_gradients(&model, &grads))
}

/// Each trainable parameter's gradient in `grads`, flattened, by its reference name.
fn named_gradients(model: &TinyUNet, grads: &GradientsParams) -> Vec<(String, Tensor<1>)> {
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
        grads,
        out: Vec::new(),
    };
    model.visit(&mut named);
    named.out
}
