//! The application layer both skins share: what a user does with the network, in the terms the
//! browser package and the command-line tool both speak. [`Segmenter`] is a model with its input
//! size and mirrored passes (segment, score against a mask, import and export weights);
//! [`FineTuning`] gathers annotated pairs and runs the on-device fine-tune one unit of work at a
//! time (cancel between any two, non-finite guard and best-weights keeping from
//! [`crate::train::FineTune`]). `src/web` and `src/cli` only translate to and from them.
//!
//! Nothing here touches the filesystem, the DOM or the terminal.

mod fine_tuning;
mod held_out;
mod outcome_report;
mod segmenter;
mod train_options;

pub use fine_tuning::FineTuning;
pub use held_out::held_out_mask;
pub use outcome_report::{ClassChange, KeptBecause, OutcomeReport};
pub use segmenter::{
    Assessment, DEFAULT_INPUT_SIZE, Segmenter, SegmenterOptions, model_and_card_from_weights,
    model_from_weights,
};
pub use train_options::{TrainDefaults, TrainOptions};
