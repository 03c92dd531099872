//! The `tinyunet` command line on generated data: generate, train (with a corrupt file, a
//! checkpoint and an exact resume, a two-class resume), eval against a direct computation, and
//! the shipped weights, and convert's blend of two trainings.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tinyunet::data::folder::{pair_folders, read_image};
use tinyunet::data::image::{MaskKind, mask_from_rgba};
use tinyunet::metrics::binary_scores;
use tinyunet::weights::{decode_weights, import_weights, infer_config};

/// `tinyunet ARGS`: whether it succeeded, its stdout and its stderr.
fn run_tinyunet(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args(args)
        .output()
        .expect("run tinyunet");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stdout, stderr)
}

/// `tinyunet ARGS`, which must succeed: (stdout, stderr).
fn tinyunet(args: &[&str]) -> (String, String) {
    let (ok, stdout, stderr) = run_tinyunet(args);
    assert!(ok, "tinyunet {args:?} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyunet-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `tinyunet generate` in the plain layout (`images/`, `masks/`).
fn generate(out: &Path, count: usize, size: usize, seed: u64) {
    let (count, size, seed) = (count.to_string(), size.to_string(), seed.to_string());
    tinyunet(&[
        "generate",
        "--out",
        s(out),
        "--count",
        &count,
        "--size",
        &size,
        "--seed",
        &seed,
    ]);
}

/// `tinyunet train` on `data` at 32 px, batch 2, no augmentation, into `out`, plus `extra`.
fn train(data: &Path, out: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--size",
        "32",
        "--batch",
        "2",
        "--no-augment",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    tinyunet(&args)
}

/// `epoch k/n loss=… dice=…` lines → (loss, dice) per epoch.
fn epoch_lines(stdout: &str) -> Vec<(f64, f64)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .map(|l| {
            let field = |key: &str| -> f64 {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(key))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {key} in {l}"))
            };
            (field("loss="), field("dice="))
        })
        .collect()
}

#[test]
fn generate_is_deterministic() {
    let a = temp_dir("gen-a");
    let b = temp_dir("gen-b");
    for dir in [&a, &b] {
        generate(dir, 3, 48, 5);
    }
    for sub in ["images/synth_0000006.png", "masks/synth_0000007.png"] {
        assert_eq!(
            std::fs::read(a.join(sub)).unwrap(),
            std::fs::read(b.join(sub)).unwrap(),
            "{sub}"
        );
    }
    let isic = temp_dir("gen-isic");
    tinyunet(&[
        "generate",
        "--out",
        s(&isic),
        "--count",
        "2",
        "--size",
        "32",
        "--layout",
        "isic",
    ]);
    assert!(
        isic.join("ISIC2018_Task1-2_Training_Input/ISIC_0000001.jpg")
            .is_file()
    );
    assert!(
        isic.join("ISIC2018_Task1_Training_GroundTruth/ISIC_0000001_segmentation.png")
            .is_file()
    );
}

#[test]
fn train_skips_corrupt_files_lowers_the_loss_and_resumes_exactly() {
    let dir = temp_dir("train");
    let data = dir.join("data");
    generate(&data, 5, 64, 40);
    std::fs::write(
        data.join("images/synth_0000042.png"),
        b"\x89PNG\r\n\x1a\n truncated",
    )
    .unwrap();
    let train = |out: &Path, extra: &[&str]| {
        let six_epochs = ["--epochs", "6", "--lr", "3e-3", "--min-lr", "1e-3"];
        train(&data, out, &[&six_epochs[..], extra].concat())
    };
    let whole = dir.join("whole.safetensors");
    let (stdout, stderr) = train(&whole, &[]);
    assert!(
        stderr.contains("skipping synth_0000042") && stderr.contains("synth_0000042.png"),
        "{stderr}"
    );
    assert!(
        stdout.contains("training on 4 pair(s) (1 skipped)"),
        "{stdout}"
    );
    let epochs = epoch_lines(&stdout);
    assert_eq!(epochs.len(), 6, "{stdout}");
    assert!(
        epochs[5].0 < 0.8 * epochs[0].0,
        "loss did not fall: {epochs:?}"
    );
    assert!(dir.join("whole.checkpoints/last.safetensors").is_file());

    // The same run in two halves gives the same weights.
    let halves = dir.join("halves.safetensors");
    let (first, _) = train(&halves, &["--stop-after", "3"]);
    assert!(first.contains("stopped after epoch 3"), "{first}");
    assert!(!halves.exists());
    let checkpoints = dir.join("halves.checkpoints");
    let (second, _) = train(&halves, &["--resume", s(&checkpoints)]);
    assert!(second.contains("resuming after epoch 3"), "{second}");
    let a = decode_weights(&std::fs::read(&whole).unwrap()).unwrap();
    let b = decode_weights(&std::fs::read(&halves).unwrap()).unwrap();
    for (name, ta) in &a {
        if let (
            tinyunet::weights::TensorValues::Float(x),
            tinyunet::weights::TensorValues::Float(y),
        ) = (&ta.values, &b[name].values)
        {
            assert!(max_abs_diff(x, y) < 1e-5, "{name} differs after resume");
        }
    }

    // A different setting refuses to resume.
    let mut args = vec![
        "train",
        "--data",
        s(&data),
        "--size",
        "32",
        "--epochs",
        "7",
        "--resume",
        s(&checkpoints),
    ];
    args.extend_from_slice(&["--out", s(&halves)]);
    let out = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args(&args)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resume with the same data and settings")
    );
}

/// A two-class run resumed without repeating `--classes`: the masks are read as class indices
/// because the checkpoint's model has two classes.
#[test]
fn a_two_class_run_resumes_without_repeating_classes() {
    let dir = temp_dir("two-class");
    let data = dir.join("data");
    generate(&data, 3, 32, 7);
    // Class-index masks: lesion (255) → class 1.
    for entry in std::fs::read_dir(data.join("masks")).unwrap() {
        let path = entry.unwrap().path();
        let mut mask = image::open(&path).unwrap().into_luma8();
        for p in mask.pixels_mut() {
            p.0[0] = u8::from(p.0[0] >= 128);
        }
        mask.save(&path).unwrap();
    }
    let out = dir.join("two.safetensors");
    train(
        &data,
        &out,
        &["--epochs", "2", "--classes", "2", "--stop-after", "1"],
    );
    let checkpoints = dir.join("two.checkpoints");
    let (stdout, _) = train(&data, &out, &["--epochs", "2", "--resume", s(&checkpoints)]);
    assert!(stdout.contains("resuming after epoch 1"), "{stdout}");
    assert!(stdout.contains("class-index masks (2 classes)"), "{stdout}");
    assert_eq!(epoch_lines(&stdout).len(), 1, "{stdout}");
    let set = decode_weights(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(infer_config(&set).unwrap().classes, 2);
}

#[test]
fn eval_prints_per_image_scores_that_match_a_direct_computation() {
    let dir = temp_dir("eval");
    generate(&dir, 3, 80, 70);
    std::fs::write(dir.join("images/synth_0000071.png"), b"not an image").unwrap();
    let weights = reference_fixture("tinyunet_c1_s1_64x64.weights.safetensors");
    let images = dir.join("images");
    let masks = dir.join("masks");
    let out = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args([
            "eval",
            "--images",
            s(&images),
            "--masks",
            s(&masks),
            "--weights",
            s(&weights),
            "--size",
            "64",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("skipping synth_0000071"), "{stderr}");
    let last = stdout.lines().last().unwrap();
    let (mean_dice, mean_iou, count) = {
        let v: Vec<&str> = last.split_whitespace().collect();
        assert_eq!(v.len(), 4, "{last}");
        assert!(v[3].starts_with("spearman_doubt_dice="), "{last}");
        let num = |s: &str, key: &str| s.strip_prefix(key).unwrap().parse::<f64>().unwrap();
        (
            num(v[0], "mean_dice="),
            num(v[1], "mean_iou="),
            num(v[2], "images=") as usize,
        )
    };
    assert_eq!(count, 2);

    let device = tinyunet::backend::cpu_device();
    let set = decode_weights(&std::fs::read(&weights).unwrap()).unwrap();
    let model =
        import_weights(&infer_config(&set).unwrap().init(&device, 0).unwrap(), &set).unwrap();
    let (mut dice, mut iou) = (0.0, 0.0);
    for pair in pair_folders(&images, &masks)
        .unwrap()
        .iter()
        .filter(|p| p.name != "synth_0000071")
    {
        let image = read_image(&pair.image).unwrap();
        let truth =
            mask_from_rgba(&read_image(&pair.mask).unwrap(), MaskKind::Binary, "mask").unwrap();
        let flips = tinyunet::infer::DEFAULT_FLIPS;
        let p = pollster::block_on(tinyunet::infer::segment(
            &model,
            &[image],
            64,
            flips,
            tinyunet::weights::ImageKind::Dermoscopy,
        ))
        .unwrap()
        .remove(0);
        let scores = binary_scores(&p.mask, &truth);
        let line = stdout.lines().find(|l| l.starts_with(&pair.name)).unwrap();
        assert_eq!(
            line,
            format!(
                "{} dice={:.4} iou={:.4} doubt={:.4}",
                pair.name,
                scores.dice,
                scores.iou,
                p.doubt()
            )
        );
        dice += scores.dice / 2.0;
        iou += scores.iou / 2.0;
    }
    assert!(
        (mean_dice - dice).abs() < 1e-4 && (mean_iou - iou).abs() < 1e-4,
        "{last} vs {dice} {iou}"
    );
}

/// The shipped demo weights segment fresh generated images (seeds never used in training) well.
#[test]
fn shipped_weights_reach_dice_085_on_fresh_generated_images() {
    let dir = temp_dir("demo-weights");
    generate(&dir, 16, 256, 5000000);
    let (stdout, _) = tinyunet(&[
        "eval",
        "--images",
        s(&dir.join("images")),
        "--masks",
        s(&dir.join("masks")),
    ]);
    let last = stdout.lines().last().unwrap();
    eprintln!("shipped weights on 16 fresh images: {last}");
    let dice: f64 = last
        .split_whitespace()
        .next()
        .unwrap()
        .strip_prefix("mean_dice=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(dice >= 0.85, "{last}");
}

/// With `--val`, a run that makes the model worse on the held-back pairs writes the starting
/// weights to `--out` and says so; the last epoch's stay in the checkpoint folder.
#[test]
fn a_run_that_does_not_help_on_val_keeps_the_starting_weights() {
    let dir = temp_dir("no-help");
    let (data, val) = (dir.join("data"), dir.join("val"));
    generate(&data, 4, 128, 300);
    generate(&val, 3, 128, 400);
    invert_masks(&data, |_| true);
    let out = dir.join("out.safetensors");
    let start = common_demo_weights();
    let (stdout, _) = tinyunet(&[
        "train",
        "--data",
        s(&data),
        "--val",
        s(&val),
        "--init",
        s(&start),
        "--size",
        "128",
        "--batch",
        "2",
        "--epochs",
        "2",
        "--lr",
        "3e-3",
        "--no-augment",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("before training val_dice="), "{stdout}");
    assert!(
        stdout.contains("no epoch beat the starting weights on --val"),
        "{stdout}"
    );
    let kept = decode_weights(&std::fs::read(&out).unwrap()).unwrap();
    let original = decode_weights(&std::fs::read(&start).unwrap()).unwrap();
    for (name, t) in &original {
        assert_eq!(t.values, kept[name].values, "{name} changed");
    }
    assert!(dir.join("out.checkpoints/last.safetensors").is_file());
}

/// Inverts the masks of a generated folder whose pair name `which` picks: lesion becomes skin
/// and skin lesion.
fn invert_masks(data: &Path, which: impl Fn(&str) -> bool) {
    for pair in pair_folders(&data.join("images"), &data.join("masks")).unwrap() {
        if !which(&pair.name) {
            continue;
        }
        let mask = read_image(&pair.mask).unwrap();
        let inverted: Vec<u8> = mask_from_rgba(&mask, MaskKind::Binary, "m")
            .unwrap()
            .iter()
            .map(|&m| 1 - m)
            .collect();
        tinyunet::data::folder::write_mask_png(
            &pair.mask,
            &inverted,
            mask.width,
            mask.height,
            true,
        )
        .unwrap();
    }
}

#[test]
fn fine_tune_holds_back_as_the_page_does_and_keeps_weights_that_did_not_help() {
    let dir = temp_dir("fine-tune");
    let (data, val) = (dir.join("data"), dir.join("val"));
    generate(&data, 10, 64, 500);
    generate(&val, 3, 64, 600);
    // The pairs the page trains on (not those it holds back: odd numbers, below) are wrong.
    invert_masks(&data, |name| name.ends_with(['0', '2', '4', '6', '8']));
    let out = dir.join("kept.safetensors");
    let start = common_demo_weights();
    let (stdout, _) = tinyunet(&[
        "fine-tune",
        "--init",
        s(&start),
        "--data",
        s(&data),
        "--val",
        s(&val),
        "--out",
        s(&out),
        "--size",
        "64",
        "--epochs",
        "2",
        "--lr",
        "3e-3",
    ]);
    // The page's rule on 10 pairs sorted by name: the 2nd, 4th, … 10th are held back.
    assert!(
        stdout.contains(
            "fine-tuning on 5 pair(s), 5 held back (synth_0000501 synth_0000503 synth_0000505 \
             synth_0000507 synth_0000509)"
        ),
        "{stdout}"
    );
    // The page's defaults for what was not given.
    assert!(stdout.contains("batch 4,"), "{stdout}");
    assert!(stdout.contains("BatchNorm frozen"), "{stdout}");
    assert!(stdout.contains("before held_dice="), "{stdout}");
    assert_eq!(epoch_lines(&stdout).len(), 2, "{stdout}");
    assert!(
        stdout.contains("kept the starting weights (they beat the last epoch by more than 0.005"),
        "{stdout}"
    );
    let kept = decode_weights(&std::fs::read(&out).unwrap()).unwrap();
    let original = decode_weights(&std::fs::read(&start).unwrap()).unwrap();
    for (name, t) in &original {
        assert_eq!(t.values, kept[name].values, "{name} changed");
    }
    let unseen = stdout
        .lines()
        .find(|l| l.starts_with("unseen pairs=3 "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let field = |key: &str| {
        unseen
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .to_string()
    };
    assert_eq!(field("dice_before="), field("dice_after="), "{unseen}");
}

/// `tinyunet ARGS`, which must fail: (stdout, stderr).
fn tinyunet_fails(args: &[&str]) -> (String, String) {
    let (ok, stdout, stderr) = run_tinyunet(args);
    assert!(!ok, "tinyunet {args:?} succeeded:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// `fine-tune` from `start` on `data` into `out` at 32 px, the rest the page's defaults.
fn fine_tune_at_32<'a>(start: &'a Path, data: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "fine-tune",
        "--init",
        s(start),
        "--data",
        s(data),
        "--out",
        s(out),
        "--size",
        "32",
    ]
}

/// Masks a one-class model cannot read are refused by name, not read as empty: a class-index
/// mask (values 0..2) is skipped with the reason, and when no pair is left `eval` prints no
/// figures (a mean over nothing once read "mean_dice=1.0000 images=0") but the error.
#[test]
fn eval_refuses_class_index_masks_and_prints_no_figures_for_nothing_scored() {
    let dir = temp_dir("eval-labels");
    generate(&dir, 2, 48, 80);
    let masks = dir.join("masks");
    for entry in std::fs::read_dir(&masks).unwrap() {
        let path = entry.unwrap().path();
        let mask = image::open(&path).unwrap().to_luma8();
        let labels = image::GrayImage::from_fn(mask.width(), mask.height(), |x, y| {
            image::Luma([if mask.get_pixel(x, y)[0] >= 128 { 2 } else { 0 }])
        });
        labels.save(&path).unwrap();
    }
    let weights = common_demo_weights();
    let images = dir.join("images");
    let (stdout, stderr) = tinyunet_fails(&[
        "eval",
        "--images",
        s(&images),
        "--masks",
        s(&masks),
        "--weights",
        s(&weights),
        "--size",
        "48",
    ]);
    assert!(!stdout.contains("mean_dice"), "{stdout}");
    assert!(
        stderr.contains("skipping synth_0000080: ")
            && stderr.contains("the mask's largest value is 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("none of the 2 pair(s) could be scored"),
        "{stderr}"
    );
}

/// `fine-tune` refuses an `--out` it could not write before it trains, not after the run; and
/// `predict` an `--out` that is a file.
#[test]
fn an_unwritable_out_is_refused_before_any_work() {
    let dir = temp_dir("fine-tune-out");
    let data = dir.join("data");
    generate(&data, 2, 32, 90);
    let start = common_demo_weights();
    for (out, says) in [
        (dir.join("missing/tuned.safetensors"), "does not exist"),
        (dir.clone(), "is a folder"),
    ] {
        let (stdout, stderr) = tinyunet_fails(&fine_tune_at_32(&start, &data, &out));
        assert!(
            stderr.contains("--out") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!stdout.contains("fine-tuning on"), "{stdout}");
    }
    // `predict --out` is a folder of masks: a file there is named, not "File exists".
    let file = dir.join("masks.png");
    std::fs::write(&file, b"x").unwrap();
    let images = data.join("images");
    let (_, stderr) = tinyunet_fails(&["predict", "--images", s(&images), "--out", s(&file)]);
    assert!(
        stderr.contains("--out") && stderr.contains("is a file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

/// `fine-tune` warns, as `eval` and `predict` do, about a pair whose image is not the kind the
/// model was made for (a greyscale slice among skin photos), and still trains on it.
#[test]
fn fine_tune_warns_about_a_pair_the_model_was_not_made_for() {
    let dir = temp_dir("fine-tune-domain");
    let data = dir.join("data");
    generate(&data, 3, 32, 95);
    let grey = data.join("images/synth_0000096.png");
    image::open(&grey).unwrap().to_luma8().save(&grey).unwrap();
    let out = dir.join("tuned.safetensors");
    let start = common_demo_weights();
    let mut args = fine_tune_at_32(&start, &data, &out);
    args.extend(["--epochs", "1"]);
    let (stdout, stderr) = tinyunet(&args);
    assert!(
        stderr.contains("warning: synth_0000096: ") && stderr.contains("greyscale"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning: synth_0000095"), "{stderr}");
    assert!(
        stdout.contains("fine-tuning on 2 pair(s), 1 held back (synth_0000096)"),
        "{stdout}"
    );
}

fn common_demo_weights() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/models/skin-lesion.safetensors")
}

/// The demo weights ship with f16 convolution kernels (docs/MODELS.md: the masks stay the
/// same) and f32 for everything else; a regenerated file written as f32 would double the page.
#[test]
fn shipped_weights_store_convolution_kernels_in_f16() {
    let bytes = std::fs::read(common_demo_weights()).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (mut half, mut full) = (0, 0);
    for (name, view) in file.tensors() {
        let kernel = name.ends_with(".weight") && view.shape().len() == 4;
        let expected = if kernel {
            safetensors::Dtype::F16
        } else {
            safetensors::Dtype::F32
        };
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        assert_eq!(view.dtype(), expected, "{name}");
        if kernel { half += 1 } else { full += 1 }
    }
    assert!(half > 50 && full > 50, "{half} f16 and {full} f32 tensors");
}

/// `tinyunet bench --layers` (docs/BENCHMARKS.md) prints its table and one row per stage of
/// the forward pass in pass order — the decoders' joins as the model runs them (the upsampling
/// written into the concatenation) — with shares that add up to the whole pass.
#[test]
fn bench_prints_every_stage_of_the_forward_pass() {
    let (out, _) = tinyunet(&[
        "bench",
        "--backend",
        "cpu",
        "--iters",
        "1",
        "--warmup",
        "0",
        "--layers",
    ]);
    assert!(out.contains("| cpu | inference | 1 | 256 |"), "{out}");
    assert!(out.contains("| cpu | training step | 2 | 256 |"), "{out}");
    let stages: Vec<(&str, f64)> = out
        .lines()
        .skip_while(|l| !l.contains("stage of a 256×256 inference"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let share = cells.get(2)?.strip_suffix('%')?.parse().ok()?;
            Some((cells[0], share))
        })
        .collect();
    let mut expected: Vec<String> = (1..=4)
        .flat_map(|i| [format!("encoder{i} cmrf"), format!("encoder{i} maxpool")])
        .collect();
    expected.extend((1..=4).rev().flat_map(|i| {
        [
            format!("decoder{i} bicubic join"),
            format!("decoder{i} cmrf"),
        ]
    }));
    expected.push("final_conv".into());
    let names: Vec<&str> = stages.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected, "{out}");
    let total: f64 = stages.iter().map(|(_, share)| share).sum();
    // Each share is rounded to a whole percent.
    assert!(
        (total - 100.0).abs() <= stages.len() as f64 / 2.0,
        "shares add up to {total}%: {out}"
    );
}

/// `tinyunet convert --blend-with` (how the shipped skin weights were made, docs/MODELS.md):
/// share 0.5 writes every float tensor's midpoint of the two files, and a file of another network
/// (the three-class CT model) is refused with the tensor that differs named.
#[test]
fn convert_blends_two_trainings_and_refuses_another_network() {
    let dir = temp_dir("blend");
    let a = common_demo_weights();
    let b =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-isic2017.safetensors");
    let out = dir.join("blend.safetensors");
    tinyunet(&[
        "convert",
        "--weights",
        s(&a),
        "--blend-with",
        s(&b),
        "--blend-share",
        "0.5",
        "--out",
        s(&out),
    ]);
    let read = |p: &Path| decode_weights(&std::fs::read(p).unwrap()).unwrap();
    let (a, b, mid) = (read(&a), read(&b), read(&out));
    let mut checked = 0;
    for (name, t) in &mid {
        let (
            tinyunet::weights::TensorValues::Float(m),
            tinyunet::weights::TensorValues::Float(x),
            tinyunet::weights::TensorValues::Float(y),
        ) = (&t.values, &a[name].values, &b[name].values)
        else {
            continue;
        };
        for ((m, x), y) in m.iter().zip(x).zip(y) {
            assert!(
                (m - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + m.abs()),
                "{name}: {m} vs {x} and {y}"
            );
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked} float tensors compared");

    let ct = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/models/lung-ct.safetensors");
    let refused = Command::new(env!("CARGO_BIN_EXE_tinyunet"))
        .args([
            "convert",
            "--weights",
            s(&common_demo_weights()),
            "--blend-with",
            s(&ct),
            "--out",
        ])
        .arg(dir.join("never.safetensors"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("not the same network") && stderr.contains("in the first file"),
        "{stderr}"
    );
    assert!(!dir.join("never.safetensors").exists());
}
