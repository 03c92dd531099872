//! The doubt figure on real, expert-annotated photos (`../shared/data`, read only): it ranks masks
//! by quality (Spearman's correlation of doubt with Dice, −1 a perfect ranking) on the close-ups of
//! PH2 and ISIC 2016 and on ISIC 2017's wide-field photos, and it flags the confident errors of the
//! latter (a calibration sticker or the dermatoscope's corner marked next to the lesion), which the
//! share of unsure pixels alone left at about 10 %. docs/DOUBT.md has the table these reproduce
//! (`tinyunet eval … | tail -1` prints `spearman_doubt_dice`).

mod common;

use std::path::{Path, PathBuf};

use tinyunet::TinyUNet;
use tinyunet::data::folder::{Pair, pair_folders, read_image};
use tinyunet::data::image::{MaskKind, mask_from_rgba};
use tinyunet::doubt::DOUBTFUL_ABOVE;
use tinyunet::infer::{DEFAULT_FLIPS, segment};
use tinyunet::metrics::{mask_scores, spearman};
use tinyunet::weights::{ImageKind, decode_weights, import_weights, infer_config};

/// Spearman(doubt, Dice) must be at most this on every set (the goal). Measured with the
/// weights of 2026-12-06: −0.82 (ISIC 2017, 50), −0.87 (its validation split), −0.83 (PH2
/// validation), −0.78 (ISIC 2016 validation), −0.85 (the three validation splits together).
const RANKS_AT_MOST: f64 = -0.7;

/// Masks below this Dice are failures a user must be told of: each must be flagged.
const FAILED_BELOW: f64 = 0.4;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A set's pairs, sorted by stem, and its validation split as its README suggests: every 5th;
/// `None` (the test skips, naming the set) when `../shared/data` lacks it.
fn pairs(set: &str) -> Option<(Vec<Pair>, Vec<Pair>)> {
    let dir = common::shared_data(set)?;
    let all = pair_folders(&dir.join("images"), &dir.join("masks")).unwrap();
    let val = all
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % 5 == 0)
        .map(|(_, p)| p.clone())
        .collect();
    Some((all, val))
}

fn model(path: &Path) -> TinyUNet {
    let set = decode_weights(&std::fs::read(path).unwrap()).unwrap();
    let device = tinyunet::backend::cpu_device();
    import_weights(&infer_config(&set).unwrap().init(&device, 0).unwrap(), &set).unwrap()
}

/// The shipped demo weights.
fn shipped() -> PathBuf {
    root().join("www/models/skin-lesion.safetensors")
}

/// Weights trained on PH2, ISIC 2016 and generated images only: ISIC 2017 is new to them.
fn without_isic2017() -> PathBuf {
    root().join("tests/fixtures/no-isic2017.safetensors")
}

/// One image's name, Dice and doubt, as `tinyunet eval` makes them (256 px, default flips).
struct Scored {
    name: String,
    dice: f64,
    doubt: f64,
}

fn score(model: &TinyUNet, pairs: &[Pair]) -> Vec<Scored> {
    pairs
        .iter()
        .map(|pair| {
            let image = read_image(&pair.image).unwrap();
            let truth =
                mask_from_rgba(&read_image(&pair.mask).unwrap(), MaskKind::Binary, "m").unwrap();
            let p = pollster::block_on(segment(
                model,
                &[image],
                256,
                DEFAULT_FLIPS,
                ImageKind::Dermoscopy,
            ))
            .unwrap()
            .remove(0);
            Scored {
                name: pair.name.clone(),
                dice: mask_scores(&p.mask, &truth, 1).dice,
                doubt: p.doubt(),
            }
        })
        .collect()
}

/// Spearman(doubt, Dice) of `scored`, printed under `what`.
fn rank(what: &str, scored: &[Scored]) -> f64 {
    let doubt: Vec<f64> = scored.iter().map(|s| s.doubt).collect();
    let dice: Vec<f64> = scored.iter().map(|s| s.dice).collect();
    let r = spearman(&doubt, &dice).unwrap();
    let flagged = scored.iter().filter(|s| s.doubt > DOUBTFUL_ABOVE).count();
    eprintln!(
        "{what}: {} photos, Spearman(doubt, Dice) {r:.3}, {flagged} flagged",
        scored.len()
    );
    r
}

/// Every mask below [`FAILED_BELOW`] Dice is flagged.
fn failures_flagged(what: &str, scored: &[Scored]) {
    for s in scored.iter().filter(|s| s.dice < FAILED_BELOW) {
        eprintln!("{what}: {} dice={:.3} doubt={:.3}", s.name, s.dice, s.doubt);
        assert!(
            s.doubt > DOUBTFUL_ABOVE,
            "{what}: {} has Dice {:.3} and doubt {:.3}, not flagged",
            s.name,
            s.dice,
            s.doubt
        );
    }
}

#[test]
fn doubt_ranks_and_flags_wide_field_masks_of_weights_that_never_saw_them() {
    let Some((all, val)) = pairs("isic2017") else {
        return;
    };
    let model = model(&without_isic2017());
    let scored = score(&model, &all);
    let r = rank("ISIC 2017, all", &scored);
    assert!(r <= RANKS_AT_MOST, "ISIC 2017 (50): {r}");
    // Among the failures, the masks that mark a calibration sticker or the dermatoscope's corner
    // at the frame's edge next to the lesion, sure of themselves (the unsure share alone was
    // 7–14 %).
    failures_flagged("ISIC 2017", &scored);
    let names: Vec<&str> = val.iter().map(|p| p.name.as_str()).collect();
    let in_val: Vec<Scored> = scored
        .into_iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .collect();
    let r = rank("ISIC 2017, validation split", &in_val);
    assert!(r <= RANKS_AT_MOST, "ISIC 2017 validation (10): {r}");
}

#[test]
fn doubt_ranks_close_ups_and_all_validation_splits_with_the_shipped_weights() {
    let sets = ["ph2", "isic2016-crops", "isic2017"];
    let Some(found) = common::all_present(sets.map(pairs)) else {
        return;
    };
    let model = model(&shipped());
    let mut pooled = Vec::new();
    for (set, (_, val)) in sets.into_iter().zip(found) {
        let scored = score(&model, &val);
        let r = rank(&format!("{set}, validation split"), &scored);
        // ISIC 2017's split is checked on its own with weights that never saw it (above): the
        // shipped weights may have trained on the rest of ISIC 2017 and leave it little to rank.
        if set != "isic2017" {
            assert!(r <= RANKS_AT_MOST, "{set}: {r}");
        }
        failures_flagged(set, &scored);
        pooled.extend(scored);
    }
    let r = rank("the three validation splits", &pooled);
    assert!(r <= RANKS_AT_MOST, "pooled: {r}");
}
