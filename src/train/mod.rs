//! Training: single optimisation steps and whole fine-tuning runs.

pub mod session;
pub mod trainer;

pub use session::{ResumePoint, SessionConfig, SessionStep, TrainingSession, batch_tensors};
pub use trainer::{StepOutput, Trainer, loss_and_gradients};
