//! "Not what this model was made for" (`src/domain.rs`) on real images: every CT slice of
//! `../shared/data/medseg-covid-ct` warns, no dermoscopy photo of PH2, ISIC 2016 or ISIC 2017
//! does (nor the page's samples, nor generated training images), and the committed photos of
//! objects (`tests/fixtures/photos`, CC0 and public domain) warn. A segmentation carries the
//! verdict.
//!
//! `cargo test --features cli --test domain -- --nocapture` prints, per set, the statistic that
//! comes closest to each bound: the margins docs/DOUBT.md "Not what this model was made for" quotes.

mod common;

use std::path::{Path, PathBuf};

use tinyunet::TinyUNetConfig;
use tinyunet::data::folder::{image_files, read_image};
use tinyunet::data::image::RgbaImage;
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::domain::{
    GREYSCALE_BELOW, ImageStats, MIN_COLOURED, Reason, UNLIKE_SKIN_ABOVE, VIVID_ABOVE, image_stats,
    out_of_domain,
};
use tinyunet::infer::segment;
use tinyunet::weights::ImageKind;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn images(dir: &Path) -> Vec<(String, RgbaImage)> {
    let files = image_files(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(!files.is_empty(), "{}: no images", dir.display());
    files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, read_image(f).unwrap())
        })
        .collect()
}

fn photo(name: &str) -> RgbaImage {
    let path: PathBuf = root().join("tests/fixtures/photos").join(name);
    read_image(&path).unwrap()
}

/// The image of `stats` whose `key` is largest (or smallest, with `min`), with its value.
fn extreme(
    stats: &[(String, ImageStats)],
    key: impl Fn(&ImageStats) -> f64,
    min: bool,
) -> (&str, f64) {
    let mut best: Option<(&str, f64)> = None;
    for (name, s) in stats {
        let v = key(s);
        if best.is_none_or(|(_, b)| if min { v < b } else { v > b }) {
            best = Some((name, v));
        }
    }
    best.unwrap()
}

#[test]
fn no_dermoscopy_photo_warns_and_the_closest_margins_are_printed() {
    let names = ["ph2", "isic2016-crops", "isic2017"];
    let Some(dirs) = common::all_present(names.map(common::shared_data)) else {
        return;
    };
    let mut warned = Vec::new();
    for (name, dir) in names.into_iter().zip(dirs) {
        let stats: Vec<(String, ImageStats)> = images(&dir.join("images"))
            .into_iter()
            .map(|(n, image)| (n, image_stats(&image)))
            .collect();
        for (n, s) in &stats {
            if let Some(reason) = s.verdict() {
                warned.push(format!("{name}/{n}: {reason:?} {s:?}"));
            }
        }
        // The hue share is only asked of images with enough coloured pixels.
        let unlike = |s: &ImageStats| {
            if s.coloured >= MIN_COLOURED {
                s.unlike_skin
            } else {
                0.0
            }
        };
        let (c_name, chroma) = extreme(&stats, |s| s.chroma, true);
        let (u_name, unlike) = extreme(&stats, unlike, false);
        let (v_name, vivid) = extreme(&stats, |s| s.vivid, false);
        println!(
            "{name}: {} photos; least chroma {chroma:.2} ({c_name}; warns below \
             {GREYSCALE_BELOW}), most unlike-skin share {unlike:.3} ({u_name}; warns above \
             {UNLIKE_SKIN_ABOVE}), most vivid share {vivid:.3} ({v_name}; warns above \
             {VIVID_ABOVE})",
            stats.len()
        );
    }
    assert!(
        warned.is_empty(),
        "dermoscopy photos warned:\n{}",
        warned.join("\n")
    );
}

#[test]
fn every_ct_slice_warns_that_it_is_greyscale() {
    let Some(ct) = common::shared_data("medseg-covid-ct") else {
        return;
    };
    let slices = images(&ct.join("images"));
    assert_eq!(slices.len(), 50);
    let mut most = 0.0f64;
    for (name, image) in &slices {
        let s = image_stats(image);
        most = most.max(s.chroma);
        assert_eq!(s.verdict(), Some(Reason::Greyscale), "{name}: {s:?}");
    }
    println!(
        "medseg-covid-ct: {} slices; most chroma {most:.2} (warns below {GREYSCALE_BELOW})",
        slices.len()
    );
}

#[test]
fn photos_of_objects_warn() {
    // A coffee cup on a wooden table (scikit-image's `coffee`, CC0): orange and brown like skin,
    // but far more saturated than any dermoscopy photo.
    let coffee = image_stats(&photo("coffee.jpg"));
    println!("coffee.jpg: {coffee:?}");
    assert_eq!(coffee.verdict(), Some(Reason::VividColours), "{coffee:?}");
    // A rocket launch against the sky (scikit-image's `rocket`, public domain): mostly blue.
    let rocket = image_stats(&photo("rocket.jpg"));
    println!("rocket.jpg: {rocket:?}");
    assert_eq!(rocket.verdict(), Some(Reason::NoSkinTones), "{rocket:?}");
}

#[test]
fn the_demo_samples_and_generated_training_images_do_not_warn() {
    for (name, image) in images(&root().join("www/samples")) {
        if name.contains("_mask") {
            continue;
        }
        assert_eq!(out_of_domain(&image), None, "www/samples/{name}");
    }
    for seed in 0..40 {
        let s = generate(seed, &SynthOptions::with_size(128, 128));
        let image = RgbaImage::new(128, 128, s.rgba, "synth").unwrap();
        let stats = image_stats(&image);
        assert_eq!(stats.verdict(), None, "generated seed {seed}: {stats:?}");
    }
}

#[test]
fn a_segmentation_carries_the_verdict() {
    let Some([ct, skin]) =
        common::all_present(["medseg-covid-ct", "isic2016-crops"].map(common::shared_data))
    else {
        return;
    };
    // Any network will do: the verdict is on the image, not on the weights.
    let model = TinyUNetConfig::with_classes(1)
        .init(&tinyunet::backend::cpu_device(), 0)
        .unwrap();
    let ct = images(&ct.join("images")).swap_remove(0).1;
    let skin = images(&skin.join("images")).swap_remove(0).1;
    let p = pollster::block_on(segment(&model, &[ct, skin], 32, 1, ImageKind::Dermoscopy)).unwrap();
    let o = p[0].out_of_domain.as_ref().expect("the CT slice warns");
    assert_eq!(o.reason, Reason::Greyscale);
    assert!(
        o.message.starts_with("This looks like a greyscale image"),
        "{}",
        o.message
    );
    assert_eq!(p[1].out_of_domain, None);
}

/// `tinyunet eval` and `predict` name every image the model was not made for, and only those.
#[test]
fn the_command_line_warns_per_image() {
    let Some(ct) = common::shared_data("medseg-covid-ct") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tinyunet-domain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["images", "masks", "out"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // Copies, not links: the shared data stay untouched, and the folder is removed at the end.
    let copy = |from: PathBuf, to: &str| std::fs::copy(from, dir.join(to)).unwrap();
    copy(ct.join("images/medseg_000.jpg"), "images/medseg_000.jpg");
    // The slice's own mask holds class indices, which the one-class model refuses (tests/cli.rs):
    // an empty mask of its size lets `eval` score it and say what it is.
    let (w, h) = image::image_dimensions(ct.join("images/medseg_000.jpg")).unwrap();
    image::GrayImage::new(w, h)
        .save(dir.join("masks/medseg_000_segmentation.png"))
        .unwrap();
    copy(
        root().join("www/samples/isic-0010018.jpg"),
        "images/isic-0010018.jpg",
    );
    copy(
        root().join("www/samples/isic-0010018_mask.png"),
        "masks/isic-0010018_mask.png",
    );
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tinyunet"))
            .args(args)
            .args(["--size", "32"])
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    };
    let path = |sub: &str| dir.join(sub).to_str().unwrap().to_string();

    let (stdout, stderr) = run(&[
        "eval",
        "--images",
        &path("images"),
        "--masks",
        &path("masks"),
    ]);
    let line = |name: &str| stdout.lines().find(|l| l.starts_with(name)).unwrap();
    assert!(
        line("medseg_000 ").ends_with(" out_of_domain=greyscale"),
        "{stdout}"
    );
    assert!(!line("isic-0010018 ").contains("out_of_domain"), "{stdout}");
    assert!(
        stderr.contains("warning: medseg_000: This looks like a greyscale image"),
        "{stderr}"
    );
    assert!(!stderr.contains("isic-0010018"), "{stderr}");

    let (stdout, stderr) = run(&[
        "predict",
        "--images",
        &path("images"),
        "--out",
        &path("out"),
    ]);
    assert!(stdout.contains("wrote 2 mask(s)"), "{stdout}");
    assert!(
        stdout.contains("1 image(s) are not what the model was made for"),
        "{stdout}"
    );
    assert!(
        stderr.contains("medseg_000.jpg: This looks like a greyscale image"),
        "{stderr}"
    );
    assert!(!stderr.contains("isic-0010018"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
