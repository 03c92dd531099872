//! Examples stacked into the tensors a training step or a statistics pass takes.

use burn::prelude::*;

use crate::data::augment::Example;

/// Stacks examples into images `[N, 3, S, S]` and targets `[N, C, S, S]` (0/1 masks for one class,
/// one-hot for several).
pub fn batch_tensors(batch: &[Example], classes: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
    let n = batch.len();
    let size = batch.first().map_or(0, |e| e.size);
    let plane = size * size;
    let mut images = Vec::with_capacity(n * 3 * plane);
    let mut targets = Vec::with_capacity(n * classes * plane);
    for example in batch {
        images.extend_from_slice(&example.image);
        if classes == 1 {
            targets.extend(example.mask.iter().map(|&m| (m != 0) as u8 as f32));
        } else {
            for class in 0..classes {
                targets.extend(
                    example
                        .mask
                        .iter()
                        .map(|&m| (m as usize == class) as u8 as f32),
                );
            }
        }
    }
    let images = Tensor::from_data(TensorData::new(images, [n, 3, size, size]), device);
    let targets = Tensor::from_data(TensorData::new(targets, [n, classes, size, size]), device);
    (images, targets)
}
