//! Tier 2: the PyTorch reference fixture, loaded from `.safetensors` and from `.pth`, on the CPU
//! and on wgpu. Tolerances: eval logits 1e-4 max abs, train loss 1e-5 relative, every gradient
//! 1e-3 relative (‖g − g_ref‖ / ‖g_ref‖).

mod common;

use common::*;
use tinyunet::reference::{ReferenceCase, check_reference};
use tinyunet::weights::{decode_weights, import_weights, infer_config};

fn check(weights_file: &str) {
    let bytes = std::fs::read(reference_fixture(weights_file)).unwrap();
    let weights = decode_weights(&bytes).unwrap();
    let case = ReferenceCase::from_tensors(&read_set(&reference_fixture(
        "tinyunet_c1_s1_64x64.case.safetensors",
    )))
    .unwrap();
    let config = infer_config(&weights).unwrap();
    assert_eq!(config, tinyunet::TinyUNetConfig::with_classes(1));
    for (backend, device) in devices() {
        let model = import_weights(&config.init(&device, 0).unwrap(), &weights).unwrap();
        let report = pollster::block_on(check_reference(&model, &case)).unwrap();
        // Printed so the README's stated figures can be refreshed from a test run.
        eprintln!("{weights_file} on {backend}: {}", report.summary());
        assert!(
            report.passes(),
            "{weights_file} on {backend}: {}",
            report.summary()
        );
        assert_eq!(report.grad_rel.len(), case.grads.len());
    }
}

#[test]
fn safetensors_fixture_matches_pytorch() {
    check("tinyunet_c1_s1_64x64.weights.safetensors");
}

#[test]
fn pth_fixture_matches_pytorch() {
    check("tinyunet_c1_s1_64x64.weights.pth");
}

#[test]
fn pth_and_safetensors_hold_the_same_state_dict() {
    let pth = decode_weights(
        &std::fs::read(reference_fixture("tinyunet_c1_s1_64x64.weights.pth")).unwrap(),
    )
    .unwrap();
    let st = decode_weights(
        &std::fs::read(reference_fixture(
            "tinyunet_c1_s1_64x64.weights.safetensors",
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(pth.len(), 434);
    assert_eq!(pth, st);
}
