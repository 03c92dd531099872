//! Tier 1: shapes, parameter counts, CMRF channel order and bicubic upsampling against PyTorch.

mod common;

use burn::prelude::*;
use common::*;
use tinyunet::model::bicubic::bicubic_up2;
use tinyunet::model::cmrf::Cmrf;
use tinyunet::model::init::WeightInit;
use tinyunet::model::{TinyUNet, TinyUNetConfig};
use tinyunet::weights::model_io::load_module;

#[test]
fn parameter_counts_match_the_reference() {
    let device = tinyunet::backend::cpu_device();
    let one = TinyUNetConfig::with_classes(1).init(&device, 0).unwrap();
    let two = TinyUNetConfig::with_classes(2).init(&device, 0).unwrap();
    assert_eq!(one.trainable_params(), 481_105);
    assert_eq!(two.trainable_params(), 481_170);
}

#[test]
fn output_shape_follows_input_and_classes() {
    let device = tinyunet::backend::cpu_device();
    for (classes, h, w) in [(1, 32, 48), (3, 16, 16)] {
        let model = TinyUNetConfig::with_classes(classes)
            .init(&device, 1)
            .unwrap();
        let x = Tensor::<4>::zeros([2, 3, h, w], &device);
        assert_eq!(model.forward(x).dims(), [2, classes, h, w]);
    }
}

#[test]
fn bad_configs_and_inputs_are_explained() {
    let device = tinyunet::backend::cpu_device();
    let narrow = TinyUNetConfig {
        widths: [8, 16, 32, 64],
        ..Default::default()
    };
    let e = narrow.init(&device, 0).unwrap_err().to_string();
    assert!(
        e.contains("width 8") && e.contains("cascade depth 8"),
        "{e}"
    );
    let zero = TinyUNetConfig {
        classes: 0,
        ..Default::default()
    };
    assert!(
        zero.init(&device, 0)
            .unwrap_err()
            .to_string()
            .contains("classes")
    );
    let model: TinyUNet = TinyUNetConfig::default().init(&device, 0).unwrap();
    let e = model.check_input([1, 3, 100, 64]).unwrap_err().to_string();
    assert!(e.contains("multiples of 16") && e.contains("100×64"), "{e}");
    assert!(
        model
            .check_input([1, 1, 64, 64])
            .unwrap_err()
            .to_string()
            .contains("3 input channels")
    );
    assert!(model.check_input([1, 3, 64, 32]).is_ok());
}

#[test]
fn configurable_cascade_depth_and_channels() {
    let device = tinyunet::backend::cpu_device();
    for cascade in [1, 2, 4, 16] {
        let config = TinyUNetConfig {
            in_channels: 1,
            classes: 4,
            cascade,
            ..Default::default()
        };
        let model = config.init(&device, 3).unwrap();
        let x = Tensor::<4>::zeros([1, 1, 32, 32], &device);
        assert_eq!(model.forward(x).dims(), [1, 4, 32, 32], "cascade {cascade}");
    }
}

#[test]
fn same_seed_same_weights() {
    let device = tinyunet::backend::cpu_device();
    let a = TinyUNetConfig::default().init(&device, 5).unwrap();
    let b = TinyUNetConfig::default().init(&device, 5).unwrap();
    let c = TinyUNetConfig::default().init(&device, 6).unwrap();
    let wa = values(a.final_conv.weight.val());
    assert_eq!(wa, values(b.final_conv.weight.val()));
    assert_ne!(wa, values(c.final_conv.weight.val()));
}

/// PyTorch's `interpolate(scale_factor=2, mode="bicubic", align_corners=False)`, forward and
/// backward, on odd, even and one-pixel-high inputs (tests/fixtures/make_torch_fixtures.py).
#[test]
fn bicubic_matches_pytorch_forward_and_backward() {
    let set = read_set(&local_fixture("bicubic_x2.safetensors"));
    for (backend, device) in devices() {
        let device = device.autodiff();
        for case in ["odd", "even", "thin"] {
            let x = tensor4(&set, &format!("{case}.input"), &device).require_grad();
            let y = bicubic_up2(x.clone());
            let (expected, shape) = floats(&set, &format!("{case}.output"));
            assert_eq!(y.dims().to_vec(), shape, "{backend} {case}");
            let forward = max_abs_diff(&values(y.clone().inner()), &expected);
            assert!(
                forward < 1e-5,
                "{backend} {case}: forward differs by {forward}"
            );
            let upstream = tensor4(&set, &format!("{case}.upstream"), &device);
            let grads = (y * upstream).sum().backward();
            let grad = x.grad(&grads).expect("input gradient");
            let (expected, _) = floats(&set, &format!("{case}.grad_input"));
            let backward = max_abs_diff(&values(grad), &expected);
            assert!(
                backward < 1e-4,
                "{backend} {case}: gradient differs by {backward}"
            );
        }
    }
}

/// One CMRF block made by PyTorch: proves the even/odd split, the cascade order and the concat.
#[test]
fn cmrf_matches_pytorch_block() {
    let set = read_set(&local_fixture("cmrf_4_32.safetensors"));
    let weights = set
        .iter()
        .filter(|(k, _)| !k.starts_with("case."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (backend, device) in devices() {
        let block = Cmrf::new(4, 32, 8, &mut WeightInit::new(0, &device));
        let block = load_module(&block, &weights).unwrap();
        let y = block.forward(tensor4(&set, "case.input", &device));
        let (expected, _) = floats(&set, "case.output");
        let diff = max_abs_diff(&values(y), &expected);
        assert!(diff < 1e-5, "{backend}: CMRF output differs by {diff}");
    }
}

/// The custom 2×2 max-pooling kernel gives burn's general max-pooling result, forward and backward.
#[test]
fn max_pool_kernel_matches_burns_pooling() {
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    for (backend, device) in devices() {
        let x = Tensor::<4>::random([2, 3, 6, 10], burn::tensor::Distribution::Default, &device);
        let ours = values(tinyunet::kernels::max_pool2x2(x.clone()));
        let burns = values(max_pool2d(x.clone(), MaxPoolOptions::new([2, 2])));
        assert_eq!(ours, burns, "{backend}");
        let device = device.autodiff();
        let x = Tensor::<4>::from_data(x.to_data(), &device).require_grad();
        let grads = tinyunet::kernels::max_pool2x2(x.clone()).sum().backward();
        let grad = values(x.grad(&grads).unwrap());
        assert_eq!(
            grad.iter().filter(|&&g| g == 1.0).count(),
            2 * 3 * 3 * 5,
            "{backend}"
        );
    }
}
