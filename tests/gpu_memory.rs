//! The GPU's buffer pools (`tinyunet::gpu_memory`): read on wgpu (lavapipe here), absent on the
//! CPU, and a fine-tune on wgpu gives back what it leaves unused. No sizes of this machine are
//! asserted beyond a tensor's own bytes: only orderings of one test's own readings.

mod common;

use std::sync::Mutex;

use burn::prelude::*;
use common::*;
use pollster::block_on;
use tinyunet::app::{FineTuning, Segmenter, SegmenterOptions, TrainOptions};
use tinyunet::backend::cpu_device;
use tinyunet::data::image::RgbaImage;
use tinyunet::data::synth::{SynthOptions, generate};
use tinyunet::gpu_memory::{PassPools, gpu_memory, release_gpu_memory};

/// The pools are the device's, not a test's: the tests that compare readings take turns.
static POOLS: Mutex<()> = Mutex::new(());

#[test]
fn the_pools_hold_a_tensor_on_wgpu_and_the_cpu_has_none() {
    let cpu = cpu_device();
    let _on_cpu = Tensor::<2>::ones([64, 64], &cpu);
    assert_eq!(gpu_memory(&cpu), None);
    assert_eq!(gpu_memory(&cpu.clone().autodiff()), None);
    assert_eq!(release_gpu_memory(&cpu), None);

    let Some(device) = wgpu_device() else { return };
    let _turn = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = 256 * 256 * 4;
    let tensor = Tensor::<2>::ones([256, 256], &device);
    let held = gpu_memory(&device).expect("no pool figures on wgpu");
    assert!(held.in_use_bytes >= bytes, "{held:?}");
    assert!(held.reserved_bytes >= held.in_use_bytes, "{held:?}");
    // An autodiff device answers for the device it wraps.
    let through_autodiff = gpu_memory(&device.clone().autodiff()).expect("none through autodiff");
    assert!(
        through_autodiff.in_use_bytes >= bytes,
        "{through_autodiff:?}"
    );
    // A live tensor survives a release, with its values.
    let kept = release_gpu_memory(&device).expect("no figures after a release");
    assert!(kept.in_use_bytes >= bytes, "{kept:?}");
    assert!(values(tensor.clone()).iter().all(|&v| v == 1.0));
    // Once it is gone, a release does not leave more than before.
    drop(tensor);
    let after = release_gpu_memory(&device).unwrap();
    assert!(
        after.reserved_bytes <= kept.reserved_bytes,
        "{after:?} after {kept:?}"
    );
}

/// A generated photo and its mask, `side`×`side`.
fn pair(seed: u64, side: u32) -> (RgbaImage, RgbaImage) {
    let sample = generate(seed, &SynthOptions::with_size(side, side));
    let mask = sample
        .mask
        .iter()
        .flat_map(|&m| [m * 255, m * 255, m * 255, 255])
        .collect();
    (
        RgbaImage::new(side, side, sample.rgba, "image").unwrap(),
        RgbaImage::new(side, side, mask, "mask").unwrap(),
    )
}

/// A two-step run with a held-back pair on `device`: its report.
fn short_run(device: &Device) -> tinyunet::app::OutcomeReport {
    let options = SegmenterOptions::default().with_input_size(32);
    let mut segmenter = Segmenter::new(device, None, &options).unwrap();
    let mut tuning = FineTuning::default();
    for seed in 0..2 {
        let (image, mask) = pair(seed, 32);
        tuning
            .add_training_pair(&segmenter, "pair", &image, &mask, 32)
            .unwrap();
    }
    let (image, mask) = pair(7, 32);
    tuning
        .add_held_out_pair(&segmenter, "held", &image, &mask, 32)
        .unwrap();
    let settings = TrainOptions {
        epochs: Some(1),
        batch_size: Some(1),
        ..TrainOptions::default()
    };
    tuning.start(&segmenter, &settings).unwrap();
    while block_on(tuning.step()).unwrap().is_some() {}
    block_on(tuning.finish_scored(&mut segmenter, false))
        .unwrap()
        .expect("no report")
}

#[test]
fn a_fine_tune_reports_its_gpu_memory_and_gives_back_what_it_leaves_unused() {
    assert_eq!(short_run(&cpu_device()).gpu_memory, None);

    let Some(device) = wgpu_device() else { return };
    let _turn = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let report = short_run(&device);
    assert_eq!(report.steps_done, 2);
    let memory = report
        .gpu_memory
        .expect("no GPU memory in a wgpu run's report");
    eprintln!("wgpu run: {memory:?}");
    assert!(memory.after_release_bytes > 0, "{memory:?}");
    assert!(memory.peak_bytes >= memory.before_bytes, "{memory:?}");
    assert!(memory.peak_bytes >= memory.after_run_bytes, "{memory:?}");
    assert!(
        memory.after_release_bytes <= memory.after_run_bytes,
        "{memory:?}"
    );
}

#[test]
fn a_training_pass_gives_back_the_buffers_it_left_in_the_pools() {
    assert!(PassPools::new(&cpu_device()).is_none());

    let Some(device) = wgpu_device() else { return };
    let _turn = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let device = device.autodiff();
    let mut pools = PassPools::new(&device).unwrap();
    // A pass that left 264 MiB of buffers in the pools (more than half the page's 512 MiB budget
    // for a fine-tune): released after it.
    // (What a real step leaves: tests/gpu_pools.rs.)
    // In buffers of 8 MiB: natively the pools give back at once the pages a larger allocation
    // outgrew, and every adapter binds that much.
    let chunk = 8 << 20;
    let chunks = 33;
    let big = (chunks * chunk) as u64;
    let tensors: Vec<_> = (0..chunks)
        .map(|_| Tensor::<1>::zeros([chunk / 4], &device))
        .collect();
    drop(tensors);
    let held = gpu_memory(&device).unwrap().reserved_bytes;
    pools.after_pass();
    let after = gpu_memory(&device).unwrap().reserved_bytes;
    assert!(
        pools.peak_bytes() >= held,
        "{} < {held}",
        pools.peak_bytes()
    );
    assert!(after <= held, "{after} > {held}");
    if held >= big {
        assert!(after < big, "{after} bytes still held after the release");
    } else {
        eprintln!("the pools kept {held} of the {big} bytes freed: no release to check");
    }
}
