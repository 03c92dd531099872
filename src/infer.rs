//! Inference on whole images: resize in, run the network, resize the result back out.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::data::image::{RgbaImage, image_to_chw, resample};
use crate::error::{Error, Result};
use crate::model::{SIZE_MULTIPLE, TinyUNet};

/// The segmentation of one image at its own size.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Width of the source image.
    pub width: u32,
    /// Height of the source image.
    pub height: u32,
    /// Per pixel: 0/1 for one class (probability ≥ 0.5), else the most probable class index.
    pub mask: Vec<u8>,
    /// Per class and pixel (`[classes, height, width]`): the probability of that class
    /// (sigmoid for one class, softmax otherwise).
    pub probabilities: Vec<f32>,
    /// Number of classes in `probabilities`.
    pub classes: usize,
}

impl Prediction {
    /// Fraction of the image marked as foreground (any class but 0).
    pub fn foreground_fraction(&self) -> f64 {
        self.mask.iter().filter(|&&m| m != 0).count() as f64 / self.mask.len().max(1) as f64
    }

    /// Mean probability of the chosen class over the foreground (1 when there is none): how sure
    /// the model is of what it marked.
    pub fn confidence(&self) -> f64 {
        let plane = self.mask.len();
        let (mut sum, mut count) = (0.0f64, 0usize);
        for (i, &m) in self.mask.iter().enumerate() {
            if m == 0 {
                continue;
            }
            let channel = if self.classes == 1 { 0 } else { m as usize };
            sum += self.probabilities[channel * plane + i] as f64;
            count += 1;
        }
        if count == 0 { 1.0 } else { sum / count as f64 }
    }
}

/// Checks a working size for inference.
pub fn check_input_size(size: usize) -> Result<()> {
    if size == 0 || !size.is_multiple_of(SIZE_MULTIPLE) || size > 1024 {
        return Err(Error::config(format!(
            "input size must be a multiple of {SIZE_MULTIPLE} between 16 and 1024, got {size}"
        )));
    }
    Ok(())
}

/// Segments `images` (each any size) by resizing each to `size×size`, running the network in one
/// batch on `model`'s device, and resizing the probabilities back to each image's own size.
pub async fn segment(
    model: &TinyUNet,
    images: &[RgbaImage],
    size: usize,
) -> Result<Vec<Prediction>> {
    check_input_size(size)?;
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Backend("the model has no device".into()))?;
    let mut input = Vec::with_capacity(images.len() * 3 * size * size);
    for image in images {
        input.extend(image_to_chw(image, size, size));
    }
    let input = Tensor::<4>::from_data(
        TensorData::new(input, [images.len(), 3, size, size]),
        &device,
    );
    let probabilities = probabilities(model, input);
    let data = probabilities
        .into_data_async()
        .await
        .map_err(Error::read_back)?
        .try_into_vec::<f32>()
        .map_err(Error::result_type)?;
    let classes = model.config.classes;
    let per_image = classes * size * size;
    Ok(images
        .iter()
        .zip(data.chunks_exact(per_image))
        .map(|(image, probs)| to_prediction(image, probs, classes, size))
        .collect())
}

/// Class probabilities `[N, C, H, W]` for an input batch (sigmoid for one class, else softmax).
pub fn probabilities(model: &TinyUNet, input: Tensor<4>) -> Tensor<4> {
    let logits = model.forward(input);
    if logits.dims()[1] == 1 {
        sigmoid(logits)
    } else {
        softmax(logits, 1)
    }
}

fn to_prediction(image: &RgbaImage, probs: &[f32], classes: usize, size: usize) -> Prediction {
    let (w, h) = (image.width as usize, image.height as usize);
    let plane = size * size;
    let mut probabilities = Vec::with_capacity(classes * w * h);
    for c in 0..classes {
        probabilities.extend(resample(
            &probs[c * plane..(c + 1) * plane],
            size,
            size,
            w,
            h,
        ));
    }
    let pixels = w * h;
    let mask = if classes == 1 {
        probabilities.iter().map(|&p| (p >= 0.5) as u8).collect()
    } else {
        (0..pixels)
            .map(|i| {
                (0..classes)
                    .max_by(|&a, &b| {
                        probabilities[a * pixels + i].total_cmp(&probabilities[b * pixels + i])
                    })
                    .unwrap_or(0) as u8
            })
            .collect()
    };
    Prediction {
        width: image.width,
        height: image.height,
        mask,
        probabilities,
        classes,
    }
}
