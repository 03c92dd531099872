//! The GPU backend's (burn-cubecl: WebGPU, native wgpu) own kernels for TinyU-Net's inference.
//!
//! Why they exist: burn composes an inference BatchNorm from six dispatches (four of them full
//! passes over the activations) and exact GELU from five more, runs its depthwise convolution
//! and max-pooling channels-last (a permuting copy in, another out), and joins tensors one
//! copy per input. On the CPU Vulkan/WebGPU drivers of machines without a GPU (SwiftShader in
//! Chromium, lavapipe natively) every dispatch has a fixed cost of milliseconds and every pass
//! is slow, so a 256² inference was ~780 dispatches. Each kernel here is one dispatch, one
//! thread per output value, NCHW, no permutes, with its BatchNorm (and GELU) applied before the
//! value is written. They bind at most 7 buffers (WebGPU guarantees 8 per stage). The kernels
//! are in [`kernels`]; this module launches them and is the backend's [`TinyKernels`] impl,
//! falling back to the composed defaults ([`super::composed`]) for what they do not take.
//!
//! Only forward (inference) work lands here, and the optimiser's update: autodiff composes the
//! trait's defaults, whose backward is burn's or ours (`super::autodiff`).

mod kernels;

use burn::backend::Cube;
use burn::backend::DType;
use burn::backend::Shape;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::cubecl;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

use super::{TinyKernels, bicubic_taps, composed};
use kernels::*;

/// Whether every tensor is f32, the only type these kernels are written for.
fn all_f32<'a>(tensors: impl IntoIterator<Item = &'a CubeTensor>) -> bool {
    tensors.into_iter().all(|t| t.dtype == DType::F32)
}

/// A contiguous f32 output of `shape` beside `like`.
fn output(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, DType::F32)
}

/// The launch grid for `units` threads.
fn grid(like: &CubeTensor, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&like.client, units);
    (calculate_cube_count_elemwise(&like.client, units, dim), dim)
}

/// A kernel's `u32` size argument: the GPU indexes with 32 bits.
fn small(n: usize) -> u32 {
    u32::try_from(n).expect("a tensor dimension fits in 32 bits on the GPU")
}

/// Contiguous copies of the per-channel parameter vectors.
fn vectors<const K: usize>(v: [CubeTensor; K]) -> [CubeTensor; K] {
    v.map(into_contiguous)
}

/// [`TinyKernels::bn_infer`]: one dispatch.
fn bn_infer(x: CubeTensor, params: [CubeTensor; 4], epsilon: f64, gelu: bool) -> CubeTensor {
    let x = into_contiguous(x);
    let [gamma, beta, mean, var] = vectors(params);
    let shape = x.meta.shape().clone();
    let (channels, plane) = (
        shape[1],
        shape.num_elements() / shape[0].max(1) / shape[1].max(1),
    );
    let out = output(&x, shape.clone());
    let (count, dim) = grid(&x, shape.num_elements());
    bn_act_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        mean.into_buffer_arg(),
        var.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(plane),
        small(channels),
        epsilon as f32,
        gelu,
    );
    out
}

/// The `(output channels, pixels)` tile of [`pointwise_bn`] for `x` `[N, Ci, H, W]` and
/// `weight` `[Co, Ci, 1, 1]`: 8 × 8 where Co and H·W are multiples of 8 (all of TinyU-Net's
/// layers at the sizes it takes), 4 × 4 where they are of 4, none otherwise. On lavapipe a
/// 256² inference's five photos took 24.5 s with 4 × 4, 19.5 s with 8 × 4, 18.9 s with 4 × 8,
/// 17.8 s with 16 × 8 and 18.5 s with 8 × 16, 14.9–16.9 s with 8 × 8 (2026-12-03).
fn pointwise_tile(x: &CubeTensor, weight: &CubeTensor) -> Option<(usize, usize)> {
    let [_, _, h, w] = x.meta.shape().dims();
    let co = weight.meta.shape()[0];
    [8, 4]
        .into_iter()
        .find(|t| co.is_multiple_of(*t) && (h * w).is_multiple_of(*t))
        .map(|t| (t, t))
}

/// [`TinyKernels::pointwise_bn`]: one dispatch, for the shapes [`pointwise_tile`] takes.
fn pointwise_bn(
    x: CubeTensor,
    weight: CubeTensor,
    params: [CubeTensor; 4],
    epsilon: f64,
    gelu: bool,
    (rows, cols): (usize, usize),
) -> CubeTensor {
    let (x, weight) = (into_contiguous(x), into_contiguous(weight));
    let [gamma, beta, mean, var] = vectors(params);
    let [n, ci, h, w] = x.meta.shape().dims();
    let co = weight.meta.shape()[0];
    let out = output(&x, Shape::new([n, co, h, w]));
    let (count, dim) = grid(&x, n * co * h * w / (rows * cols));
    pointwise_bn_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        weight.into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        mean.into_buffer_arg(),
        var.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(ci),
        small(co),
        small(h * w),
        epsilon as f32,
        rows,
        cols,
        gelu,
    );
    out
}

/// [`TinyKernels::depthwise3x3`]: one dispatch, NCHW.
fn depthwise3x3(x: CubeTensor, weight: CubeTensor) -> CubeTensor {
    let (x, weight) = (into_contiguous(x), into_contiguous(weight));
    let shape = x.meta.shape().clone();
    let out = output(&x, shape.clone());
    let (count, dim) = grid(&x, shape.num_elements());
    depthwise_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        weight.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(shape[2]),
        small(shape[3]),
        small(shape[1]),
    );
    out
}

/// [`TinyKernels::cascade_branch`]: one dispatch, in place in `joined` (copied first
/// only if another tensor shares its buffer).
fn cascade_branch(
    joined: CubeTensor,
    y: CubeTensor,
    weight: CubeTensor,
    params: [CubeTensor; 4],
    epsilon: f64,
    branch: usize,
) -> CubeTensor {
    let joined = into_contiguous(joined);
    let joined = if joined.can_mut() {
        joined
    } else {
        joined.copy()
    };
    let weight = into_contiguous(weight);
    let [gamma, beta, mean, var] = vectors(params);
    let [n, total, h, w] = joined.meta.shape().dims();
    let c = weight.meta.shape()[0];
    let (count, dim) = grid(&joined, n * c * h * w);
    cascade_kernel::launch(
        &joined.client,
        count,
        dim,
        into_contiguous(y).into_buffer_arg(),
        weight.into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        mean.into_buffer_arg(),
        var.into_buffer_arg(),
        joined.clone().into_buffer_arg(),
        small(h),
        small(w),
        small(c),
        small(total / c),
        small(branch),
        epsilon as f32,
        branch == 0,
    );
    joined
}

/// [`TinyKernels::max_pool2x2`]: one dispatch, NCHW.
fn max_pool2x2(x: CubeTensor) -> CubeTensor {
    let x = into_contiguous(x);
    let [n, c, h, w] = x.meta.shape().dims();
    let out = output(&x, Shape::new([n, c, h / 2, w / 2]));
    let (count, dim) = grid(&x, n * c * (h / 2) * (w / 2));
    max_pool_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(h),
        small(w),
    );
    out
}

/// [`TinyKernels::bicubic_up2_cat`]: two dispatches (the up-sampling, the skip's copy),
/// straight into the joined tensor.
fn bicubic_up2_cat(x: CubeTensor, skip: CubeTensor) -> CubeTensor {
    let (x, skip) = (into_contiguous(x), into_contiguous(skip));
    let [n, c, h, w] = x.meta.shape().dims();
    let s = skip.meta.shape()[1];
    let total = c + s;
    let out = output(&x, Shape::new([n, total, 2 * h, 2 * w]));
    let [t0, t1, t2, t3] = bicubic_taps::phase_taps()[0];
    let (count, dim) = grid(&x, n * c * h * w);
    bicubic_up2_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(h),
        small(w),
        small(c),
        small(total),
        t0,
        t1,
        t2,
        t3,
    );
    let (count, dim) = grid(&x, skip.meta.shape().num_elements());
    copy_skip_kernel::launch(
        &x.client,
        count,
        dim,
        skip.clone().into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(4 * h * w),
        small(s),
        small(total),
    );
    out
}

/// [`TinyKernels::adam_update`]: one dispatch for the three tensors.
fn adam_update(
    [param, grad, moment_1, moment_2]: [CubeTensor; 4],
    [beta_1, beta_2, correction, epsilon, learning_rate]: [f64; 5],
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [param, grad, moment_1, moment_2] = [param, grad, moment_1, moment_2].map(into_contiguous);
    let shape = param.meta.shape().clone();
    let [param_out, moment_1_out, moment_2_out] = [(); 3].map(|_| output(&param, shape.clone()));
    let (count, dim) = grid(&param, shape.num_elements());
    adam_kernel::launch(
        &param.client,
        count,
        dim,
        param.clone().into_buffer_arg(),
        grad.into_buffer_arg(),
        moment_1.into_buffer_arg(),
        moment_2.into_buffer_arg(),
        param_out.clone().into_buffer_arg(),
        moment_1_out.clone().into_buffer_arg(),
        moment_2_out.clone().into_buffer_arg(),
        beta_1 as f32,
        beta_2 as f32,
        correction as f32,
        epsilon as f32,
        learning_rate as f32,
    );
    (param_out, moment_1_out, moment_2_out)
}

/// Inference through the kernels above for f32, the composed defaults otherwise; everything a
/// backward needs keeps the defaults.
impl TinyKernels for Cube {
    fn bn_infer(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        gelu: bool,
    ) -> FloatTensor<Self> {
        let params = [gamma, beta, mean, variance];
        if !all_f32(params.iter().chain([&x])) {
            return composed::bn_infer::<Self>(x, params, epsilon, gelu);
        }
        bn_infer(x, params, epsilon, gelu)
    }

    fn pointwise_bn(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        gelu: bool,
    ) -> FloatTensor<Self> {
        let params = [gamma, beta, mean, variance];
        match pointwise_tile(&x, &weight) {
            Some(tile) if all_f32(params.iter().chain([&x, &weight])) => {
                pointwise_bn(x, weight, params, epsilon, gelu, tile)
            }
            _ => composed::pointwise_bn::<Self>(x, weight, params, epsilon, gelu),
        }
    }

    fn depthwise3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        if !all_f32([&x, &weight]) {
            return composed::depthwise3x3::<Self>(x, weight);
        }
        depthwise3x3(x, weight)
    }

    fn cascade_branch(
        joined: FloatTensor<Self>,
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        branch: usize,
    ) -> FloatTensor<Self> {
        let params = [gamma, beta, mean, variance];
        if !all_f32(params.iter().chain([&joined, &y, &weight])) {
            return composed::cascade_branch::<Self>(joined, y, weight, params, epsilon, branch);
        }
        cascade_branch(joined, y, weight, params, epsilon, branch)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if !all_f32([&x]) {
            return composed::max_pool2x2::<Self>(x);
        }
        max_pool2x2(x)
    }

    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        if !all_f32([&x, &skip]) {
            return composed::bicubic_up2_cat::<Self>(x, skip);
        }
        bicubic_up2_cat(x, skip)
    }

    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        beta_1: f64,
        beta_2: f64,
        correction: f64,
        epsilon: f64,
        learning_rate: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let scalars = [beta_1, beta_2, correction, epsilon, learning_rate];
        if !all_f32([&param, &grad, &moment_1, &moment_2]) {
            return composed::adam_update::<Self>(param, grad, [moment_1, moment_2], scalars);
        }
        adam_update([param, grad, moment_1, moment_2], scalars)
    }
}
