//! Tier 3: training works — the loss falls on a tiny generated batch, and saved weights reload to
//! identical outputs.

mod common;

use common::*;
use tinyunet::TinyUNetConfig;
use tinyunet::data::augment::Example;
use tinyunet::data::image::{RgbaImage, image_to_chw};
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::train::{SessionConfig, TrainingSession, batch_tensors};
use tinyunet::weights::{
    decode_weights, export_weights, import_weights, safetensors_io::write_safetensors,
};

fn examples(count: u64, size: usize) -> Vec<Example> {
    (0..count)
        .map(|seed| {
            let s = generate(seed, &SynthOptions::with_size(size as u32, size as u32));
            let image = RgbaImage::new(s.width, s.height, s.rgba, "synth").unwrap();
            Example {
                image: image_to_chw(&image, size, size),
                mask: s.mask,
                size,
            }
        })
        .collect()
}

fn read_scalar(t: burn::tensor::Tensor<1>) -> f32 {
    values(t)[0]
}

#[test]
fn loss_falls_when_overfitting_a_tiny_batch() {
    // The CPU's losses, step by step: wgpu's must be the same run.
    let mut cpu_losses: Option<Vec<f32>> = None;
    for (backend, device) in devices() {
        let model = TinyUNetConfig::default().init(&device, 42).unwrap();
        // Training from scratch: BatchNorm on batch statistics, as the paper trains.
        let config = SessionConfig {
            epochs: 10,
            batch_size: 4,
            learning_rate: 3e-3,
            min_learning_rate: 1e-4,
            augment: false,
            seed: 1,
            freeze_batch_norm: false,
            ..Default::default()
        };
        // 32² and 10 steps: on lavapipe (CI's wgpu) 20 steps at 64² took 190 s, at 32² 85 s, and
        // a step at 32² still takes ~3.5 s there (its matrix products most of it), so 10 steps,
        // in which the loss falls by a third.
        let mut session = TrainingSession::new(&model, examples(4, 32), config).unwrap();
        assert_eq!(session.total_steps(), 10);
        let mut losses = Vec::new();
        let mut dices = Vec::new();
        while let Some(step) = session.step() {
            losses.push(read_scalar(step.output.loss));
            dices.push(read_scalar(step.output.soft_dice));
        }
        assert!(session.is_finished());
        eprintln!(
            "{backend}: loss {:.4} → {:.4}, soft Dice {:.3} → {:.3}",
            losses[0], losses[9], dices[0], dices[9]
        );
        assert!(
            losses.iter().all(|l| l.is_finite()),
            "{backend}: {losses:?}"
        );
        assert!(
            losses[9] < 0.75 * losses[0],
            "{backend}: loss did not fall: {losses:?}"
        );
        assert!(
            dices[9] > dices[0] + 0.1,
            "{backend}: Dice did not rise: {dices:?}"
        );
        match &cpu_losses {
            None => cpu_losses = Some(losses.clone()),
            Some(cpu) => {
                for (step, (l, c)) in losses.iter().zip(cpu).enumerate() {
                    assert!(
                        ((l - c) / c).abs() < 1e-3,
                        "{backend}, step {step}: loss {l}, on the CPU {c}"
                    );
                }
            }
        }

        // The trained weights survive a save → load round trip exactly.
        let trained = session.model();
        let bytes =
            write_safetensors(&pollster::block_on(export_weights(&trained)).unwrap(), &[]).unwrap();
        let fresh = TinyUNetConfig::default().init(&device, 7).unwrap();
        let loaded = import_weights(&fresh, &decode_weights(&bytes).unwrap()).unwrap();
        assert_eq!(loaded.num_batches_tracked, 10);
        let (images, _) = batch_tensors(&examples(2, 32), 1, &device);
        let a = values(trained.forward(images.clone()));
        let b = values(loaded.forward(images));
        assert_eq!(a, b, "{backend}: reloaded weights give other outputs");
    }
}

#[test]
fn training_does_not_touch_the_source_model_and_updates_running_stats() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 3).unwrap();
    let before = values(model.decoder1.cmrf.pwconv2.bn.running_mean.value());
    // Batch statistics (not the fine-tuning default): the running ones must move.
    let config = SessionConfig {
        epochs: 1,
        batch_size: 2,
        augment: true,
        freeze_batch_norm: false,
        ..Default::default()
    };
    let mut session = TrainingSession::new(&model, examples(2, 32), config).unwrap();
    session.step().unwrap();
    assert!(session.step().is_none());
    assert_eq!(
        values(model.decoder1.cmrf.pwconv2.bn.running_mean.value()),
        before
    );
    let trained = session.model();
    assert_ne!(
        values(trained.decoder1.cmrf.pwconv2.bn.running_mean.value()),
        before
    );
    assert_eq!(trained.num_batches_tracked, 1);
}

#[test]
fn bad_sessions_are_refused() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 3).unwrap();
    let e = |r: Result<TrainingSession, tinyunet::Error>| r.err().expect("should fail").to_string();
    assert!(
        e(TrainingSession::new(
            &model,
            vec![],
            SessionConfig::default()
        ))
        .contains("no training examples")
    );
    let mut odd = examples(1, 32);
    odd[0].mask.pop();
    assert!(e(TrainingSession::new(&model, odd, SessionConfig::default())).contains("example 0"));
    let mut labels = examples(1, 32);
    labels[0].mask[5] = 2;
    assert!(
        e(TrainingSession::new(
            &model,
            labels,
            SessionConfig::default()
        ))
        .contains("mask value 2")
    );
    let config = SessionConfig {
        learning_rate: 0.0,
        ..Default::default()
    };
    assert!(e(TrainingSession::new(&model, examples(1, 32), config)).contains("learning rate"));
    let config = SessionConfig {
        batch_size: 0,
        ..Default::default()
    };
    assert!(e(TrainingSession::new(&model, examples(1, 32), config)).contains("batch size"));
}

/// How far the weights moved: the largest change of any of `final_conv`'s and one CMRF's kernels.
fn moved(a: &tinyunet::TinyUNet, b: &tinyunet::TinyUNet) -> f32 {
    let pairs = [
        (a.final_conv.weight.val(), b.final_conv.weight.val()),
        (
            a.decoder1.cmrf.pwconv2.conv.weight.val(),
            b.decoder1.cmrf.pwconv2.conv.weight.val(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(x, y)| max_abs_diff(&values(x), &values(y)))
        .fold(0.0, f32::max)
}

#[test]
fn the_pull_towards_the_starting_weights_holds_them_closer() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 5).unwrap();
    let run = |anchor: f64| {
        let config = SessionConfig {
            epochs: 6,
            batch_size: 2,
            learning_rate: 1e-3,
            augment: false,
            anchor,
            ..Default::default()
        };
        let mut session = TrainingSession::new(&model, examples(2, 32), config).unwrap();
        while session.step().is_some() {}
        moved(&model, &session.model())
    };
    let (free, pulled) = (run(0.0), run(1000.0));
    eprintln!("largest weight change: {free:.3e} free, {pulled:.3e} pulled");
    assert!(pulled < 0.5 * free, "free {free}, pulled {pulled}");
}

#[test]
fn a_pulled_run_cannot_resume_and_a_bad_pull_is_refused() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 5).unwrap();
    let config = |anchor: f64| SessionConfig {
        epochs: 2,
        batch_size: 1,
        anchor,
        ..Default::default()
    };
    for bad in [-1.0, f64::NAN, 1e9] {
        let e = TrainingSession::new(&model, examples(1, 32), config(bad)).err();
        assert!(
            e.is_some_and(|e| e.to_string().contains("pull towards the starting weights")),
            "anchor {bad} was accepted"
        );
    }
    let mut session = TrainingSession::new(&model, examples(1, 32), config(0.0)).unwrap();
    session.step().unwrap();
    let point = tinyunet::train::ResumePoint {
        epochs_done: 1,
        optimizer: session.optimizer_state().unwrap(),
    };
    let e = TrainingSession::resume(&session.model(), examples(1, 32), config(1.0), point).err();
    assert!(e.is_some_and(|e| e.to_string().contains("cannot be resumed")));
}

/// The fine-tuning defaults (BatchNorm frozen) on trained weights, on every backend: the running
/// statistics stay as they were and the CPU and the GPU take the same steps.
#[test]
fn the_default_fine_tune_freezes_batch_norm_alike_on_every_backend() {
    let bytes = std::fs::read(local_fixture("no-isic2017.safetensors")).unwrap();
    let mut results = Vec::new();
    for (backend, device) in devices() {
        let model = tinyunet::app::model_from_weights(&bytes, &device).unwrap();
        assert!(
            model.num_batches_tracked > 0,
            "the fixture has trained statistics"
        );
        let config = SessionConfig {
            epochs: 1,
            batch_size: 2,
            augment: false,
            ..Default::default()
        };
        assert!(config.freeze_batch_norm);
        let mut session = TrainingSession::new(&model, examples(2, 32), config).unwrap();
        session.step().unwrap();
        let trained = session.model();
        let stats =
            |m: &tinyunet::TinyUNet| values(m.decoder1.cmrf.pwconv2.bn.running_mean.value());
        assert_eq!(
            stats(&trained),
            stats(&model),
            "{backend}: frozen statistics moved"
        );
        results.push((backend, values(trained.final_conv.weight.val())));
    }
    for (backend, weights) in &results[1..] {
        let diff = max_abs_diff(weights, &results[0].1);
        assert!(diff < 1e-4, "{backend} differs from the CPU by {diff}");
    }
}
