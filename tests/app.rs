//! The application layer both skins call (`tinyunet::app`): what the package and the CLI do
//! with a model, checked once here rather than in each skin.

use pollster::block_on;
use tinyunet::app::{FineTuning, KeptBecause, Segmenter, SegmenterOptions, TrainOptions};
use tinyunet::backend::cpu_device;
use tinyunet::data::image::{RgbaImage, mask_from_rgba};
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::infer::check_input_size;
use tinyunet::limits::{LIMITS, MAX_INPUT_SIZE, SIZE_MULTIPLE};
use tinyunet::metrics::mask_scores;
use tinyunet::{Error, TinyUNetConfig};

/// A generated photo and its mask (white lesion on black), `side`×`side`.
fn pair(seed: u64, side: u32) -> (RgbaImage, RgbaImage) {
    let options = SynthOptions {
        width: side,
        height: side,
        ..SynthOptions::default()
    };
    let sample = generate(seed, &options);
    let mask_rgba = sample
        .mask
        .iter()
        .flat_map(|&m| {
            let v = m * 255;
            [v, v, v, 255]
        })
        .collect();
    (
        RgbaImage::new(side, side, sample.rgba, "image").unwrap(),
        RgbaImage::new(side, side, mask_rgba, "mask").unwrap(),
    )
}

fn small() -> SegmenterOptions {
    SegmenterOptions::default().with_input_size(32)
}

#[test]
fn a_network_for_other_than_three_input_channels_is_refused_at_load_with_the_reason() {
    let device = cpu_device();
    let config = TinyUNetConfig {
        in_channels: 1,
        ..TinyUNetConfig::default()
    };
    let grayscale = config.init(&device, 0).unwrap();
    let rgb = Segmenter::new(&device, None, &small()).unwrap();
    let bytes = {
        let set = block_on(tinyunet::weights::export_weights(&grayscale)).unwrap();
        tinyunet::weights::safetensors_io::write_safetensors(&set, &[]).unwrap()
    };
    for refused in [
        Segmenter::new(&device, Some(&bytes), &small()).err(),
        Segmenter::from_model(grayscale, &small()).err(),
    ] {
        let e = refused.expect("a one-channel network was accepted");
        assert!(matches!(e, Error::Weights(_)), "{e}");
        assert!(
            e.to_string()
                .contains("this network takes 1 input channel(s)"),
            "{e}"
        );
    }
    // Loading those weights into an RGB segmenter is refused too, and its weights stay.
    let mut rgb = rgb;
    let before = block_on(rgb.export_weights()).unwrap();
    assert!(rgb.load_weights(&bytes).is_err());
    assert_eq!(block_on(rgb.export_weights()).unwrap(), before);
}

#[test]
fn options_are_checked_against_the_limits() {
    let device = cpu_device();
    assert!(check_input_size(MAX_INPUT_SIZE).is_ok());
    assert!(check_input_size(MAX_INPUT_SIZE + SIZE_MULTIPLE).is_err());
    assert_eq!(LIMITS.max_input_size, MAX_INPUT_SIZE);
    for bad in [
        small().with_input_size(100),
        small().with_flips(3),
        small().with_classes(0),
        small().with_classes(LIMITS.max_classes + 1),
    ] {
        let e = Segmenter::new(&device, None, &bad).err().expect("accepted");
        assert_eq!(e.kind(), "config", "{e}");
    }
}

#[test]
fn assess_scores_the_mask_segment_gives_against_the_given_mask() {
    let segmenter = Segmenter::new(&cpu_device(), None, &small()).unwrap();
    let (image, mask) = pair(3, 40);
    let prediction = block_on(segmenter.segment(&image)).unwrap();
    let truth = mask_from_rgba(&mask, segmenter.mask_kind(), "mask").unwrap();
    let assessed = block_on(segmenter.assess("pair", &image, &mask)).unwrap();
    assert_eq!(assessed.scores, mask_scores(&prediction.mask, &truth, 1));
    assert_eq!(assessed.doubt, prediction.doubt());
    let (other, _) = pair(4, 24);
    let e = block_on(segmenter.assess("pair", &other, &mask)).unwrap_err();
    assert!(
        e.to_string().starts_with("input: pair: the mask is 40×40"),
        "{e}"
    );
}

#[test]
fn a_fine_tuning_run_keeps_one_size_keeps_pairs_on_refusal_and_ends_with_a_report() {
    let mut segmenter = Segmenter::new(&cpu_device(), None, &small()).unwrap();
    let mut tuning = FineTuning::default();
    let (image, mask) = pair(1, 40);
    tuning
        .add_training_pair(&segmenter, "one", &image, &mask, 32)
        .unwrap();
    let e = tuning
        .add_training_pair(&segmenter, "two", &image, &mask, 64)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "config: all samples of a run must use one size (32), got 64"
    );
    let (small_image, _) = pair(2, 24);
    let e = tuning
        .add_held_out_pair(&segmenter, "three", &small_image, &mask, 32)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("input: three: the mask is 40×40"),
        "{e}"
    );
    assert_eq!(tuning.pending(), 1, "a refused pair changed the others");

    let bad = TrainOptions {
        epochs: Some(0),
        ..TrainOptions::default()
    };
    assert_eq!(tuning.start(&segmenter, &bad).unwrap_err().kind(), "config");
    assert_eq!(tuning.pending(), 1, "refused settings lost the pairs");

    let one_step = TrainOptions {
        epochs: Some(1),
        batch_size: Some(1),
        ..TrainOptions::default()
    };
    tuning.start(&segmenter, &one_step).unwrap();
    assert!(tuning.is_training());
    assert_eq!(tuning.pending(), 0);
    assert_eq!(
        tuning.start(&segmenter, &one_step).unwrap_err().to_string(),
        "config: a training run is already in progress"
    );
    let before = block_on(segmenter.export_weights()).unwrap();
    let mut events = 0;
    while block_on(tuning.step()).unwrap().is_some() {
        events += 1;
    }
    assert!(events >= 1);
    let report = tuning.finish(&mut segmenter, false).expect("no report");
    assert_eq!((report.stop, report.kept), ("completed", "last"));
    assert_eq!(report.why, KeptBecause::NothingHeldBack);
    assert_eq!((report.steps_done, report.total_steps), (1, 1));
    assert_ne!(block_on(segmenter.export_weights()).unwrap(), before);
    assert!(tuning.finish(&mut segmenter, false).is_none());
    assert_eq!(
        block_on(tuning.step()).unwrap_err().to_string(),
        "config: no training run has been started"
    );
}
