//! Tier 1: shapes, parameter counts, CMRF channel order and bicubic upsampling against PyTorch.

mod common;

use burn::prelude::*;
use common::*;
use tinyunet::kernels::{bicubic_up2, bicubic_up2_cat};
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

/// The decoder's join kernel is the upsampling then the concatenation, bit for bit, on every
/// device, in inference and (composed) under autodiff, gradients included.
#[test]
fn bicubic_join_is_upsampling_then_concatenation() {
    for (backend, device) in devices() {
        for [n, c, s, h, w] in [[1, 3, 2, 5, 7], [2, 1, 4, 1, 1], [2, 4, 3, 8, 6]] {
            let x = Tensor::<4>::from_data(
                TensorData::new(
                    (0..n * c * h * w)
                        .map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5)
                        .collect(),
                    [n, c, h, w],
                ),
                &device,
            );
            let skip = Tensor::<4>::from_data(
                TensorData::new(
                    (0..n * s * 4 * h * w)
                        .map(|i| ((i * 11) % 17) as f32 / 5.0 - 1.6)
                        .collect(),
                    [n, s, 2 * h, 2 * w],
                ),
                &device,
            );
            let joined = bicubic_up2_cat(x.clone(), skip.clone());
            assert_eq!(joined.dims(), [n, c + s, 2 * h, 2 * w]);
            let composed = Tensor::cat(vec![bicubic_up2(x.clone()), skip.clone()], 1);
            assert_eq!(
                values(joined),
                values(composed),
                "{backend} {n}×{c}+{s}×{h}×{w}"
            );

            // Under autodiff both inputs get the composed steps' gradients.
            let ad = device.clone().autodiff();
            let grads_of = |join: bool| {
                let on_ad = |t: &Tensor<4>| Tensor::<4>::from_data(t.to_data(), &ad).require_grad();
                let (x, skip) = (on_ad(&x), on_ad(&skip));
                let y = if join {
                    bicubic_up2_cat(x.clone(), skip.clone())
                } else {
                    Tensor::cat(vec![bicubic_up2(x.clone()), skip.clone()], 1)
                };
                let weights = Tensor::<4>::ones(y.dims(), &ad).cumsum(3);
                let grads = (y * weights).sum().backward();
                (
                    values(x.grad(&grads).expect("x gradient")),
                    values(skip.grad(&grads).expect("skip gradient")),
                )
            };
            assert_eq!(grads_of(true), grads_of(false), "{backend}: gradients");
        }
    }
}

/// The GPU's bicubic (a replicated border and a transposed convolution) against the CPU's direct
/// loops, forward and backward, on shapes the fixtures miss: one or two pixels along an axis,
/// H ≠ W, several planes, several tiles of 16 and 32.
#[test]
fn bicubic_on_wgpu_matches_the_cpu_kernel_on_small_and_uneven_sizes() {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = tinyunet::backend::cpu_device();
    let (gpu, cpu) = (gpu.autodiff(), cpu.autodiff());
    for shape in [
        [1, 1, 1, 1],
        [2, 3, 1, 5],
        [1, 2, 2, 7],
        [1, 1, 6, 2],
        [2, 2, 5, 3],
        [1, 2, 64, 48],
    ] {
        let [n, c, h, w] = shape;
        let count = n * c * h * w;
        let input: Vec<f32> = (0..count)
            .map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5)
            .collect();
        let upstream: Vec<f32> = (0..4 * count)
            .map(|i| ((i * 11) % 17) as f32 / 5.0 - 1.6)
            .collect();
        let run = |device: &Device| {
            let x = Tensor::<4>::from_data(TensorData::new(input.clone(), shape), device)
                .require_grad();
            let y = bicubic_up2(x.clone());
            let g = Tensor::<4>::from_data(
                TensorData::new(upstream.clone(), [n, c, 2 * h, 2 * w]),
                device,
            );
            let grads = (y.clone() * g).sum().backward();
            (
                values(y.inner()),
                values(x.grad(&grads).expect("input gradient")),
            )
        };
        let ((y_gpu, g_gpu), (y_cpu, g_cpu)) = (run(&gpu), run(&cpu));
        let forward = max_abs_diff(&y_gpu, &y_cpu);
        assert!(forward < 1e-5, "{shape:?}: forward differs by {forward}");
        let backward = max_abs_diff(&g_gpu, &g_cpu);
        assert!(backward < 1e-5, "{shape:?}: gradient differs by {backward}");
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

/// The custom 2×2 max-pooling kernel gives burn's general max-pooling result and gradient, ties
/// included.
#[test]
fn max_pool_kernel_matches_burns_pooling() {
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    for (backend, device) in devices() {
        let x = Tensor::<4>::random([2, 3, 6, 10], burn::tensor::Distribution::Default, &device);
        let ours = values(tinyunet::kernels::max_pool2x2(x.clone()));
        let burns = values(max_pool2d(x.clone(), MaxPoolOptions::new([2, 2])));
        assert_eq!(ours, burns, "{backend}");
        // Gradients for a random upstream gradient; a value repeated within a window tests ties.
        let x = x.clone().slice_assign(
            [0..1, 0..1, 0..2, 0..2],
            Tensor::full([1, 1, 2, 2], 2.0, &device),
        );
        let upstream =
            Tensor::<4>::random([2, 3, 3, 5], burn::tensor::Distribution::Default, &device);
        let grad = |ours: bool| {
            let ad = device.clone().autodiff();
            let x = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let pooled = if ours {
                tinyunet::kernels::max_pool2x2(x.clone())
            } else {
                max_pool2d(x.clone(), MaxPoolOptions::new([2, 2]))
            };
            let grads = (pooled * Tensor::from_data(upstream.to_data(), &ad))
                .sum()
                .backward();
            values(x.grad(&grads).unwrap())
        };
        let ours = grad(true);
        assert_eq!(ours, grad(false), "{backend}");
        assert_eq!(
            ours.iter().filter(|&&g| g != 0.0).count(),
            2 * 3 * 3 * 5,
            "{backend}"
        );
    }
}

/// BatchNorm in training mode in f64 on the host: output, mean, biased variance, and the
/// gradients of x, γ and β for the loss Σ out·w. `x` and `w` are `[n, c, plane]`.
#[allow(clippy::type_complexity)]
fn batch_norm_train_f64(
    x: &[f32],
    w: &[f32],
    gamma: &[f32],
    beta: &[f32],
    (n, c, plane): (usize, usize, usize),
    eps: f64,
) -> [Vec<f32>; 6] {
    let at = |i: usize, ch: usize, k: usize| (i * c + ch) * plane + k;
    let mut out = [
        vec![0f32; x.len()],
        vec![0f32; c],
        vec![0f32; c],
        vec![0f32; x.len()],
        vec![0f32; c],
        vec![0f32; c],
    ];
    let count = (n * plane) as f64;
    for ch in 0..c {
        let all = || (0..n).flat_map(move |i| (0..plane).map(move |k| at(i, ch, k)));
        let mean = all().map(|j| x[j] as f64).sum::<f64>() / count;
        let var = all().map(|j| (x[j] as f64 - mean).powi(2)).sum::<f64>() / count;
        let inv_std = 1.0 / (var + eps).sqrt();
        let (g, b) = (gamma[ch] as f64, beta[ch] as f64);
        let sum_w = all().map(|j| w[j] as f64).sum::<f64>();
        let sum_wx = all()
            .map(|j| w[j] as f64 * (x[j] as f64 - mean) * inv_std)
            .sum::<f64>();
        for j in all() {
            let xhat = (x[j] as f64 - mean) * inv_std;
            out[0][j] = (xhat * g + b) as f32;
            out[3][j] =
                (g * inv_std * (w[j] as f64 - sum_w / count - xhat * sum_wx / count)) as f32;
        }
        out[1][ch] = mean as f32;
        out[2][ch] = var as f32;
        out[4][ch] = sum_wx as f32;
        out[5][ch] = sum_w as f32;
    }
    out
}

/// The BatchNorm kernels (fused on the CPU, burn's on the GPU) in training mode agree with an f64
/// computation (output, batch statistics, gradients of x, γ and β) at least as well as burn's own
/// composed batch norm does; in inference they give burn's `batch_norm`.
#[test]
fn batch_norm_kernels_match_f64_and_burns_batch_norm() {
    use burn::tensor::Distribution;
    use burn::tensor::module::{batch_norm, batch_norm_train};
    let eps = 1e-3;
    let dims = (3, 5, 7 * 9);
    for (backend, device) in devices() {
        // A large common offset: a one-pass variance (E[x²] − m²) would lose it.
        let x = Tensor::<4>::random([3, 5, 7, 9], Distribution::Normal(40.0, 2.0), &device);
        let gamma = Tensor::<1>::random([5], Distribution::Normal(1.0, 0.5), &device);
        let beta = Tensor::<1>::random([5], Distribution::Normal(0.0, 0.5), &device);
        let weights = Tensor::<4>::random([3, 5, 7, 9], Distribution::Default, &device);
        let exact = batch_norm_train_f64(
            &values(x.clone()),
            &values(weights.clone()),
            &values(gamma.clone()),
            &values(beta.clone()),
            dims,
            eps,
        );

        let run = |ours: bool| {
            let ad = device.clone().autodiff();
            let x = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
            let gamma = Tensor::<1>::from_data(gamma.to_data(), &ad).require_grad();
            let beta = Tensor::<1>::from_data(beta.to_data(), &ad).require_grad();
            let (out, mean, var) = if ours {
                tinyunet::kernels::batch_norm_train(x.clone(), gamma.clone(), beta.clone(), eps)
            } else {
                let r = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), eps);
                (r.output, r.mean, r.variance)
            };
            // A weighted sum: the plain sum of a batch norm's output has a zero input gradient.
            let grads = (out.clone() * Tensor::from_data(weights.to_data(), &ad))
                .sum()
                .backward();
            [
                values(out.inner()),
                values(mean.inner()),
                values(var.inner()),
                values(x.grad(&grads).unwrap()),
                values(gamma.grad(&grads).unwrap()),
                values(beta.grad(&grads).unwrap()),
            ]
        };
        let (ours, burns) = (run(true), run(false));
        for (i, name) in ["output", "mean", "variance", "x grad", "γ grad", "β grad"]
            .iter()
            .enumerate()
        {
            let scale = exact[i].iter().fold(1f32, |m, v| m.max(v.abs()));
            let error = |got: &[f32]| max_abs_diff(got, &exact[i]) / scale;
            let (ours, burns) = (error(&ours[i]), error(&burns[i]));
            assert!(
                ours <= burns.max(2e-6),
                "{backend}: {name} is {ours} from f64 (relative), burn's composed batch norm {burns}"
            );
        }

        let (mean, var) = (
            Tensor::<1>::random([5], Distribution::Normal(40.0, 1.0), &device),
            Tensor::<1>::random([5], Distribution::Uniform(1.0, 4.0), &device),
        );
        let ours = tinyunet::kernels::batch_norm(
            x.clone(),
            gamma.clone(),
            beta.clone(),
            mean.clone(),
            var.clone(),
            eps,
            false,
        );
        let burns = batch_norm(x, gamma, beta, mean, var, eps);
        let diff = max_abs_diff(&values(ours), &values(burns));
        assert!(diff < 1e-5, "{backend}: inference output differs by {diff}");
    }
}

/// Exact GELU on every device: the output is burn's (erf) GELU and the gradient is
/// `Φ(x) + x·φ(x)` computed in f64, both to a few units in the last place.
#[test]
fn gelu_kernel_matches_the_exact_gelu_and_its_derivative() {
    use burn::tensor::Distribution;
    for (backend, device) in devices() {
        let x = Tensor::<4>::random([2, 3, 17, 19], Distribution::Normal(0.0, 3.0), &device);
        let ours = values(tinyunet::kernels::gelu_exact(x.clone()));
        let burns = values(burn::tensor::activation::gelu(x.clone()));
        // GELU(x) ≈ x for large x: its rounding error grows with |x|.
        let diff = (ours.iter().zip(&burns).zip(values(x.clone())))
            .map(|((a, b), v)| (a - b).abs() / v.abs().max(1.0))
            .fold(0f32, f32::max);
        assert!(
            diff < 1e-6,
            "{backend}: GELU differs from burn's by {diff} (scaled)"
        );

        let ad = device.autodiff();
        let xa = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
        let grads = tinyunet::kernels::gelu_exact(xa.clone()).sum().backward();
        let grad = values(xa.grad(&grads).unwrap());
        let exact: Vec<f32> = values(x)
            .iter()
            .map(|&v| {
                let v = v as f64;
                let cdf = 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (cdf + v * pdf) as f32
            })
            .collect();
        let diff = max_abs_diff(&grad, &exact);
        assert!(diff < 1e-6, "{backend}: GELU gradient is {diff} from exact");
    }
}

/// The depthwise 3×3 kernel gives burn's grouped convolution: output and the gradients of the
/// input and the kernel, borders and one-pixel planes included.
#[test]
fn depthwise_kernel_matches_burns_grouped_convolution() {
    use burn::tensor::Distribution;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    for (backend, device) in devices() {
        // Widths around the CPU kernel's 16 accumulator lanes, where a row and its shifted neighbour
        // split into lanes differently.
        for shape in [
            [2, 3, 5, 7],
            [1, 2, 1, 1],
            [2, 4, 16, 9],
            [2, 3, 9, 16],
            [2, 3, 6, 33],
        ] {
            let c = shape[1];
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let weight = Tensor::<4>::random([c, 1, 3, 3], Distribution::Normal(0.0, 1.0), &device);
            let upstream = Tensor::<4>::random(shape, Distribution::Default, &device);
            let run = |op: &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>| {
                output_and_gradients(&device, [&x, &weight], &upstream, op)
            };
            let ours = run(&tinyunet::kernels::depthwise3x3);
            let burns = run(&|x, weight| {
                conv2d(x, weight, None, ConvOptions::new([1, 1], [1, 1], [1, 1], c))
            });
            for (i, name) in ["output", "input grad", "kernel grad"].iter().enumerate() {
                let scale = burns[i].iter().fold(1f32, |m, v| m.max(v.abs()));
                let diff = max_abs_diff(&ours[i], &burns[i]) / scale;
                assert!(
                    diff < 2e-6,
                    "{backend} {shape:?}: {name} differs by {diff} (relative)"
                );
            }
        }
    }
}

#[test]
fn pointwise_kernel_matches_burns_convolution() {
    use burn::tensor::Distribution;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    for (backend, device) in devices() {
        // (input shape, output channels): one pixel; row blocks of 64 channels and a partial one;
        // more pixels than one 4096-pixel block; a middle layer whose blocks are narrowed.
        for (shape, c_out) in [
            ([1, 3, 1, 1], 2),
            ([2, 9, 5, 7], 130),
            ([1, 4, 64, 65], 8),
            ([2, 16, 64, 64], 32),
        ] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let weight = Tensor::<4>::random(
                [c_out, shape[1], 1, 1],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let upstream = Tensor::<4>::random(
                [shape[0], c_out, shape[2], shape[3]],
                Distribution::Default,
                &device,
            );
            let run = |op: &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>| {
                output_and_gradients(&device, [&x, &weight], &upstream, op)
            };
            let ours = run(&tinyunet::kernels::pointwise);
            let burns = run(&|x, weight| {
                conv2d(x, weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1))
            });
            for (i, name) in ["output", "input grad", "weight grad"].iter().enumerate() {
                let scale = burns[i].iter().fold(1f32, |m, v| m.max(v.abs()));
                let diff = max_abs_diff(&ours[i], &burns[i]) / scale;
                assert!(
                    diff < 1e-5,
                    "{backend} {shape:?} → {c_out}: {name} differs by {diff} (relative)"
                );
            }
        }
    }
}

#[test]
fn fused_batch_norm_and_gelu_equal_the_two_steps() {
    use burn::tensor::Distribution;
    use tinyunet::kernels::{batch_norm, gelu_exact};
    for (backend, device) in devices() {
        let x = Tensor::<4>::random([2, 5, 9, 11], Distribution::Normal(0.5, 2.0), &device);
        let stat = |lo, hi| Tensor::<1>::random([5], Distribution::Uniform(lo, hi), &device);
        let (gamma, beta, mean, var) = (
            stat(-2.0, 2.0),
            stat(-1.0, 1.0),
            stat(-1.0, 1.0),
            stat(0.1, 3.0),
        );
        let fused = batch_norm(
            x.clone(),
            gamma.clone(),
            beta.clone(),
            mean.clone(),
            var.clone(),
            1e-3,
            true,
        );
        let steps = gelu_exact(batch_norm(x, gamma, beta, mean, var, 1e-3, false));
        let diff = max_abs_diff(&values(fused), &values(steps));
        assert!(
            diff < 1e-6,
            "{backend}: fused BatchNorm+GELU differs by {diff}"
        );
    }
}

/// `op(x, weight)` on an autodiff copy of `device`, its gradients for `x` and `weight` under the
/// loss `Σ op(x, weight) · upstream`: `[output, x gradient, weight gradient]`.
fn output_and_gradients(
    device: &Device,
    [x, weight]: [&Tensor<4>; 2],
    upstream: &Tensor<4>,
    op: &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> [Vec<f32>; 3] {
    let ad = device.clone().autodiff();
    let x = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
    let weight = Tensor::<4>::from_data(weight.to_data(), &ad).require_grad();
    let y = op(x.clone(), weight.clone());
    let grads = (y.clone() * Tensor::from_data(upstream.to_data(), &ad))
        .sum()
        .backward();
    [
        values(y.inner()),
        values(x.grad(&grads).unwrap()),
        values(weight.grad(&grads).unwrap()),
    ]
}
