//! Training on the browser's kind of GPU buffer pools, natively: cubecl builds wasm with
//! exclusive pages only (one buffer per tensor; a tensor takes any free buffer at least its
//! size), which lavapipe here runs too when asked. There the gradients, weights and Adam moments
//! of a step used to land in the activations' buffers and pin them, step after step (7 MiB of
//! live tensors held 186 MiB after two 256² steps, and a pass after the first reached 530 MiB
//! where the first needed 330). The trainer now empties the pools after every pass and moves
//! the gradients into buffers of their own size (`train::compact`). Its own process: the wgpu
//! runtime takes its pool settings once. Only ratios of one run's own readings are asserted.

mod common;

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::wgpu::MemoryConfiguration;
use common::*;
use tinyunet::gpu_memory::gpu_memory;
use tinyunet::schedule::CosineSchedule;
use tinyunet::train::Trainer;
use tinyunet::weights::{decode_weights, import_weights, infer_config};

/// The native wgpu adapter with the browser's pools, or `None` (a skip) where there is none.
fn exclusive_pages_device() -> Option<Device> {
    let opened = Device::wgpu_options()
        .memory_config(MemoryConfiguration::ExclusivePages)
        .init();
    match opened {
        Ok(device) => Some(device),
        Err(e) if std::env::var_os("TINYUNET_REQUIRE_WGPU").is_some() => {
            panic!("TINYUNET_REQUIRE_WGPU is set but wgpu is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no wgpu adapter: {e}");
            None
        }
    }
}

#[test]
fn micro_batched_steps_leave_the_pools_holding_what_their_tensors_use() {
    let Some(device) = exclusive_pages_device() else {
        return;
    };
    let bytes = std::fs::read(reference_fixture(
        "tinyunet_c1_s1_64x64.weights.safetensors",
    ))
    .unwrap();
    let weights = decode_weights(&bytes).unwrap();
    let config = infer_config(&weights).unwrap();
    let mut model = import_weights(&config.init(&device, 0).unwrap(), &weights).unwrap();
    // Trained statistics, frozen: the batch runs one image a pass, as the page's fine-tune does.
    model.num_batches_tracked = model.num_batches_tracked.max(1);
    let model = model.with_frozen_batch_norm(true);
    let schedule = CosineSchedule {
        initial: 1e-4,
        minimum: 1e-6,
        total_steps: 3,
    };
    let mut trainer = Trainer::new(&model, schedule).unwrap().with_micro_batch(1);
    assert_eq!(trainer.micro_batch(), 1);
    let side = 128;
    let mut first_peak = 0;
    for step in 0..3 {
        let images = Tensor::<4>::random([2, 3, side, side], Distribution::Default, &device);
        let targets = Tensor::<4>::random([2, 1, side, side], Distribution::Default, &device)
            .greater_elem(0.5)
            .float();
        let loss: f32 = trainer.step(images, targets).loss.into_scalar();
        assert!(loss.is_finite(), "step {step}: loss {loss}");
        let held = gpu_memory(&device).expect("no pool figures on wgpu");
        let peak = trainer.pool_peak_bytes().expect("no pass peak on wgpu");
        eprintln!("step {step}: {held:?}, passes' peak {peak}");
        // Between steps only the weights, the Adam moments and what the step left live (its
        // loss) are held: the buffers no tensor uses went back, and no small tensor pins a
        // large one.
        assert!(
            held.reserved_bytes <= 4 * held.in_use_bytes,
            "step {step}: the pools hold {} bytes for {} in use",
            held.reserved_bytes,
            held.in_use_bytes
        );
        // Every pass needs about what the first did: nothing piles up from one to the next.
        if step == 0 {
            first_peak = peak;
        } else {
            assert!(
                peak <= first_peak + first_peak / 4,
                "step {step}: passes peaked at {peak} bytes, the first step's at {first_peak}"
            );
        }
    }
}
