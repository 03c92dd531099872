//! Fine-tuning runs as users have them: held-back pairs scored before and after every epoch, the
//! last epoch kept unless clearly beaten, a run that does not help leaving the starting weights, a
//! diverging run stopped, and BatchNorm adaptation.

mod common;

use common::*;
use tinyunet::TinyUNet;
use tinyunet::data::augment::Example;
use tinyunet::data::image::{MaskKind, RgbaImage, image_to_chw};
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::train::{
    Event, FineTune, HELD_OUT_TOLERANCE, HeldOut, Outcome, SessionConfig, Stop, adapt_batch_norm,
};
use tinyunet::weights::{decode_weights, import_weights, infer_config};

/// A generated image and its mask at `size`, as RGBA (what a user hands over).
fn pair(seed: u64, size: u32) -> (RgbaImage, RgbaImage) {
    let s = generate(seed, &SynthOptions::with_size(size, size));
    let image = RgbaImage::new(s.width, s.height, s.rgba, "synth").unwrap();
    let mask_rgba = s
        .mask
        .iter()
        .flat_map(|&m| {
            let v = if m == 0 { 0 } else { 255 };
            [v, v, v, 255]
        })
        .collect();
    let mask = RgbaImage::new(size, size, mask_rgba, "mask").unwrap();
    (image, mask)
}

fn example(seed: u64, size: usize, invert: bool) -> Example {
    let s = generate(seed, &SynthOptions::with_size(size as u32, size as u32));
    let image = RgbaImage::new(s.width, s.height, s.rgba, "synth").unwrap();
    Example {
        image: image_to_chw(&image, size, size),
        mask: s.mask.iter().map(|&m| ((m != 0) != invert) as u8).collect(),
        size,
    }
}

fn held_out(seeds: std::ops::Range<u64>, size: usize) -> Vec<HeldOut> {
    seeds
        .map(|seed| {
            let (image, mask) = pair(seed, size as u32);
            HeldOut::new(&format!("h{seed}"), &image, &mask, size, MaskKind::Binary).unwrap()
        })
        .collect()
}

/// The shipped generated-data weights: a model that already segments generated images well.
fn trained_model() -> TinyUNet {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/skin-lesion.safetensors");
    let set = decode_weights(&std::fs::read(path).unwrap()).unwrap();
    let device = tinyunet::backend::cpu_device();
    import_weights(&infer_config(&set).unwrap().init(&device, 0).unwrap(), &set).unwrap()
}

fn run_to_end(run: &mut FineTune) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = pollster::block_on(run.advance()).unwrap() {
        events.push(event);
    }
    events
}

/// A two-epoch run on four generated pairs judged by three held back, choosing with `tolerance`
/// (`None`: the default), and its events.
fn two_epoch_run(tolerance: Option<f64>) -> (Outcome, Vec<Event>) {
    let size = 64;
    let model = trained_model();
    let examples: Vec<Example> = (0..4).map(|s| example(s, size, false)).collect();
    let config = SessionConfig {
        epochs: 2,
        batch_size: 2,
        augment: false,
        ..Default::default()
    };
    let mut run = FineTune::new(&model, examples, held_out(100..103, size), config).unwrap();
    if let Some(tolerance) = tolerance {
        run = run.with_tolerance(tolerance).unwrap();
    }
    let events = run_to_end(&mut run);
    (run.finish(false), events)
}

/// Mean held-back Dice of the starting weights and after each epoch.
fn held_back_dice(outcome: &Outcome) -> Vec<f64> {
    std::iter::once(outcome.before.as_ref().unwrap().mean.dice)
        .chain(outcome.epochs.iter().map(|r| r.held_out.unwrap().dice))
        .collect()
}

#[test]
fn held_back_pairs_are_scored_before_and_after_every_epoch() {
    let (outcome, events) = two_epoch_run(None);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Scored {
                epoch, done, total, ..
            } => format!("s{epoch}:{done}/{total}"),
            Event::Trained { steps_done, .. } => format!("t{steps_done}"),
            Event::EpochEnded(r) => format!("e{}", r.epoch),
        })
        .collect();
    assert_eq!(
        kinds.join(" "),
        "s0:1/3 s0:2/3 s0:3/3 t1 t2 s1:1/3 s1:2/3 s1:3/3 e1 t3 t4 s2:1/3 s2:2/3 s2:3/3 e2"
    );
    assert_eq!(outcome.stop, Stop::Completed);
    assert_eq!(outcome.epochs.len(), 2);
    assert!(
        outcome
            .epochs
            .iter()
            .all(|r| r.held_out.is_some() && r.loss.is_finite())
    );
    let before = outcome.before.as_ref().expect("scored before training");
    assert_eq!((before.epoch, before.per_pair.len()), (0, 3));
    // Kept: the last epoch, unless the best of the three (before, epoch 1, epoch 2) leads it by
    // more than the tolerance.
    let dice = held_back_dice(&outcome);
    let best = dice.iter().copied().fold(f64::MIN, f64::max);
    let best_epoch = dice.iter().position(|&d| d == best).unwrap();
    assert_eq!(outcome.best_epoch, best_epoch);
    assert_eq!(outcome.tolerance, HELD_OUT_TOLERANCE);
    let expected = if best - dice[2] <= HELD_OUT_TOLERANCE {
        2
    } else {
        best_epoch
    };
    assert_eq!(outcome.chosen_epoch, expected, "held-back Dice {dice:?}");
    assert_eq!(outcome.chosen.as_ref().unwrap().mean.dice, dice[expected]);
    assert_eq!(outcome.model.is_some(), outcome.chosen_epoch > 0);
    assert_eq!(outcome.improved(), Some(dice[expected] > dice[0]));
    assert!(
        !outcome.reliable(),
        "3 held-back pairs are too few to trust"
    );
    assert_eq!(outcome.steps_done, 4);
}

#[test]
fn the_tolerance_decides_between_the_last_epoch_and_the_best() {
    // The same (deterministic) run judged two ways: with no tolerance the best scored weights are
    // kept (a last epoch that ties them: the last); with a tolerance as wide as Dice itself,
    // always the last epoch.
    let (strict, _) = two_epoch_run(Some(0.0));
    let (loose, _) = two_epoch_run(Some(1.0));
    let dice = held_back_dice(&strict);
    assert_eq!(held_back_dice(&loose), dice, "the two runs trained alike");
    let best = dice.iter().copied().fold(f64::MIN, f64::max);
    let first_best = dice.iter().position(|&d| d == best).unwrap();
    let strict_expected = if dice[2] == best { 2 } else { first_best };
    assert_eq!(strict.chosen_epoch, strict_expected, "{dice:?}");
    assert_eq!(loose.chosen_epoch, 2, "{dice:?}");
    assert!(
        loose.model.is_some() && loose.last.is_none(),
        "the last epoch is the last step"
    );
    assert_eq!(loose.within_tolerance(), loose.best_epoch != 2);
    assert!(!strict.within_tolerance());
    for bad in [-0.1, 1.5, f64::NAN] {
        let model = trained_model();
        let run = FineTune::new(
            &model,
            vec![example(0, 32, false)],
            Vec::new(),
            Default::default(),
        );
        let err = run.unwrap().with_tolerance(bad).err().expect("refused");
        assert!(err.to_string().contains("tolerance"), "{err}");
    }
}

/// Training on inverted masks at a high rate ruins the model for the (correct) held-back pairs:
/// the outcome of such a run, choosing with `tolerance` (`None`: the default).
fn harmful_run(tolerance: Option<f64>) -> Outcome {
    let size = 128;
    let model = trained_model();
    let examples: Vec<Example> = (0..4).map(|s| example(s, size, true)).collect();
    let config = SessionConfig {
        epochs: 2,
        batch_size: 2,
        learning_rate: 3e-3,
        augment: false,
        ..Default::default()
    };
    let held = held_out(200..205, size);
    let mut run = FineTune::new(&model, examples, held, config).unwrap();
    if let Some(tolerance) = tolerance {
        run = run.with_tolerance(tolerance).unwrap();
    }
    run_to_end(&mut run);
    run.finish(false)
}

#[test]
fn a_run_that_makes_things_worse_keeps_the_starting_weights() {
    let outcome = harmful_run(None);
    let before = outcome.before.as_ref().unwrap().mean.dice;
    let last = outcome.epochs.last().unwrap().held_out.unwrap().dice;
    assert!(
        before > 0.6 && last < before - HELD_OUT_TOLERANCE,
        "before {before}, after {last}"
    );
    assert_eq!(outcome.improved(), Some(false));
    assert_eq!(outcome.best_epoch, 0);
    assert!(!outcome.within_tolerance());
    assert_eq!(outcome.chosen_epoch, 0);
    assert!(outcome.model.is_none(), "the starting weights stay");
    assert!(outcome.last.is_some(), "the last weights are still offered");
    assert!(outcome.reliable());
}

#[test]
fn a_tolerance_as_wide_as_dice_keeps_even_a_harmful_last_epoch_and_says_so() {
    // The harmful run above, judged with a tolerance of 1: the last epoch is kept, and the
    // outcome says that better-scoring weights (the starting ones) were passed over.
    let outcome = harmful_run(Some(1.0));
    assert_eq!(outcome.chosen_epoch, 2);
    assert!(outcome.model.is_some() && outcome.last.is_none());
    assert_eq!(outcome.best_epoch, 0);
    assert_eq!(outcome.improved(), Some(false));
    assert!(outcome.within_tolerance());
    assert_eq!(
        outcome.held_out_dice(2),
        outcome.chosen.as_ref().map(|e| e.mean.dice)
    );
}

#[test]
fn a_diverging_run_stops_and_keeps_the_starting_weights() {
    let size = 32;
    let model = trained_model();
    let mut broken = example(0, size, false);
    broken.image[0] = f32::NAN;
    let config = SessionConfig {
        epochs: 3,
        batch_size: 1,
        augment: false,
        ..Default::default()
    };
    let mut run = FineTune::new(&model, vec![broken], Vec::new(), config).unwrap();
    let events = run_to_end(&mut run);
    assert!(
        events.is_empty(),
        "the first step's loss is NaN: {events:?}"
    );
    let outcome = run.finish(false);
    assert!(
        matches!(outcome.stop, Stop::Diverged { step: 1, .. }),
        "{:?}",
        outcome.stop
    );
    assert!(outcome.model.is_none() && outcome.last.is_none());
}

#[test]
fn a_cancelled_run_without_held_back_pairs_keeps_its_last_step() {
    let size = 32;
    let model = trained_model();
    let examples: Vec<Example> = (0..4).map(|s| example(s, size, false)).collect();
    let config = SessionConfig {
        epochs: 2,
        batch_size: 2,
        ..Default::default()
    };
    let mut run = FineTune::new(&model, examples, Vec::new(), config).unwrap();
    pollster::block_on(run.advance()).unwrap().unwrap();
    let outcome = run.finish(true);
    assert_eq!(outcome.stop, Stop::Cancelled);
    assert_eq!(outcome.improved(), None);
    assert!(outcome.model.is_some() && outcome.steps_done == 1);
}

#[test]
fn a_run_cancelled_after_an_epoch_is_scored_counts_that_epoch() {
    let size = 32;
    let model = trained_model();
    let examples: Vec<Example> = (0..2).map(|s| example(s, size, false)).collect();
    let config = SessionConfig {
        epochs: 5,
        batch_size: 2,
        augment: false,
        ..Default::default()
    };
    let mut run = FineTune::new(&model, examples, held_out(300..301, size), config).unwrap();
    // Before-training score, the epoch's one step, its score: the epoch's report is still due.
    for _ in 0..3 {
        pollster::block_on(run.advance()).unwrap().unwrap();
    }
    let outcome = run.finish(true);
    assert_eq!(outcome.stop, Stop::Cancelled);
    assert_eq!(outcome.epochs.len(), 1, "{:?}", outcome.epochs);
    let scored = outcome.epochs[0].held_out.expect("epoch 1 was scored");
    assert!(outcome.chosen_epoch <= 1);
    if outcome.chosen_epoch == 1 {
        assert_eq!(outcome.chosen.unwrap().mean.dice, scored.dice);
    }
}

#[test]
fn batch_norm_adaptation_replaces_the_running_statistics_by_the_images_own() {
    let size = 32;
    let model = trained_model();
    let examples: Vec<Example> = (0..4).map(|s| example(s, size, false)).collect();
    let adapted = adapt_batch_norm(&model, &examples, 2).unwrap();
    let bn = |m: &TinyUNet| values(m.encoder1.cmrf.pwconv1.bn.running_mean.value());
    assert!(
        max_abs_diff(&bn(&adapted), &bn(&model)) > 1e-3,
        "statistics moved"
    );
    // Equal weight per batch: the same images again in one batch of four give the mean of the two
    // batches of two for the first layer, whose input does not depend on earlier statistics.
    let whole = adapt_batch_norm(&model, &examples, 4).unwrap();
    assert!(max_abs_diff(&bn(&adapted), &bn(&whole)) < 1e-5);
    // And the starting statistics do not matter at all.
    let scrambled = adapt_batch_norm(&adapted, &examples, 2).unwrap();
    let all = |m: &TinyUNet| values(m.decoder1.cmrf.pwconv2.bn.running_var.value());
    assert!(max_abs_diff(&all(&scrambled), &all(&adapted)) < 1e-5);
    // Weights are untouched.
    let w = |m: &TinyUNet| values(m.encoder2.cmrf.pwconv1.conv.weight.val());
    assert_eq!(w(&adapted), w(&model));
}
