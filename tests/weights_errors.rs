//! Every way a weights file can be wrong gives a specific error and leaves the model untouched.

mod common;

use common::*;
use tinyunet::TinyUNetConfig;
use tinyunet::weights::{
    TensorValues, decode_weights, export_weights, import_weights,
    safetensors_io::{FloatStorage, write_safetensors_as},
};

fn reference_weights() -> tinyunet::weights::TensorSet {
    decode_weights(
        &std::fs::read(reference_fixture(
            "tinyunet_c1_s1_64x64.weights.safetensors",
        ))
        .unwrap(),
    )
    .unwrap()
}

fn first_weight(model: &tinyunet::TinyUNet) -> Vec<f32> {
    values(model.encoder1.cmrf.pwconv1.conv.weight.val())
}

#[test]
fn errors_name_the_problem_and_keep_the_model() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 11).unwrap();
    let before = first_weight(&model);
    let good = reference_weights();

    let mut missing = good.clone();
    missing.remove("decoder3.cmrf.m.2.bn.running_var");
    let e = import_weights(&model, &missing).unwrap_err().to_string();
    assert!(
        e.contains("missing") && e.contains("decoder3.cmrf.m.2.bn.running_var"),
        "{e}"
    );

    let mut renamed = good.clone();
    let t = renamed.remove("final_conv.bias").unwrap();
    renamed.insert("head.bias".into(), t);
    let e = import_weights(&model, &renamed).unwrap_err().to_string();
    assert!(e.contains("final_conv.bias"), "{e}");

    let mut extra = good.clone();
    extra.insert("encoder5.weight".into(), good["final_conv.bias"].clone());
    let e = import_weights(&model, &extra).unwrap_err().to_string();
    assert!(e.contains("unexpected tensor `encoder5.weight`"), "{e}");

    let mut nan = good.clone();
    if let TensorValues::Float(v) = &mut nan
        .get_mut("encoder2.cmrf.pwconv2.conv.weight")
        .unwrap()
        .values
    {
        v[17] = f32::NAN;
    }
    let e = import_weights(&model, &nan).unwrap_err().to_string();
    assert!(
        e.contains("encoder2.cmrf.pwconv2.conv.weight")
            && e.contains("non-finite")
            && e.contains("17"),
        "{e}"
    );

    let mut inf = good.clone();
    if let TensorValues::Float(v) =
        &mut inf.get_mut("decoder1.cmrf.pwconv1.bn.bias").unwrap().values
    {
        v[0] = f32::INFINITY;
    }
    assert!(
        import_weights(&model, &inf)
            .unwrap_err()
            .to_string()
            .contains("non-finite")
    );

    let mut negative_var = good.clone();
    if let TensorValues::Float(v) = &mut negative_var
        .get_mut("encoder1.cmrf.m.0.bn.running_var")
        .unwrap()
        .values
    {
        v[0] = -1.0;
    }
    assert!(
        import_weights(&model, &negative_var)
            .unwrap_err()
            .to_string()
            .contains("negative variance")
    );

    let e = import_weights(&model, &tinyunet::weights::TensorSet::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");

    assert_eq!(
        first_weight(&model),
        before,
        "a failed import changed the model"
    );
}

#[test]
fn a_two_class_file_does_not_load_into_a_one_class_model() {
    let device = tinyunet::backend::cpu_device();
    let two = TinyUNetConfig::with_classes(2).init(&device, 1).unwrap();
    let two_weights = pollster::block_on(export_weights(&two)).unwrap();
    let one = TinyUNetConfig::with_classes(1).init(&device, 2).unwrap();
    let before = first_weight(&one);
    let e = import_weights(&one, &two_weights).unwrap_err().to_string();
    assert!(
        e.contains("final_conv") && e.contains("needs [1") && e.contains("2 class(es)"),
        "{e}"
    );
    assert_eq!(first_weight(&one), before);
}

#[test]
fn truncated_and_garbage_files_are_errors_not_panics() {
    let bytes = std::fs::read(reference_fixture(
        "tinyunet_c1_s1_64x64.weights.safetensors",
    ))
    .unwrap();
    for cut in [0, 3, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = decode_weights(&bytes[..cut]).unwrap_err().to_string();
        assert!(e.starts_with("weights:"), "cut {cut}: {e}");
    }
    let pth = std::fs::read(reference_fixture("tinyunet_c1_s1_64x64.weights.pth")).unwrap();
    for cut in [10, pth.len() / 3, pth.len() - 22] {
        assert!(decode_weights(&pth[..cut]).is_err(), "cut {cut}");
    }
    assert!(decode_weights(b"this is not a weights file at all").is_err());
}

#[test]
fn a_file_of_another_kind_is_named_as_such_before_any_detail() {
    let not_weights = "weights: this is not a safetensors or PyTorch .pth weights file";
    let png = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/samples/sample-1_mask.png"),
    )
    .unwrap();
    let e = decode_weights(&png).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{not_weights} (it starts with a PNG image's signature"
        )),
        "{e}"
    );
    let e = decode_weights(b"this is not a weights file at all")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{not_weights} (it starts with the bytes 74 68 69 73 20 69 73 20"
        )),
        "{e}"
    );
    // One sentence with single spaces (a source line break once left a run of them in it).
    assert!(
        !e.contains("  ") && e.contains("; safetensors starts with"),
        "{e}"
    );
}

#[test]
fn export_then_import_gives_identical_outputs() {
    let device = tinyunet::backend::cpu_device();
    let model = TinyUNetConfig::default().init(&device, 21).unwrap();
    let set = pollster::block_on(export_weights(&model)).unwrap();
    let f32_size = write_safetensors_as(&set, &[], FloatStorage::F32)
        .unwrap()
        .len();
    for storage in [
        FloatStorage::F32,
        FloatStorage::F16,
        FloatStorage::F16Kernels,
    ] {
        let bytes = write_safetensors_as(&set, &[], storage).unwrap();
        if storage != FloatStorage::F32 {
            assert!(
                bytes.len() * 100 < f32_size * 55,
                "{storage:?}: {} bytes against {f32_size} in f32",
                bytes.len()
            );
        }
        let back = decode_weights(&bytes).unwrap();
        let other = TinyUNetConfig::default().init(&device, 22).unwrap();
        let loaded = import_weights(&other, &back).unwrap();
        let x = burn::tensor::Tensor::<4>::ones([1, 3, 32, 32], &device) * 0.5;
        let a = values(model.forward(x.clone()));
        let b = values(loaded.forward(x));
        let diff = max_abs_diff(&a, &b);
        match storage {
            FloatStorage::F32 => assert_eq!(diff, 0.0),
            FloatStorage::F16 | FloatStorage::F16Kernels => {
                assert!(diff < 1e-2, "{storage:?} storage changed outputs by {diff}")
            }
        }
    }
}
