//! Model cards: what a weights file is for, carried in its safetensors `__metadata__` so that a
//! file alone says how to use it (task, class names and colours, the images it expects and how to
//! prepare them, its training data and their terms).
//!
//! The card is one JSON document under [`CARD_KEY`]. Files without one (every file made before
//! cards, `.pth` files) get [`ModelCard::fallback`]: a one-class network is the skin-lesion model
//! it always was; a multi-class one gets numbered classes.

use serde::{Deserialize, Serialize};

use crate::data::window::Window;
use crate::error::{Error, Result};

/// The safetensors metadata key that holds the card's JSON.
pub const CARD_KEY: &str = "tinyunet.card";

/// The kind of image a model was made for: it decides the out-of-domain check and, for CT, how
/// a DICOM slice becomes grey levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageKind {
    /// Colour photographs of the skin through a dermatoscope.
    Dermoscopy,
    /// Axial CT slices, grey levels of a lung window.
    CtSlice,
    /// Anything else: no out-of-domain check.
    Other,
}

/// One class of the mask: its name and the colour the overlay paints it in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// The class's name, e.g. "ground-glass opacity".
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
}

impl ClassInfo {
    fn new(name: &str, colour: &str) -> Self {
        Self {
            name: name.into(),
            colour: colour.into(),
        }
    }
}

/// What a weights file is for. Class 0 is always the background; a one-output (binary) network
/// has two entries, background and the foreground.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCard {
    /// Short name: `skin-lesion`, `lung-ct` (the CLI's `--model`), or a user's own.
    pub name: String,
    /// What it segments, in a few words for a person.
    pub title: String,
    /// The kind of image it expects.
    pub image_kind: ImageKind,
    /// The classes, background first.
    pub classes: Vec<ClassInfo>,
    /// The side images were resized to in training (the size to run it at).
    pub input_size: usize,
    /// For CT: the window that maps Hounsfield units onto the grey levels it was trained on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// What it was trained on.
    #[serde(default)]
    pub trained_on: String,
    /// The terms its weights inherit from their training data.
    #[serde(default)]
    pub terms: String,
    /// What to cite when using it.
    #[serde(default)]
    pub citations: Vec<String>,
    /// The starting learning rate of a fine-tune of this model when the user sets none (the
    /// core's default, chosen on dermoscopy, when absent): a model trained on few images of its
    /// kind needs larger steps to learn from a clinic's few more (docs/MODELS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune_learning_rate: Option<f64>,
    /// The epochs of a fine-tune of this model when the user sets none (the core's default when
    /// absent): a clinic's few slices give a CT fine-tune few steps an epoch, and on 10 of them
    /// the core's 10 epochs never beat the start where 40 did (docs/MODELS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune_epochs: Option<usize>,
}

/// Colours for classes past those a card names (a fallback card, say).
const PALETTE: [&str; 8] = [
    "#000000", "#f2c200", "#e0403a", "#3a8fe0", "#3ac46a", "#b05ce0", "#e08a3a", "#3ad6d6",
];

impl ModelCard {
    /// The skin-lesion model's card: what every one-class file without a card is.
    pub fn skin_lesion() -> Self {
        Self {
            name: "skin-lesion".into(),
            title: "Skin lesion (dermoscopy)".into(),
            image_kind: ImageKind::Dermoscopy,
            classes: vec![
                ClassInfo::new("skin", "#000000"),
                ClassInfo::new("lesion", "#00e5ff"),
            ],
            input_size: 256,
            window: None,
            trained_on: "PH2, ISIC 2016 and ISIC 2017 dermoscopy photographs with expert masks, \
                         and generated images"
                .into(),
            terms: "Research use only (the terms of PH2 and ISIC 2017)".into(),
            citations: vec![
                "Mendonça et al., PH2 – A dermoscopic image database for research and \
                 benchmarking, EMBC 2013"
                    .into(),
                "Gutman et al., Skin Lesion Analysis toward Melanoma Detection (ISIC 2016), \
                 arXiv:1605.01397"
                    .into(),
                "Codella et al., Skin Lesion Analysis Toward Melanoma Detection: A Challenge at \
                 ISBI 2017, arXiv:1710.05006"
                    .into(),
            ],
            fine_tune_learning_rate: None,
            fine_tune_epochs: None,
        }
    }

    /// The lung-CT model's card (the paper's second task, on MedSeg's slices).
    pub fn lung_ct() -> Self {
        Self {
            name: "lung-ct".into(),
            title: "Lung infection (chest CT slice)".into(),
            image_kind: ImageKind::CtSlice,
            classes: vec![
                ClassInfo::new("background", "#000000"),
                ClassInfo::new("ground-glass opacity", "#f2c200"),
                ClassInfo::new("consolidation", "#e0403a"),
            ],
            input_size: 256,
            window: Some(Window::LUNG),
            trained_on: "40 axial CT slices of COVID-19 patients with expert masks (MedSeg \
                         COVID-19 CT segmentation, as in Inf-Net's multi-class split)"
                .into(),
            terms: "Non-commercial research use only (the MedSeg data's terms)".into(),
            citations: vec![
                "MedSeg, COVID-19 CT segmentation dataset, medicalsegmentation.com".into(),
                "Fan et al., Inf-Net: Automatic COVID-19 Lung Infection Segmentation from CT \
                 Images, IEEE TMI 2020"
                    .into(),
            ],
            fine_tune_learning_rate: Some(3e-4),
            fine_tune_epochs: Some(40),
        }
    }

    /// The shipped models' cards, by name.
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "skin-lesion" => Some(Self::skin_lesion()),
            "lung-ct" => Some(Self::lung_ct()),
            _ => None,
        }
    }

    /// The card of a file that has none, for a network with `outputs` output channels.
    pub fn fallback(outputs: usize) -> Self {
        if outputs <= 1 {
            return Self::skin_lesion();
        }
        Self {
            name: "custom".into(),
            title: format!("{outputs}-class model"),
            image_kind: ImageKind::Other,
            classes: (0..outputs)
                .map(|i| {
                    let name = if i == 0 {
                        "background".to_string()
                    } else {
                        format!("class {i}")
                    };
                    ClassInfo::new(&name, PALETTE[i % PALETTE.len()])
                })
                .collect(),
            input_size: 256,
            window: None,
            trained_on: String::new(),
            terms: String::new(),
            citations: Vec::new(),
            fine_tune_learning_rate: None,
            fine_tune_epochs: None,
        }
    }

    /// Entries `classes` needs for a network with `outputs` output channels (a binary network's
    /// one output is background + foreground).
    pub fn classes_for(outputs: usize) -> usize {
        outputs.max(2)
    }

    /// Refuses a card that does not fit a network with `outputs` output channels or that a UI
    /// could not use (no name, a colour that is not `#rrggbb`, an empty window).
    pub fn check(&self, outputs: usize) -> Result<()> {
        let bad = |why: String| Err(Error::weights(format!("the model card: {why}")));
        if self.name.trim().is_empty() {
            return bad("its name is empty".into());
        }
        let want = Self::classes_for(outputs);
        if self.classes.len() != want {
            return bad(format!(
                "it names {} class(es) but the network has {outputs} output(s), which need {want} \
                 (background first)",
                self.classes.len()
            ));
        }
        for class in &self.classes {
            let c = class.colour.as_bytes();
            if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
                return bad(format!(
                    "class \"{}\" has colour \"{}\", not #rrggbb",
                    class.name, class.colour
                ));
            }
        }
        if let Some(window) = &self.window {
            window.check()?;
        }
        if let Some(lr) = self.fine_tune_learning_rate {
            let (min, max) = crate::limits::LEARNING_RATE_RANGE;
            if !(min..=max).contains(&lr) {
                return bad(format!(
                    "its fine-tuning learning rate {lr} is not between {min:e} and {max}"
                ));
            }
        }
        if let Some(epochs) = self.fine_tune_epochs {
            let max = crate::limits::MAX_EPOCHS;
            if !(1..=max).contains(&epochs) {
                return bad(format!(
                    "its fine-tuning epoch count {epochs} is not between 1 and {max}"
                ));
            }
        }
        crate::limits::check_input_size(self.input_size)
    }

    /// The card in a file's metadata, checked against a network with `outputs` outputs; the
    /// fallback card when there is none.
    pub fn from_metadata(metadata: &[(String, String)], outputs: usize) -> Result<Self> {
        let Some((_, json)) = metadata.iter().find(|(k, _)| k == CARD_KEY) else {
            return Ok(Self::fallback(outputs));
        };
        let card: ModelCard = serde_json::from_str(json).map_err(|e| {
            Error::weights(format!("the model card ({CARD_KEY}) is not valid: {e}"))
        })?;
        card.check(outputs)?;
        Ok(card)
    }

    /// The card as JSON, e.g. for a `--card` file.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and vectors always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A card read from JSON (as `to_json` writes it), checked for `outputs` outputs.
    pub fn from_json(json: &str, outputs: usize) -> Result<Self> {
        let card: ModelCard = serde_json::from_str(json)
            .map_err(|e| Error::weights(format!("the model card is not valid JSON: {e}")))?;
        card.check(outputs)?;
        Ok(card)
    }

    /// The metadata entries a weights file should carry: the format marker and this card.
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            ("format".into(), "pt".into()),
            (
                CARD_KEY.into(),
                serde_json::to_string(self).unwrap_or_default(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_cards_fit_their_networks_and_round_trip() {
        for (card, outputs) in [(ModelCard::skin_lesion(), 1), (ModelCard::lung_ct(), 3)] {
            card.check(outputs).unwrap();
            let back = ModelCard::from_metadata(&card.metadata(), outputs).unwrap();
            assert_eq!(back, card);
            assert_eq!(
                ModelCard::from_json(&card.to_json(), outputs).unwrap(),
                card
            );
        }
    }

    #[test]
    fn files_without_a_card_are_the_lesion_model_or_numbered_classes() {
        assert_eq!(
            ModelCard::from_metadata(&[], 1).unwrap().name,
            "skin-lesion"
        );
        let three = ModelCard::from_metadata(&[], 3).unwrap();
        assert_eq!(three.classes.len(), 3);
        assert_eq!(three.classes[2].name, "class 2");
        three.check(3).unwrap();
    }

    #[test]
    fn a_card_that_does_not_fit_is_refused_with_the_reason() {
        let err = ModelCard::lung_ct().check(1).unwrap_err().to_string();
        assert!(
            err.contains("3 class(es)") && err.contains("1 output"),
            "{err}"
        );
        let mut card = ModelCard::lung_ct();
        card.classes[1].colour = "yellow".into();
        assert!(card.check(3).unwrap_err().to_string().contains("#rrggbb"));
        let mut card = ModelCard::lung_ct();
        card.fine_tune_epochs = Some(0);
        assert!(
            card.check(3)
                .unwrap_err()
                .to_string()
                .contains("epoch count 0")
        );
        let bad = vec![(CARD_KEY.to_string(), "{not json".to_string())];
        assert!(
            ModelCard::from_metadata(&bad, 1)
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
    }
}
