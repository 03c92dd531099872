//! Training: single optimisation steps and whole fine-tuning runs.

mod adam;
pub mod adapt;
pub mod batch;
mod compact;
pub mod fine_tune;
pub mod session;
pub mod trainer;

pub use adapt::adapt_batch_norm;
pub use batch::batch_tensors;
pub use fine_tune::{
    EpochRecord, Evaluation, Event, FineTune, HELD_OUT_TOLERANCE, HeldOut, MIN_RELIABLE_HELD_OUT,
    Outcome, Stop,
};
pub use session::{MICRO_BATCH_PIXELS, ResumePoint, SessionConfig, SessionStep, TrainingSession};
pub use trainer::{StepOutput, Trainer, loss_and_gradients};
