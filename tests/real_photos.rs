//! Real, expert-annotated dermoscopy photos (`../shared/data`, read only): the shipped weights
//! segment validation photos they were never trained on, the doubt figure ranks their masks, and
//! the clinic's fine-tune — weights trained without PH2, fine-tuned on a few PH2 photos — raises
//! Dice on PH2 photos it never saw.

mod common;

use std::path::Path;

use common::local_fixture;
use tinyunet::TinyUNet;
use tinyunet::data::folder::{Pair, read_image};
use tinyunet::data::image::{MaskKind, example_from_pair, mask_from_rgba};
use tinyunet::infer::{DEFAULT_FLIPS, segment};
use tinyunet::islands::Islands;
use tinyunet::metrics::{Scores, mask_scores, mean_scores, spearman};
use tinyunet::train::{FineTune, HeldOut, SessionConfig};
use tinyunet::weights::{ImageKind, decode_weights, import_weights, infer_config};

/// A set's pairs split as its README suggests: sorted by stem, every 5th is validation; `None`
/// (the test skips, naming the set) when `../shared/data` lacks it.
fn split(set: &str) -> Option<(Vec<Pair>, Vec<Pair>)> {
    common::shared_split(set)
}

fn model(path: &Path) -> TinyUNet {
    let set = decode_weights(&std::fs::read(path).unwrap()).unwrap();
    let device = tinyunet::backend::cpu_device();
    import_weights(&infer_config(&set).unwrap().init(&device, 0).unwrap(), &set).unwrap()
}

fn shipped() -> TinyUNet {
    model(&Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/skin-lesion.safetensors"))
}

/// Dice/IoU and doubt of each pair's mask, as `tinyunet eval` makes them.
fn score(model: &TinyUNet, pairs: &[Pair], size: usize) -> Vec<(Scores, f64)> {
    pairs
        .iter()
        .map(|pair| {
            let image = read_image(&pair.image).unwrap();
            let truth = mask_from_rgba(&read_image(&pair.mask).unwrap(), MaskKind::Binary, "m");
            let p = pollster::block_on(segment(
                model,
                &[image],
                size,
                DEFAULT_FLIPS,
                ImageKind::Dermoscopy,
            ))
            .unwrap()
            .remove(0);
            (mask_scores(&p.mask, &truth.unwrap(), 1), p.doubt())
        })
        .collect()
}

#[test]
fn shipped_weights_reach_dice_085_on_real_validation_photos_and_doubt_ranks_them() {
    let sets = ["ph2", "isic2016-crops"];
    let Some(splits) = common::all_present(sets.map(split)) else {
        return;
    };
    let model = shipped();
    let mut all = Vec::new();
    for (set, (_, val)) in sets.into_iter().zip(splits) {
        let scored = score(&model, &val[..10], 256);
        let mean = mean_scores(&scored.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        eprintln!(
            "{set}: first 10 validation photos mean Dice {:.4}",
            mean.dice
        );
        assert!(mean.dice >= 0.85, "{set}: mean Dice {}", mean.dice);
        all.extend(scored);
    }
    let dice: Vec<f64> = all.iter().map(|(s, _)| s.dice).collect();
    let doubt: Vec<f64> = all.iter().map(|(_, d)| *d).collect();
    let rank = spearman(&doubt, &dice).unwrap();
    eprintln!("Spearman(doubt, Dice) over 20 real photos: {rank:.3}");
    // More doubt, lower Dice: a figure that ranks masks, not a constant.
    assert!(rank < -0.3, "doubt does not rank the masks: {rank}");
}

/// Wide-field dermoscopy (ISIC 2017: small lesions in much skin, colour-calibration stickers,
/// rulers, ink), the kind a clinic photographs: the shipped weights were trained on the split's
/// other 40 photos. Scored as the user sees the masks (the default islands rule: specks smaller
/// than the lesion removed). The goal is 0.83 on such a subset; the shipped weights reach
/// 0.827 on all 10 (docs/MODELS.md), and this keeps them from falling back to the 0.78 of the
/// weights before them or the 0.68 of those before that.
#[test]
fn shipped_weights_hold_on_wide_field_validation_photos() {
    let Some((_, val)) = split("isic2017") else {
        return;
    };
    let model = shipped();
    let islands = Islands::default_for(1);
    let scores: Vec<Scores> = val
        .iter()
        .map(|pair| {
            let image = read_image(&pair.image).unwrap();
            let truth = mask_from_rgba(&read_image(&pair.mask).unwrap(), MaskKind::Binary, "m");
            let mut p = pollster::block_on(segment(
                &model,
                &[image],
                256,
                DEFAULT_FLIPS,
                ImageKind::Dermoscopy,
            ))
            .unwrap()
            .remove(0);
            islands.apply(&mut p.mask, p.width as usize);
            mask_scores(&p.mask, &truth.unwrap(), 1)
        })
        .collect();
    let mean = mean_scores(&scores);
    eprintln!(
        "isic2017: {} validation photos mean Dice {:.4} (islands {islands})",
        val.len(),
        mean.dice
    );
    assert_eq!(val.len(), 10);
    assert!(mean.dice >= 0.80, "isic2017: mean Dice {}", mean.dice);
}

/// A clinic's fine-tune with the defaults of the page, the package and the CLI: `start` tuned on
/// the first 8 training photos of `set` (5 more held back to choose the epoch kept, as the page
/// does), then scored on 8 validation photos it never saw. Returns Dice before and after on them,
/// or `None` when the set is missing.
fn fine_tune_on(start: &TinyUNet, set: &str, size: usize) -> Option<(f64, f64)> {
    let (train, val) = split(set)?;
    let (tune, held, unseen) = (&train[..8], &train[8..13], &val[..8]);
    let examples = tune
        .iter()
        .map(|p| {
            let (image, mask) = (read_image(&p.image).unwrap(), read_image(&p.mask).unwrap());
            example_from_pair(&image, &mask, size, MaskKind::Binary, &p.name, &p.name).unwrap()
        })
        .collect();
    let held_out = held
        .iter()
        .map(|p| {
            let (image, mask) = (read_image(&p.image).unwrap(), read_image(&p.mask).unwrap());
            HeldOut::new(&p.name, &image, &mask, size, MaskKind::Binary).unwrap()
        })
        .collect();
    let mut run = FineTune::new(start, examples, held_out, SessionConfig::default()).unwrap();
    while pollster::block_on(run.advance()).unwrap().is_some() {}
    let outcome = run.finish(false);
    let mean = |m: &TinyUNet| {
        mean_scores(
            &score(m, unseen, size)
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>(),
        )
        .dice
    };
    let before = mean(start);
    let after = outcome.model.as_ref().map_or(before, mean);
    eprintln!(
        "{set}: held-back Dice {:.4} → {:.4} (epoch {} kept, best {}); unseen Dice {before:.4} → {after:.4}",
        outcome.before.map_or(f64::NAN, |e| e.mean.dice),
        outcome.chosen.map_or(f64::NAN, |e| e.mean.dice),
        outcome.chosen_epoch,
        outcome.best_epoch
    );
    Some((before, after))
}

/// Protocol (a), small: a new kind of photo. Weights that never saw ISIC 2017's wide-field
/// photos (the demo weights before they were trained on it) learn from 8 of them.
#[test]
fn fine_tuning_with_the_defaults_raises_dice_on_a_new_kind_of_photo() {
    let start = model(&local_fixture("no-isic2017.safetensors"));
    let Some((before, after)) = fine_tune_on(&start, "isic2017", 128) else {
        return;
    };
    assert!(
        after > before + 0.01,
        "unseen ISIC 2017 Dice {before} → {after}"
    );
}

/// Protocol (b), small: a familiar kind of photo. Weights trained without PH2 (on ISIC 2016
/// crops, close to PH2's framing) must not get worse from 8 PH2 photos.
#[test]
fn fine_tuning_with_the_defaults_does_not_lower_dice_on_a_familiar_kind_of_photo() {
    let start = model(&local_fixture("no-ph2.safetensors"));
    let Some((before, after)) = fine_tune_on(&start, "ph2", 128) else {
        return;
    };
    assert!(after >= before, "unseen PH2 Dice {before} → {after}");
}
