//! [`Segmenter`]: a network ready to use at one input size, with everything a user does with it.

use burn::prelude::*;
use serde::Deserialize;

use crate::data::augment::Example;
use crate::data::image::{MaskKind, RgbaImage, check_mask_size, example_from_pair, mask_from_rgba};
use crate::domain::OutOfDomain;
use crate::infer::{DEFAULT_FLIPS, Prediction, check_flips, check_input_size, segment};
use crate::islands::Islands;
use crate::metrics::{Scores, class_scores, mask_scores};
use crate::model::{TinyUNet, TinyUNetConfig};
use crate::train::HeldOut;
use crate::weights::card::CARD_KEY;
use crate::weights::safetensors_io::write_safetensors;
use crate::weights::{
    ModelCard, decode_weights_with_metadata, export_weights, import_weights, infer_config,
};
use crate::{Error, Result};

/// The side images are resized to when nothing else is asked for (the paper's and the demo
/// weights' training size).
pub const DEFAULT_INPUT_SIZE: usize = 256;

/// How a [`Segmenter`] is set up; what is left out takes the default. Deserialises from the
/// JavaScript package's options (camelCase; unknown keys are refused).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmenterOptions {
    /// Output classes of a fresh network (weights, when given, decide it instead).
    pub classes: usize,
    /// The side images are resized to before the network (a multiple of 16).
    pub input_size: usize,
    /// Mirrored passes averaged per image: 1, 2 or 4.
    pub flips: usize,
    /// What happens to a mask's stray pieces (see [`Islands`]); `None`: the model's default
    /// ([`Islands::default_for`]).
    pub islands: Option<Islands>,
}

impl Default for SegmenterOptions {
    fn default() -> Self {
        Self {
            classes: 1,
            input_size: DEFAULT_INPUT_SIZE,
            flips: DEFAULT_FLIPS,
            islands: None,
        }
    }
}

impl SegmenterOptions {
    /// These options with `classes` outputs for a fresh network.
    pub fn with_classes(mut self, classes: usize) -> Self {
        self.classes = classes;
        self
    }
    /// These options with images resized to `size`×`size`.
    pub fn with_input_size(mut self, size: usize) -> Self {
        self.input_size = size;
        self
    }
    /// These options with `flips` mirrored passes per image.
    pub fn with_flips(mut self, flips: usize) -> Self {
        self.flips = flips;
        self
    }
    /// These options with `islands` applied to every mask.
    pub fn with_islands(mut self, islands: Option<Islands>) -> Self {
        self.islands = islands;
        self
    }
    fn check(&self) -> Result<()> {
        check_input_size(self.input_size)?;
        check_flips(self.flips)
    }
}

/// One image's scores against its mask, and the model's doubt about its own mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Dice and IoU of the model's mask against the given one.
    pub scores: Scores,
    /// Each foreground class's scores for a multi-class model (entry `i` is class `i + 1`;
    /// `None` where the class is in neither mask); empty for a binary one.
    pub class_scores: Vec<Option<Scores>>,
    /// The model's doubt about its mask (see [`crate::doubt`]).
    pub doubt: f64,
    /// Why the image is not what the model was made for, if it is not (see [`crate::domain`]).
    pub out_of_domain: Option<OutOfDomain>,
}

/// A network built from weights `bytes` (safetensors or `.pth`) on `device`, shaped by them.
/// Networks the product cannot feed are refused here, before any image reaches them.
pub fn model_from_weights(bytes: &[u8], device: &Device) -> Result<TinyUNet> {
    model_and_card_from_weights(bytes, device).map(|(model, _)| model)
}

/// [`model_from_weights`], with the file's [`ModelCard`] (the fallback card for a file without
/// one).
pub fn model_and_card_from_weights(bytes: &[u8], device: &Device) -> Result<(TinyUNet, ModelCard)> {
    let (set, metadata) = decode_weights_with_metadata(bytes)?;
    let config = infer_config(&set)?;
    check_runnable(&config)?;
    let card = ModelCard::from_metadata(&metadata, config.classes)?;
    Ok((import_weights(&config.init(device, 0)?, &set)?, card))
}

/// Images reach the network as RGB: a network made for other inputs (one-channel CT, say)
/// would load and then fail on the first image, so it is refused with the reason instead.
fn check_runnable(config: &TinyUNetConfig) -> Result<()> {
    if config.in_channels != 3 {
        return Err(Error::weights(format!(
            "this network takes {} input channel(s) (a grayscale or multi-channel model); \
             tinyunet feeds it RGB images and needs 3: train or convert it with 3 input channels",
            config.in_channels
        )));
    }
    Ok(())
}

/// A TinyU-Net with its input size and mirrored passes: segments images, scores itself against
/// masks, and imports and exports its weights. On any error it keeps the weights it had.
pub struct Segmenter {
    model: TinyUNet,
    card: ModelCard,
    input_size: usize,
    flips: usize,
    islands: Islands,
}

impl Segmenter {
    /// A segmenter on `device`, from weights (which decide the classes) or a fresh network.
    pub fn new(
        device: &Device,
        weights: Option<&[u8]>,
        options: &SegmenterOptions,
    ) -> Result<Self> {
        options.check()?;
        let (model, card) = match weights {
            Some(bytes) => model_and_card_from_weights(bytes, device)?,
            None => {
                let model = TinyUNetConfig::with_classes(options.classes).init(device, 0)?;
                let card = ModelCard::fallback(options.classes);
                (model, card)
            }
        };
        Self::from_model(model, options)?.with_card(card)
    }

    /// A segmenter around a network already built, with the card of a file that has none
    /// ([`ModelCard::fallback`]; see [`Segmenter::with_card`]).
    pub fn from_model(model: TinyUNet, options: &SegmenterOptions) -> Result<Self> {
        options.check()?;
        check_runnable(&model.config)?;
        let islands = options
            .islands
            .unwrap_or_else(|| Islands::default_for(model.config.classes));
        islands.check(model.config.classes)?;
        Ok(Self {
            card: ModelCard::fallback(model.config.classes),
            model,
            input_size: options.input_size,
            flips: options.flips,
            islands,
        })
    }

    /// This segmenter described by `card` (checked against the network).
    pub fn with_card(mut self, card: ModelCard) -> Result<Self> {
        card.check(self.classes())?;
        self.card = card;
        Ok(self)
    }

    /// What the model is for: its task, classes, expected images and terms.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The network.
    pub fn model(&self) -> &TinyUNet {
        &self.model
    }

    /// Puts `model` in place of the network (the weights a training run chose, say).
    pub fn set_model(&mut self, model: TinyUNet) {
        self.model = model;
    }

    /// The device the network lives on.
    pub fn device(&self) -> Result<Device> {
        self.model
            .devices()
            .into_iter()
            .next()
            .ok_or_else(|| Error::Backend("the model has no device".into()))
    }

    /// Output classes.
    pub fn classes(&self) -> usize {
        self.model.config.classes
    }
    /// Input channels (always 3: see [`model_from_weights`]).
    pub fn in_channels(&self) -> usize {
        self.model.config.in_channels
    }
    /// The side images are resized to.
    pub fn input_size(&self) -> usize {
        self.input_size
    }
    /// Mirrored passes averaged per image.
    pub fn flips(&self) -> usize {
        self.flips
    }
    /// What happens to a mask's stray pieces.
    pub fn islands(&self) -> Islands {
        self.islands
    }
    /// Trainable parameters.
    pub fn parameters(&self) -> usize {
        self.model.trainable_params()
    }
    /// How mask images are read for this network: lesion or not for one class, else class
    /// indices.
    pub fn mask_kind(&self) -> MaskKind {
        MaskKind::for_classes(self.classes())
    }

    /// Segments one image of any size, stray pieces handled by the segmenter's [`Islands`].
    pub async fn segment(&self, image: &RgbaImage) -> Result<Prediction> {
        self.segment_with(image, self.islands).await
    }

    /// [`Segmenter::segment`] with `islands` for this image instead of the segmenter's rule.
    pub async fn segment_with(&self, image: &RgbaImage, islands: Islands) -> Result<Prediction> {
        islands.check(self.classes())?;
        let mut prediction = segment(
            &self.model,
            std::slice::from_ref(image),
            self.input_size,
            self.flips,
            self.card.image_kind,
        )
        .await?
        .pop()
        .ok_or_else(|| Error::Backend("no result was produced".into()))?;
        islands.apply(&mut prediction.mask, prediction.width as usize);
        Ok(prediction)
    }

    /// Segments `image` and scores the mask against `mask` (same size) at the image's own size;
    /// `name` names the pair in errors.
    pub async fn assess(
        &self,
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
    ) -> Result<Assessment> {
        // Straight from the image: a `HeldOut` would keep a resized copy for repeated scoring.
        check_mask_size(image, mask, name)?;
        let truth = mask_from_rgba(mask, self.mask_kind(), &format!("{name} (mask)"))?;
        let prediction = self.segment(image).await?;
        Ok(Assessment {
            scores: mask_scores(&prediction.mask, &truth, self.classes()),
            class_scores: if self.classes() > 1 {
                class_scores(&prediction.mask, &truth, self.classes())
            } else {
                Vec::new()
            },
            doubt: prediction.doubt(),
            out_of_domain: prediction.out_of_domain,
        })
    }

    /// A pair kept out of training to judge a run by, prepared at `size`.
    pub fn held_out(
        &self,
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
        size: usize,
    ) -> Result<HeldOut> {
        HeldOut::new(name, image, mask, size, self.mask_kind())
    }

    /// A training example from an image and its mask, resized to `size`.
    pub fn example(
        &self,
        name: &str,
        image: &RgbaImage,
        mask: &RgbaImage,
        size: usize,
    ) -> Result<Example> {
        let mask_name = format!("{name} (mask)");
        example_from_pair(image, mask, size, self.mask_kind(), name, &mask_name)
    }

    /// Raw logits `[N, classes, H, W]` for a float input of `shape` `[N, 3, H, W]` (H, W
    /// multiples of 16), with no resizing: for checking the network against reference values.
    pub async fn logits(&self, input: Vec<f32>, shape: &[usize]) -> Result<Vec<f32>> {
        let dims: [usize; 4] = shape
            .try_into()
            .map_err(|_| Error::input(format!("shape must have 4 entries, got {shape:?}")))?;
        self.model.check_input(dims)?;
        if input.len() != dims.iter().product::<usize>() {
            return Err(Error::input(format!(
                "{} values do not fill shape {dims:?}",
                input.len()
            )));
        }
        let x = Tensor::<4>::from_data(TensorData::new(input, dims), &self.device()?);
        self.model
            .forward(x)
            .into_data_async()
            .await
            .map_err(Error::read_back)?
            .try_into_vec::<f32>()
            .map_err(Error::result_type)
    }

    /// Replaces the weights with a safetensors or `.pth` file's (same network), and the card
    /// with the file's when it has one; on any error the current weights and card stay.
    pub fn load_weights(&mut self, bytes: &[u8]) -> Result<()> {
        let (set, metadata) = decode_weights_with_metadata(bytes)?;
        let card = if metadata.iter().any(|(k, _)| k == CARD_KEY) {
            ModelCard::from_metadata(&metadata, self.classes())?
        } else {
            self.card.clone()
        };
        self.model = import_weights(&self.model, &set)?;
        self.card = card;
        Ok(())
    }

    /// The current weights as safetensors bytes (reference names, f32), with the model's card,
    /// so a fine-tuned file still says what it is for.
    pub async fn export_weights(&self) -> Result<Vec<u8>> {
        let set = export_weights(&self.model).await?;
        write_safetensors(&set, &self.card.metadata())
    }
}
