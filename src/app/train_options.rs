//! What a caller may set for a fine-tune, and the defaults a skin shows: the core's
//! ([`SessionConfig::default`]), with a model card's own rate and epochs where it has them.

use serde::{Deserialize, Serialize};

use crate::train::{MICRO_BATCH_PIXELS, MIN_RELIABLE_HELD_OUT, SessionConfig};
use crate::weights::ModelCard;

/// Settings of a run as a caller gives them; what is left out takes the core's default
/// ([`SessionConfig::default`]). Deserialises from the package's options (camelCase; unknown
/// keys are refused).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainOptions {
    /// Passes over the training pairs.
    pub epochs: Option<usize>,
    /// Pairs per optimiser step.
    pub batch_size: Option<usize>,
    /// Starting learning rate.
    pub learning_rate: Option<f64>,
    /// Learning rate at the end of the cosine schedule (at most the starting one by default).
    pub min_learning_rate: Option<f64>,
    /// Random flips, quarter turns and brightness/contrast changes of the training pairs.
    pub augment: Option<bool>,
    /// Seed of the shuffling and augmentation.
    pub seed: Option<u64>,
    /// Normalise with BatchNorm's running statistics and leave them as they are (γ and β still
    /// learn).
    pub freeze_batch_norm: Option<bool>,
    /// Adapt BatchNorm's running statistics to the new images before training.
    pub adapt_batch_norm: Option<bool>,
    /// Re-estimate BatchNorm's running statistics on the training images whenever the weights
    /// are taken for inference (each held-back scoring and the end of the run).
    pub recalibrate_batch_norm: Option<bool>,
    /// With augmentation, also zoom in and out at random.
    pub zoom: Option<bool>,
    /// Pull of the weights towards the starting ones (L2-SP strength; 0: none).
    pub anchor: Option<f64>,
    /// Most images per forward/backward pass within a step (micro-batches, summed: the same
    /// update for less memory; only with BatchNorm frozen). Left out: the core's automatic size.
    pub micro_batch: Option<usize>,
}

impl TrainOptions {
    /// The session settings these options mean, for a model with the core's defaults.
    pub fn config(&self) -> SessionConfig {
        self.config_over(SessionConfig::default())
    }

    /// The session settings these options mean for the model `card` describes: what is left out
    /// takes that model's defaults ([`model_defaults`]).
    pub fn config_for(&self, card: &ModelCard) -> SessionConfig {
        self.config_over(model_defaults(card))
    }

    fn config_over(&self, d: SessionConfig) -> SessionConfig {
        SessionConfig {
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            // A lower starting rate than the default minimum would otherwise anneal upwards.
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
            zoom: self.zoom.unwrap_or(d.zoom),
            stickers: d.stickers,
            ink: d.ink,
            anchor: self.anchor.unwrap_or(d.anchor),
            micro_batch: self.micro_batch.or(d.micro_batch),
        }
    }
}

/// The defaults a skin shows and falls back to, and the fewest held-back pairs whose Dice means
/// much.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainDefaults {
    /// [`SessionConfig::epochs`].
    pub epochs: usize,
    /// [`SessionConfig::batch_size`].
    pub batch_size: usize,
    /// [`SessionConfig::learning_rate`].
    pub learning_rate: f64,
    /// [`SessionConfig::min_learning_rate`].
    pub min_learning_rate: f64,
    /// [`SessionConfig::augment`].
    pub augment: bool,
    /// [`SessionConfig::freeze_batch_norm`].
    pub freeze_batch_norm: bool,
    /// [`SessionConfig::adapt_batch_norm`].
    pub adapt_batch_norm: bool,
    /// [`SessionConfig::recalibrate_batch_norm`].
    pub recalibrate_batch_norm: bool,
    /// [`SessionConfig::zoom`].
    pub zoom: bool,
    /// [`SessionConfig::anchor`].
    pub anchor: f64,
    /// [`SessionConfig::micro_batch`]: `None` (null) is the automatic size, as many images as
    /// [`MICRO_BATCH_PIXELS`] pixels (one at 256²).
    pub micro_batch: Option<usize>,
    /// [`MICRO_BATCH_PIXELS`].
    pub micro_batch_pixels: usize,
    /// [`MIN_RELIABLE_HELD_OUT`].
    pub min_reliable_held_out: usize,
}

/// The core's fine-tuning defaults ([`SessionConfig::default`]) with what `card` changes for its
/// model: its learning rate ([`ModelCard::fine_tune_learning_rate`]) and its epochs
/// ([`ModelCard::fine_tune_epochs`]).
pub fn model_defaults(card: &ModelCard) -> SessionConfig {
    let mut d = SessionConfig::default();
    if let Some(lr) = card.fine_tune_learning_rate {
        d.learning_rate = lr;
    }
    if let Some(epochs) = card.fine_tune_epochs {
        d.epochs = epochs;
    }
    d
}

impl Default for TrainDefaults {
    fn default() -> Self {
        Self::from_config(SessionConfig::default())
    }
}

impl TrainDefaults {
    /// The defaults a skin shows for the model `card` describes.
    pub fn for_model(card: &ModelCard) -> Self {
        Self::from_config(model_defaults(card))
    }

    fn from_config(d: SessionConfig) -> Self {
        Self {
            epochs: d.epochs,
            batch_size: d.batch_size,
            learning_rate: d.learning_rate,
            min_learning_rate: d.min_learning_rate,
            augment: d.augment,
            freeze_batch_norm: d.freeze_batch_norm,
            adapt_batch_norm: d.adapt_batch_norm,
            recalibrate_batch_norm: d.recalibrate_batch_norm,
            zoom: d.zoom,
            anchor: d.anchor,
            micro_batch: d.micro_batch,
            micro_batch_pixels: MICRO_BATCH_PIXELS,
            min_reliable_held_out: MIN_RELIABLE_HELD_OUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_models_card_sets_its_fine_tuning_rate_and_epochs_unless_the_user_does() {
        let ct = ModelCard::lung_ct();
        assert_eq!(TrainDefaults::for_model(&ct).learning_rate, 3e-4);
        assert_eq!(TrainDefaults::for_model(&ct).epochs, 40);
        let config = TrainOptions::default().config_for(&ct);
        assert_eq!((config.learning_rate, config.epochs), (3e-4, 40));
        assert_eq!(config.batch_size, SessionConfig::default().batch_size);
        let own = TrainOptions {
            learning_rate: Some(1e-5),
            epochs: Some(3),
            ..Default::default()
        };
        let config = own.config_for(&ct);
        assert_eq!((config.learning_rate, config.epochs), (1e-5, 3));
        // The skin model keeps the core's defaults.
        let skin = ModelCard::skin_lesion();
        assert_eq!(TrainDefaults::for_model(&skin), TrainDefaults::default());
        assert_eq!(
            TrainOptions::default().config_for(&skin),
            SessionConfig::default()
        );
    }
}
