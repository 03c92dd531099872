//! Inference on whole images: resize in, run the network, resize the result back out.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::data::image::{RgbaImage, image_to_chw, resample};
use crate::domain::{OutOfDomain, out_of_domain_for};
use crate::doubt::mirror;
use crate::error::{Error, Result};
use crate::limits::FLIPS;
pub use crate::limits::check_input_size;
use crate::model::TinyUNet;
use crate::weights::ImageKind;

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
    /// Set when the image is not the kind the model was made for (a greyscale CT slice, a photo
    /// of an object: see [`crate::domain`]); the mask is then likely meaningless, however sure
    /// the model looks. `None` for a colour photo of skin, and when the image was not at hand
    /// ([`segment_prepared`] gets tensors only).
    pub out_of_domain: Option<OutOfDomain>,
}

/// Mirrored passes a segmentation averages by default: one, the image itself. Averaging it with
/// its left-right mirror (2) raised mean Dice on the real validation photos by 0.1–0.4 points with
/// the shipped weights (1.2 with weights trained on generated images only), for twice the work
/// (docs/DOUBT.md); it is an option.
pub const DEFAULT_FLIPS: usize = 1;

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

    /// The share of what the model marked (or was unsure of) that is doubtful, 0..1: pixels it is
    /// unsure of, and marked pixels outside the mask's main piece (a sticker at the frame's edge
    /// next to the lesion, skin marked wholesale); see [`crate::doubt::doubt`]. It ranks masks by
    /// quality far better than [`Prediction::confidence`]; above
    /// [`crate::doubt::DOUBTFUL_ABOVE`] the mask is worth checking.
    pub fn doubt(&self) -> f64 {
        crate::doubt::share_doubtful(&self.doubtful_pixels(), &self.mask)
    }

    /// Each foreground class's doubt for a multi-class model (entry `i` is class `i + 1`; empty
    /// for one class): see [`crate::doubt::class_doubt`].
    pub fn class_doubt(&self) -> Vec<f64> {
        crate::doubt::class_doubt(&self.probabilities, &self.mask, self.classes)
    }

    /// 1 for each doubtful pixel, else 0 (the "check here" overlay): see
    /// [`crate::doubt::doubtful_pixels`].
    pub fn doubtful_pixels(&self) -> Vec<u8> {
        crate::doubt::doubtful_pixels(
            &self.probabilities,
            &self.mask,
            self.classes,
            self.width as usize,
        )
    }
}

/// Checks a number of mirrored passes (1, 2 or 4: see [`crate::doubt::MAX_FLIPS`]).
pub fn check_flips(flips: usize) -> Result<()> {
    if !FLIPS.contains(&flips) {
        return Err(Error::config(format!(
            "flips must be 1 (no mirroring), 2 (left-right) or 4 (left-right and top-bottom), got {flips}"
        )));
    }
    Ok(())
}

/// Segments `images` (each any size) by resizing each to `size×size`, running the network in one
/// batch on `model`'s device (once per mirrored pass, `flips` of them, averaged), and resizing
/// the probabilities back to each image's own size; each prediction says whether its image is
/// of the `kind` the model was made for ([`Prediction::out_of_domain`]).
pub async fn segment(
    model: &TinyUNet,
    images: &[RgbaImage],
    size: usize,
    flips: usize,
    kind: ImageKind,
) -> Result<Vec<Prediction>> {
    check_input_size(size)?;
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::with_capacity(images.len() * 3 * size * size);
    for image in images {
        input.extend(image_to_chw(image, size, size));
    }
    let sizes: Vec<(u32, u32)> = images.iter().map(|i| (i.width, i.height)).collect();
    let mut predictions = segment_prepared(model, input, size, &sizes, flips).await?;
    for (prediction, image) in predictions.iter_mut().zip(images) {
        prediction.out_of_domain = out_of_domain_for(image, kind);
    }
    Ok(predictions)
}

/// Segments a batch already in the network's layout: `input` holds one `[3, size, size]` image
/// per entry of `sizes`, the `(width, height)` each prediction is resized back to. The passes over
/// mirror images run one after another, so memory stays that of one pass.
pub async fn segment_prepared(
    model: &TinyUNet,
    input: Vec<f32>,
    size: usize,
    sizes: &[(u32, u32)],
    flips: usize,
) -> Result<Vec<Prediction>> {
    check_flips(flips)?;
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Backend("the model has no device".into()))?;
    let mut data: Vec<f32> = Vec::new();
    for flip in 0..flips {
        let mirrored = if flip == 0 {
            input.clone()
        } else {
            mirror(&input, size, flip)
        };
        let batch = TensorData::new(mirrored, [sizes.len(), 3, size, size]);
        let pass = probabilities(model, Tensor::<4>::from_data(batch, &device))
            .into_data_async()
            .await
            .map_err(Error::read_back)?
            .try_into_vec::<f32>()
            .map_err(Error::result_type)?;
        let pass = if flip == 0 {
            pass
        } else {
            mirror(&pass, size, flip)
        };
        if data.is_empty() {
            data = pass;
        } else {
            data.iter_mut().zip(pass).for_each(|(d, p)| *d += p);
        }
    }
    if flips > 1 {
        let scale = 1.0 / flips as f32;
        data.iter_mut().for_each(|d| *d *= scale);
    }
    let classes = model.config.classes;
    let per_image = classes * size * size;
    Ok(sizes
        .iter()
        .zip(data.chunks_exact(per_image))
        .map(|(&(width, height), probs)| to_prediction(width, height, probs, classes, size))
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

fn to_prediction(
    width: u32,
    height: u32,
    probs: &[f32],
    classes: usize,
    size: usize,
) -> Prediction {
    let (w, h) = (width as usize, height as usize);
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
        width,
        height,
        mask,
        probabilities,
        classes,
        out_of_domain: None,
    }
}

/// How much of a mask one class covers, named and coloured as the model's card has it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassArea {
    /// The class's name on the card ("background", "ground-glass opacity", …).
    pub name: String,
    /// Its overlay colour, `#rrggbb`.
    pub colour: String,
    /// Share of the image's pixels with this label, 0..1.
    pub fraction: f64,
    /// Pixels with this label.
    pub pixels: usize,
}

impl Prediction {
    /// Pixels of each label in the mask, background first: `max(classes, 2)` entries (a one-class
    /// model's mask has background and foreground).
    pub fn class_pixels(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.classes.max(2)];
        for &m in &self.mask {
            if let Some(count) = counts.get_mut(m as usize) {
                *count += 1;
            }
        }
        counts
    }

    /// Each class's area (background first), named and coloured by `classes` (a model card's,
    /// [`crate::weights::ModelCard::classes`]); a label the list does not name is called
    /// "class N", in grey.
    pub fn class_areas(&self, classes: &[crate::weights::ClassInfo]) -> Vec<ClassArea> {
        let total = self.mask.len().max(1) as f64;
        self.class_pixels()
            .into_iter()
            .enumerate()
            .map(|(i, pixels)| {
                let (name, colour) = match classes.get(i) {
                    Some(c) => (c.name.clone(), c.colour.clone()),
                    None => (format!("class {i}"), "#808080".to_string()),
                };
                ClassArea {
                    name,
                    colour,
                    fraction: pixels as f64 / total,
                    pixels,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod class_area_tests {
    use super::*;
    use crate::weights::ModelCard;

    fn prediction(mask: Vec<u8>, classes: usize) -> Prediction {
        Prediction {
            width: mask.len() as u32,
            height: 1,
            probabilities: vec![0.5; mask.len() * classes],
            mask,
            classes,
            out_of_domain: None,
        }
    }

    #[test]
    fn areas_count_every_label_and_take_the_cards_names() {
        let p = prediction(vec![0, 1, 1, 2, 0, 0, 2, 2], 3);
        assert_eq!(p.class_pixels(), vec![3, 2, 3]);
        let areas = p.class_areas(&ModelCard::lung_ct().classes);
        assert_eq!(areas.len(), 3);
        assert_eq!(areas[1].name, "ground-glass opacity");
        assert_eq!(areas[1].colour, "#f2c200");
        assert_eq!(areas[1].pixels, 2);
        assert!((areas[2].fraction - 3.0 / 8.0).abs() < 1e-12);
        let total: f64 = areas.iter().map(|a| a.fraction).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_one_class_mask_has_background_and_foreground() {
        let p = prediction(vec![0, 1, 1, 0], 1);
        let areas = p.class_areas(&ModelCard::skin_lesion().classes);
        assert_eq!(
            areas
                .iter()
                .map(|a| (a.name.as_str(), a.pixels))
                .collect::<Vec<_>>(),
            [("skin", 2), ("lesion", 2)]
        );
        assert!((areas[1].fraction - p.foreground_fraction()).abs() < 1e-12);
    }

    #[test]
    fn labels_the_card_does_not_name_are_numbered() {
        let p = prediction(vec![0, 2, 2, 1], 3);
        let areas = p.class_areas(&ModelCard::skin_lesion().classes);
        assert_eq!(areas[2].name, "class 2");
        assert_eq!(areas[2].pixels, 2);
        assert!(
            p.class_areas(&[])
                .iter()
                .all(|a| a.name.starts_with("class "))
        );
    }
}
