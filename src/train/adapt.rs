//! Re-estimating BatchNorm's running statistics on new images ("AdaBN"): a photo source the
//! model has not seen (another camera, skin, lighting) shifts every layer's activations, and the
//! running statistics are what inference normalises with.

use burn::prelude::*;

use super::batch::batch_tensors;
use crate::data::augment::Example;
use crate::error::{Error, Result};
use crate::model::TinyUNet;

/// The model with every BatchNorm's running mean and variance replaced by their average over
/// `examples`, taken `batch_size` at a time with equal weight per batch (PyTorch's
/// `momentum=None`). Nothing else changes; `model` itself is not touched.
pub fn adapt_batch_norm(
    model: &TinyUNet,
    examples: &[Example],
    batch_size: usize,
) -> Result<TinyUNet> {
    if examples.is_empty() || batch_size == 0 {
        return Err(Error::input(
            "adapting BatchNorm needs at least one example and a batch size of at least 1",
        ));
    }
    // A copy with running statistics of its own (a clone or a same-device move shares them; the
    // round trip through autodiff makes new ones), normalising each batch by its own statistics.
    // The forward passes run without autodiff: on an autodiff device each keeps its graph until a
    // backward that never comes (19 GB after a few re-estimations).
    let mut adapted = model.valid().train().valid().with_frozen_batch_norm(false);
    let device = adapted
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Backend("the model has no device".into()))?;
    for bn in adapted.batch_norms_mut() {
        bn.adapting = true;
    }
    let momentum: Vec<f64> = adapted.batch_norms_mut().map(|bn| bn.momentum).collect();
    for (k, batch) in examples.chunks(batch_size).enumerate() {
        let weight = 1.0 / (k + 1) as f64;
        for bn in adapted.batch_norms_mut() {
            bn.momentum = weight;
        }
        let (images, _) = batch_tensors(batch, 1, &device);
        let _ = adapted.forward(images);
    }
    for (bn, m) in adapted.batch_norms_mut().zip(momentum) {
        bn.momentum = m;
        bn.adapting = false;
        // An update waits until the next read syncs it; inference reads without syncing.
        bn.running_mean.value_sync();
        bn.running_var.value_sync();
    }
    Ok(adapted)
}
