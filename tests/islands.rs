//! Stray pieces on real photos (`../shared/data`, read only): the islands rule removes the specks the
//! shipped weights mark on ruler text and glare in wide-field ISIC 2017 photos, raises mean Dice on
//! that validation split and leaves PH2's close-ups alone; the lung-CT model keeps its masks.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use tinyunet::app::{Segmenter, SegmenterOptions};
use tinyunet::data::folder::{Pair, read_image};
use tinyunet::data::image::mask_from_rgba;
use tinyunet::islands::Islands;
use tinyunet::metrics::{mask_scores, mean_scores};

fn segmenter(model: &str, islands: Option<Islands>, size: usize) -> Segmenter {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("www/models/{model}.safetensors"));
    let options = SegmenterOptions::default()
        .with_islands(islands)
        .with_input_size(size);
    Segmenter::new(
        &tinyunet::backend::cpu_device(),
        Some(&std::fs::read(path).unwrap()),
        &options,
    )
    .unwrap()
}

/// Mean Dice of `segmenter`'s masks over `pairs`, with their islands handled by `islands`.
fn mean_dice(segmenter: &Segmenter, pairs: &[Pair], islands: Islands) -> f64 {
    let scores: Vec<_> = pairs
        .iter()
        .map(|pair| {
            let image = read_image(&pair.image).unwrap();
            let mask = read_image(&pair.mask).unwrap();
            let truth = mask_from_rgba(&mask, segmenter.mask_kind(), "mask").unwrap();
            let p = pollster::block_on(segmenter.segment_with(&image, islands)).unwrap();
            mask_scores(&p.mask, &truth, segmenter.classes())
        })
        .collect();
    mean_scores(&scores).dice
}

/// Pieces of a mask (marked pixels joined through their four neighbours), by a plain flood fill.
fn pieces(mask: &[u8], width: usize) -> usize {
    let mut seen = vec![false; mask.len()];
    let mut count = 0;
    for start in 0..mask.len() {
        if mask[start] == 0 || seen[start] {
            continue;
        }
        count += 1;
        seen[start] = true;
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            let near = [
                (x > 0).then(|| i - 1),
                (x + 1 < width).then(|| i + 1),
                (y > 0).then(|| i - width),
                (i + width < mask.len()).then(|| i + width),
            ];
            for j in near.into_iter().flatten() {
                if mask[j] != 0 && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    count
}

/// The photos a new user saw specks on, at the page's finest resolution (512 px), where the
/// shipped weights mark ruler text and glare beside the lesion.
#[test]
fn specks_on_ruler_text_and_glare_go_by_default_and_the_lesion_stays() {
    let shipped = segmenter("skin-lesion", None, 512);
    assert_eq!(
        shipped.islands(),
        Islands::Main,
        "a one-class model's default"
    );
    let Some(root) = common::shared_data("isic2017") else {
        return;
    };
    for stem in ["ISIC_0012306", "ISIC_0014610"] {
        let image = read_image(&root.join(format!("images/{stem}.jpg"))).unwrap();
        let mask = read_image(&root.join(format!("masks/{stem}_segmentation.png"))).unwrap();
        let truth = mask_from_rgba(&mask, shipped.mask_kind(), "mask").unwrap();
        let kept = pollster::block_on(shipped.segment_with(&image, Islands::Keep)).unwrap();
        let cleaned = pollster::block_on(shipped.segment(&image)).unwrap();
        let width = kept.width as usize;
        let (before, after) = (pieces(&kept.mask, width), pieces(&cleaned.mask, width));
        let dice = |m: &[u8]| mask_scores(m, &truth, 1).dice;
        eprintln!(
            "{stem}: pieces {before} → {after}, Dice {:.4} → {:.4}, doubt {:.3} → {:.3}",
            dice(&kept.mask),
            dice(&cleaned.mask),
            kept.doubt(),
            cleaned.doubt()
        );
        assert!(before > 1, "{stem}: the network marked one piece only");
        assert!(after < before, "{stem}: no speck removed");
        assert!(dice(&cleaned.mask) > dice(&kept.mask), "{stem}");
        // Only marked pixels go, never the other way round.
        assert!(
            kept.mask
                .iter()
                .zip(&cleaned.mask)
                .all(|(&k, &c)| c == 0 || c == k)
        );
    }
}

/// The default's evidence, kept true: the wide-field validation split gains, PH2's does not lose
/// (docs/VALIDATION.md has both sets of weights and the other rules).
#[test]
fn the_default_helps_wide_field_photos_and_keeps_close_ups() {
    let Some([(_, wide), (_, close)]) =
        common::all_present(["isic2017", "ph2"].map(common::shared_split))
    else {
        return;
    };
    let shipped = segmenter("skin-lesion", None, 256);
    let (keep, main) = (
        mean_dice(&shipped, &wide, Islands::Keep),
        mean_dice(&shipped, &wide, Islands::Main),
    );
    eprintln!("ISIC 2017 validation: keep {keep:.4}, main {main:.4}");
    assert!(main > keep + 0.02, "ISIC 2017: {keep} → {main}");
    let close = &close[..20];
    let (keep, main) = (
        mean_dice(&shipped, close, Islands::Keep),
        mean_dice(&shipped, close, Islands::Main),
    );
    eprintln!("PH2 validation (20): keep {keep:.4}, main {main:.4}");
    assert!(main > keep - 0.005, "PH2: {keep} → {main}");
}

#[test]
fn the_lung_ct_model_keeps_its_pieces_and_refuses_main() {
    let ct = segmenter("lung-ct", None, 256);
    assert_eq!(ct.islands(), Islands::Keep);
    let options = SegmenterOptions::default().with_islands(Some(Islands::Main));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/lung-ct.safetensors");
    let refused = Segmenter::new(
        &tinyunet::backend::cpu_device(),
        Some(&std::fs::read(path).unwrap()),
        &options,
    );
    assert!(refused.is_err());
    // The checks above need no real slice; a clone without `../shared/data` still runs them.
    let Some((_, val)) = common::shared_split("medseg-covid-ct") else {
        return;
    };
    let image = read_image(&val[0].image).unwrap();
    let e = pollster::block_on(ct.segment_with(&image, Islands::Main))
        .unwrap_err()
        .to_string();
    assert!(e.contains("several classes"), "{e}");
}

/// The README's command-line use: `tinyunet eval` takes the rule by name (`--islands keep` gives
/// the network's own mask, the default removes the specks), and a bad rule is refused by name.
#[test]
fn the_cli_takes_the_rule_and_refuses_a_bad_one() {
    let eval = |extra: &[&str], images: &Path, masks: &Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tinyunet"))
            .args([
                "eval",
                "--model",
                "skin-lesion",
                "--size",
                "512",
                "--images",
            ])
            .arg(images)
            .arg("--masks")
            .arg(masks)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let nowhere = Path::new("/nonexistent");
    let (ok, _, err) = eval(&["--islands", "largest"], nowhere, nowhere);
    assert!(!ok && err.contains("islands"), "{err}");
    let Some(root) = common::shared_data("isic2017") else {
        return;
    };
    // The two photos a new user saw specks on, in a folder of their own.
    let dir = std::env::temp_dir().join(format!("tinyunet-islands-cli-{}", std::process::id()));
    for sub in ["images", "masks"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for stem in ["ISIC_0012306", "ISIC_0014610"] {
        let image = format!("images/{stem}.jpg");
        let mask = format!("masks/{stem}_segmentation.png");
        std::fs::copy(root.join(&image), dir.join(&image)).unwrap();
        std::fs::copy(root.join(&mask), dir.join(&mask)).unwrap();
    }
    let mean = |out: &str| -> f64 {
        let field = out
            .split_whitespace()
            .find_map(|w| w.strip_prefix("mean_dice="))
            .unwrap_or_else(|| panic!("no mean_dice in {out}"));
        field.parse().unwrap()
    };
    let (ok, kept, err) = eval(
        &["--islands", "keep"],
        &dir.join("images"),
        &dir.join("masks"),
    );
    assert!(ok, "{err}");
    let (ok, cleaned, err) = eval(&[], &dir.join("images"), &dir.join("masks"));
    assert!(ok, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let (kept, cleaned) = (mean(&kept), mean(&cleaned));
    eprintln!("tinyunet eval at 512 px: --islands keep {kept:.4}, default {cleaned:.4}");
    assert!(cleaned > kept, "keep {kept}, default {cleaned}");
}
