//! Micro-batches with gradient accumulation: with BatchNorm frozen, a step that runs its batch a
//! few images at a time applies the same gradients and reaches the same weights as the whole
//! batch at once, within the PyTorch fixture's tolerances (tests/reference_fixture.rs: loss 1e-5
//! relative, every gradient 1e-3 relative); on batch statistics a batch still runs whole.

mod common;

use common::*;
use tinyunet::data::augment::Example;
use tinyunet::data::image::{RgbaImage, image_to_chw};
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::schedule::CosineSchedule;
use tinyunet::train::{SessionConfig, Trainer, TrainingSession, adapt_batch_norm, batch_tensors};
use tinyunet::weights::{
    TensorValues, decode_weights, export_weights, import_weights, infer_config,
};
use tinyunet::{TinyUNet, TinyUNetConfig};

/// Synthetic lesion photos; `classes` 3 turns each mask into bands of labels 0, 1 and 2 (lesion
/// pixels take 1 or 2 by column) so that every class is present.
fn examples(count: u64, size: usize, classes: usize) -> Vec<Example> {
    (0..count)
        .map(|seed| {
            let s = generate(seed, &SynthOptions::with_size(size as u32, size as u32));
            let image = RgbaImage::new(s.width, s.height, s.rgba, "synth").unwrap();
            let mask = if classes == 1 {
                s.mask
            } else {
                s.mask
                    .iter()
                    .enumerate()
                    .map(|(i, &m)| match (m != 0, i % size < size / 2) {
                        (false, _) => 0,
                        (true, true) => 1,
                        (true, false) => 2,
                    })
                    .collect()
            };
            Example {
                image: image_to_chw(&image, size, size),
                mask,
                size,
            }
        })
        .collect()
}

/// The PyTorch fixture's network (1 class, randomised BatchNorm statistics), or a fresh 3-class
/// one whose running statistics are re-estimated on `examples`: either way statistics far from
/// the initial 0 and 1, so that a frozen BatchNorm matters. Marked as trained, so that a
/// session freezes its BatchNorm.
fn model(classes: usize, examples: &[Example], device: &burn::prelude::Device) -> TinyUNet {
    let mut model = if classes == 1 {
        let bytes = std::fs::read(reference_fixture(
            "tinyunet_c1_s1_64x64.weights.safetensors",
        ))
        .unwrap();
        let weights = decode_weights(&bytes).unwrap();
        let config = infer_config(&weights).unwrap();
        import_weights(&config.init(device, 0).unwrap(), &weights).unwrap()
    } else {
        let fresh = TinyUNetConfig::with_classes(classes)
            .init(device, 5)
            .unwrap();
        adapt_batch_norm(&fresh, examples, 2).unwrap()
    };
    model.num_batches_tracked = model.num_batches_tracked.max(1);
    model
}

/// ‖a − b‖ / ‖b‖.
fn relative(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
}

fn schedule() -> CosineSchedule {
    CosineSchedule {
        initial: 1e-3,
        minimum: 1e-3,
        total_steps: 10,
    }
}

#[test]
fn micro_batched_gradients_equal_the_whole_batchs() {
    for (backend, device) in devices() {
        // Every case on the CPU; on wgpu, where lavapipe (CI's) takes ~10 s a case, the one that
        // has both the multi-class loss and a last micro-batch smaller than the others.
        let cases: &[(usize, &[usize])] = match backend {
            "cpu" => &[(1, &[1, 2, 4]), (3, &[1, 2, 4])],
            _ => &[(3, &[2])],
        };
        for &(classes, micro_batches) in cases {
            // 5 images: micro-batches of 2 leave one of 1, a share that is not a power of two.
            let batch = examples(5, 64, classes);
            let model = model(classes, &batch, &device).with_frozen_batch_norm(true);
            let (images, targets) = batch_tensors(&batch, classes, &device);
            let whole = Trainer::new(&model, schedule()).unwrap();
            assert_eq!(whole.micro_batch(), usize::MAX, "whole batches by default");
            let (loss, grads) = whole.gradients(images.clone(), targets.clone());
            let loss = values(loss)[0];
            for &micro in micro_batches {
                let trainer = Trainer::new(&model, schedule())
                    .unwrap()
                    .with_micro_batch(micro);
                assert_eq!(trainer.micro_batch(), micro);
                let (micro_loss, micro_grads) = trainer.gradients(images.clone(), targets.clone());
                let micro_loss = values(micro_loss)[0];
                let loss_rel = ((micro_loss - loss) / loss).abs();
                assert!(
                    loss_rel < 1e-5,
                    "{backend}, {classes} class(es), micro-batch {micro}: loss {micro_loss} vs {loss}"
                );
                assert_eq!(micro_grads.len(), grads.len());
                let mut worst = (0.0, String::new());
                for ((name, g), (ref_name, g_ref)) in micro_grads.into_iter().zip(&grads) {
                    assert_eq!(&name, ref_name);
                    let rel = relative(&values(g), &values(g_ref.clone()));
                    if rel > worst.0 {
                        worst = (rel, name);
                    }
                }
                eprintln!(
                    "{backend}, {classes} class(es), micro-batch {micro}: loss {loss_rel:.1e} \
                     relative, worst gradient {:.1e} ({})",
                    worst.0, worst.1
                );
                assert!(
                    worst.0 < 1e-3,
                    "{backend}, {classes} class(es), micro-batch {micro}: gradient of {} off by {:.2e}",
                    worst.1,
                    worst.0
                );
            }
        }
    }
}

/// Every float tensor of the model's weights (running statistics included), by name.
fn weights(model: &TinyUNet) -> Vec<(String, Vec<f32>)> {
    pollster::block_on(export_weights(model))
        .unwrap()
        .into_iter()
        .filter_map(|(name, t)| match t.values {
            TensorValues::Float(v) => Some((name, v)),
            TensorValues::Int(_) => None,
        })
        .collect()
}

/// What a run ended with: the weights by name, each step's loss and Dice, and the images per
/// pass it used.
type RunResult = (Vec<(String, Vec<f32>)>, Vec<(f32, f32)>, usize);

/// Runs a whole session (see [`RunResult`]).
fn run(model: &TinyUNet, examples: &[Example], config: SessionConfig) -> RunResult {
    let mut session = TrainingSession::new(model, examples.to_vec(), config).unwrap();
    let mut reported = Vec::new();
    while let Some(step) = session.step() {
        let (loss, dice) = pollster::block_on(step.output.read()).unwrap();
        reported.push((loss as f32, dice as f32));
    }
    (weights(&session.model()), reported, session.micro_batch())
}

#[test]
fn micro_batched_sessions_reach_the_whole_batchs_weights() {
    for (backend, device) in devices() {
        // Both losses on the CPU; on wgpu (a minute a case on lavapipe) the one-class run, the
        // multi-class loss being checked there by the test above.
        let classes_cases: &[usize] = match backend {
            "cpu" => &[1, 3],
            _ => &[1],
        };
        for &classes in classes_cases {
            let batch = examples(4, 64, classes);
            let model = model(classes, &batch, &device);
            let start = weights(&model);
            let config = |micro_batch| SessionConfig {
                epochs: 3,
                batch_size: 4,
                learning_rate: 1e-3,
                min_learning_rate: 1e-4,
                augment: true,
                seed: 3,
                micro_batch,
                ..Default::default()
            };
            assert!(config(None).freeze_batch_norm, "the fine-tuning default");
            let (whole, whole_reported, passes) = run(&model, &batch, config(Some(4)));
            assert_eq!(passes, 4);
            // Left automatic, 64² images fit 16 to a pass: the batch of 4 runs whole.
            assert_eq!(
                TrainingSession::new(&model, batch.clone(), config(None))
                    .unwrap()
                    .micro_batch(),
                4
            );
            let (micro, micro_reported, passes) = run(&model, &batch, config(Some(1)));
            assert_eq!(passes, 1);
            // The steps reported are the batch's, not the last micro-batch's.
            for (step, ((loss, dice), (ref_loss, ref_dice))) in
                micro_reported.iter().zip(&whole_reported).enumerate()
            {
                assert!(
                    ((loss - ref_loss) / ref_loss).abs() < 1e-5,
                    "{backend}, {classes} class(es), step {step}: loss {loss} vs {ref_loss}"
                );
                assert!(
                    (dice - ref_dice).abs() < 1e-5,
                    "{backend}, {classes} class(es), step {step}: Dice {dice} vs {ref_dice}"
                );
            }
            // Each tensor's change from the start agrees to the gradients' tolerance.
            let mut worst = (0.0, String::new());
            for (((name, w), (_, w_ref)), (_, w0)) in micro.iter().zip(&whole).zip(&start) {
                let moved: Vec<f32> = w.iter().zip(w0).map(|(a, b)| a - b).collect();
                let moved_ref: Vec<f32> = w_ref.iter().zip(w0).map(|(a, b)| a - b).collect();
                if moved_ref.iter().all(|&d| d == 0.0) {
                    // Running statistics of a frozen BatchNorm stay where they were, in both.
                    assert_eq!(w, w_ref, "{backend}, {classes} class(es): {name}");
                    continue;
                }
                let rel = relative(&moved, &moved_ref);
                if rel > worst.0 {
                    worst = (rel, name.clone());
                }
            }
            eprintln!(
                "{backend}, {classes} class(es): worst change of a weight tensor {:.1e} relative ({})",
                worst.0, worst.1
            );
            assert!(
                worst.0 < 1e-3,
                "{backend}, {classes} class(es): {} moved differently ({:.2e})",
                worst.1,
                worst.0
            );
        }
    }
}

#[test]
fn on_batch_statistics_a_batch_runs_whole() {
    let device = tinyunet::backend::cpu_device();
    let batch = examples(4, 32, 1);
    let model = model(1, &batch, &device);
    let config = |micro_batch| SessionConfig {
        epochs: 1,
        batch_size: 4,
        learning_rate: 1e-3,
        augment: false,
        freeze_batch_norm: false,
        micro_batch,
        ..Default::default()
    };
    // One image at a time would normalise each by its own statistics, another network: the
    // setting is set aside and the run is exactly the whole batch's (running statistics too).
    let (whole, whole_reported, passes) = run(&model, &batch, config(None));
    assert_eq!(passes, 4);
    let (asked, asked_reported, passes) = run(&model, &batch, config(Some(1)));
    assert_eq!(passes, 4);
    assert_eq!(asked_reported, whole_reported);
    assert_eq!(asked, whole);
    let trainer = Trainer::new(&model, schedule())
        .unwrap()
        .with_micro_batch(1);
    assert_eq!(trainer.micro_batch(), usize::MAX);
}

#[test]
fn an_empty_micro_batch_is_refused() {
    let device = tinyunet::backend::cpu_device();
    let batch = examples(2, 32, 1);
    let model = model(1, &batch, &device);
    let config = SessionConfig {
        micro_batch: Some(0),
        ..Default::default()
    };
    let error = TrainingSession::new(&model, batch, config)
        .err()
        .expect("a micro-batch of 0 images");
    assert!(error.to_string().contains("micro-batch"), "{error}");
}
