//! The trait's default bodies composed of burn's operations, as free functions: the defaults
//! call them, and so does a backend that overrides an operation for what its own kernels take
//! (the GPU's for f32) and must fall back for the rest.

use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::{Device, FloatTensor, IndexingUpdateOp, IntTensor};
use burn::backend::{Backend, TensorMetadata};
use burn::prelude::*;
use burn::tensor::Slice;

use super::TinyKernels;
use super::bicubic_taps::{HALO, tile_for, tile_matrix, window_indices};

/// [`TinyKernels::bn_infer`]: burn's `batch_norm`, then [`TinyKernels::gelu_exact`] if `gelu`.
pub fn bn_infer<B: TinyKernels>(
    x: FloatTensor<B>,
    [gamma, beta, mean, variance]: [FloatTensor<B>; 4],
    epsilon: f64,
    gelu: bool,
) -> FloatTensor<B> {
    let y = <B as ModuleOps<B>>::batch_norm(x, gamma, beta, mean, variance, epsilon);
    if gelu { B::gelu_exact(y) } else { y }
}

/// [`TinyKernels::adam_update`]: burn's Adam, operation for operation (`AdaptiveMomentum::
/// transform`, then the step), so that the CPU's training is what it was with burn's optimiser.
pub fn adam_update<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    [moment_1, moment_2]: [FloatTensor<B>; 2],
    [beta_1, beta_2, correction, epsilon, learning_rate]: [f64; 5],
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (beta_1, beta_2) = (beta_1 as f32, beta_2 as f32);
    let moment_1 = B::float_add(
        B::float_mul_scalar(moment_1, beta_1.into()),
        B::float_mul_scalar(grad.clone(), (1.0 - beta_1).into()),
    );
    let moment_2 = B::float_add(
        B::float_mul_scalar(moment_2, beta_2.into()),
        B::float_mul_scalar(B::float_powi_scalar(grad, 2.into()), (1.0 - beta_2).into()),
    );
    let step = B::float_div(
        B::float_mul_scalar(moment_1.clone(), (correction as f32).into()),
        B::float_add_scalar(B::float_sqrt(moment_2.clone()), (epsilon as f32).into()),
    );
    let param = B::float_sub(param, B::float_mul_scalar(step, learning_rate.into()));
    (param, moment_1, moment_2)
}

/// [`TinyKernels::pointwise_bn`]: [`TinyKernels::pointwise`], then [`TinyKernels::bn_infer`].
pub fn pointwise_bn<B: TinyKernels>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    [gamma, beta, mean, variance]: [FloatTensor<B>; 4],
    epsilon: f64,
    gelu: bool,
) -> FloatTensor<B> {
    let y = B::pointwise(x, weight);
    B::bn_infer(y, gamma, beta, mean, variance, epsilon, gelu)
}

/// [`TinyKernels::depthwise3x3`]: the backend's grouped `conv2d`.
pub fn depthwise3x3<B: Backend>(x: FloatTensor<B>, weight: FloatTensor<B>) -> FloatTensor<B> {
    let options = depthwise3x3_options(weight.shape()[0]);
    B::conv2d(x, weight, None, options)
}

/// [`TinyKernels::max_pool2x2`]: the backend's general `max_pool2d`.
pub fn max_pool2x2<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
}

/// [`TinyKernels::bicubic_up2_cat`]: [`TinyKernels::bicubic_up2`], then a concatenation.
pub fn bicubic_up2_cat<B: TinyKernels>(x: FloatTensor<B>, skip: FloatTensor<B>) -> FloatTensor<B> {
    B::float_cat(vec![B::bicubic_up2(x), skip], 1)
}

/// [`TinyKernels::bicubic_up2_cat_backward`]: `grad`'s first `channels` channels through
/// [`TinyKernels::bicubic_up2_backward`], the rest (the skip's) as they are.
pub fn bicubic_up2_cat_backward<B: TinyKernels>(
    grad: FloatTensor<B>,
    channels: usize,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let [n, total, h, w] = grad.shape().dims();
    let part = |range: core::ops::Range<usize>| {
        let all = |d: usize| Slice::from(0..d);
        B::float_slice(grad.clone(), &[all(n), Slice::from(range), all(h), all(w)])
    };
    let x_grad = B::bicubic_up2_backward(part(0..channels));
    (x_grad, part(channels..total))
}

/// [`TinyKernels::cascade_branch`]: slices, `depthwise3x3`, `bn_infer`, `slice_assign`.
pub fn cascade_branch<B: TinyKernels>(
    joined: FloatTensor<B>,
    y: FloatTensor<B>,
    weight: FloatTensor<B>,
    [gamma, beta, mean, variance]: [FloatTensor<B>; 4],
    epsilon: f64,
    branch: usize,
) -> FloatTensor<B> {
    let [n, total, h, w] = joined.shape().dims();
    let c = weight.shape()[0];
    let all = |d: usize| Slice::from(0..d);
    let block = |k: usize| [all(n), Slice::from(k * c..(k + 1) * c), all(h), all(w)];
    let (mut joined, source) = if branch == 0 {
        // Channel 2j+p of y is (j, p) of [N, c, 2, H, W].
        let pairs = B::float_reshape(y, Shape::new([n, c, 2, h, w]));
        let half = |p: usize| {
            let slices = [all(n), all(c), Slice::from(p..p + 1), all(h), all(w)];
            let part = B::float_slice(pairs.clone(), &slices);
            B::float_reshape(part, Shape::new([n, c, h, w]))
        };
        let odd = half(1);
        let sum = B::float_add(half(0), odd.clone());
        (B::float_slice_assign(joined, &block(0), sum), odd)
    } else {
        let source = B::float_slice(joined.clone(), &block(branch));
        (joined, source)
    };
    debug_assert!(total >= (branch + 2) * c);
    let d = B::depthwise3x3(source, weight);
    let d = B::bn_infer(d, gamma, beta, mean, variance, epsilon, false);
    joined = B::float_slice_assign(joined, &block(branch + 1), d);
    joined
}

/// A `[N, c, H, W]` half of `[N, 2c, H, W]` `y`: its channels 2j (`parity` 0) or 2j + 1.
fn half<B: Backend>(y: &FloatTensor<B>, parity: usize) -> FloatTensor<B> {
    let [n, two_c, h, w] = y.shape().dims();
    let c = two_c / 2;
    // Channel 2j+p of y is (j, p) of [N, c, 2, H, W].
    let pairs = B::float_reshape(y.clone(), Shape::new([n, c, 2, h, w]));
    let all = |d: usize| Slice::from(0..d);
    let slices = [
        all(n),
        all(c),
        Slice::from(parity..parity + 1),
        all(h),
        all(w),
    ];
    B::float_reshape(B::float_slice(pairs, &slices), Shape::new([n, c, h, w]))
}

/// Channels `k·c .. (k + 1)·c` of `[N, C, …]` `t`.
fn channel_block<B: Backend>(t: &FloatTensor<B>, k: usize, c: usize) -> FloatTensor<B> {
    let shape = t.shape();
    let mut slices: Vec<Slice> = shape.iter().map(|&d| Slice::from(0..d)).collect();
    slices[1] = Slice::from(k * c..(k + 1) * c);
    B::float_slice(t.clone(), &slices)
}

/// Rows `k·c .. (k + 1)·c` of a stacked parameter (`[d·c, …]`): branch `k`'s.
fn branch_rows<B: Backend>(t: &FloatTensor<B>, k: usize, c: usize) -> FloatTensor<B> {
    let shape = t.shape();
    let mut slices: Vec<Slice> = shape.iter().map(|&d| Slice::from(0..d)).collect();
    slices[0] = Slice::from(k * c..(k + 1) * c);
    B::float_slice(t.clone(), &slices)
}

/// [`TinyKernels::cmrf_cascade_train`]: the steps, each through the backend's operations.
pub fn cmrf_cascade_train<B: TinyKernels>(
    y: FloatTensor<B>,
    weight: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    epsilon: f64,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let c = y.shape()[1] / 2;
    let depth = gamma.shape()[0] / c.max(1);
    let odd = half::<B>(&y, 1);
    let mut branches = vec![B::float_add(half::<B>(&y, 0), odd.clone())];
    let (mut means, mut variances) = (Vec::new(), Vec::new());
    let mut d = odd;
    for i in 0..depth {
        let z = B::depthwise3x3(d, branch_rows::<B>(&weight, i, c));
        let (g, b) = (
            branch_rows::<B>(&gamma, i, c),
            branch_rows::<B>(&beta, i, c),
        );
        let (out, mean, variance) = B::bn_train(z, g, b, epsilon);
        means.push(mean);
        variances.push(variance);
        d = out.clone();
        branches.push(out);
    }
    let stacked = |parts: Vec<FloatTensor<B>>| {
        if parts.is_empty() {
            B::float_zeros(Shape::new([0]), &y.device(), y.dtype().into())
        } else {
            B::float_cat(parts, 0)
        }
    };
    (
        B::float_cat(branches, 1),
        stacked(means),
        stacked(variances),
    )
}

/// [`TinyKernels::cmrf_cascade_train_backward`]: the steps' adjoints in reverse, each through
/// the backend's operations.
#[allow(clippy::type_complexity)]
pub fn cmrf_cascade_train_backward<B: TinyKernels>(
    y: FloatTensor<B>,
    joined: FloatTensor<B>,
    weight: FloatTensor<B>,
    gamma: FloatTensor<B>,
    [mean, variance]: [FloatTensor<B>; 2],
    epsilon: f64,
    grad: FloatTensor<B>,
) -> (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
) {
    let [n, two_c, h, w] = y.shape().dims();
    let c = two_c / 2;
    let depth = gamma.shape()[0] / c.max(1);
    let odd = half::<B>(&y, 1);
    let branch_grad = |k: usize| channel_block::<B>(&grad, k, c);
    // The gradient of the last branch's output, then of each earlier one's.
    let mut g = branch_grad(depth);
    let mut parts = Vec::with_capacity(depth);
    for i in (0..depth).rev() {
        let source = if i == 0 {
            odd.clone()
        } else {
            channel_block::<B>(&joined, i, c)
        };
        let kernel = branch_rows::<B>(&weight, i, c);
        let z = B::depthwise3x3(source.clone(), kernel.clone());
        let rows = |t: &FloatTensor<B>| branch_rows::<B>(t, i, c);
        let (gz, gamma_grad, beta_grad) =
            B::bn_train_backward(z, rows(&gamma), rows(&mean), rows(&variance), epsilon, g);
        let (source_grad, kernel_grad) = B::depthwise3x3_backward(source, kernel, gz);
        g = B::float_add(source_grad, branch_grad(i));
        parts.push((kernel_grad, gamma_grad, beta_grad));
    }
    // Branch 0 is even + odd: both get its gradient; odd also the chain's (`g` by now).
    let odd_grad = if depth == 0 { branch_grad(0) } else { g };
    let pair = |t: FloatTensor<B>| B::float_reshape(t, Shape::new([n, c, 1, h, w]));
    let y_grad = B::float_cat(vec![pair(branch_grad(0)), pair(odd_grad)], 2);
    parts.reverse();
    let device = y.device();
    let stacked = |parts: Vec<FloatTensor<B>>, shape: Shape| {
        if parts.is_empty() {
            B::float_zeros(shape, &device, y.dtype().into())
        } else {
            B::float_cat(parts, 0)
        }
    };
    let (kernels, rest): (Vec<_>, Vec<_>) = parts.into_iter().map(|(k, g, b)| (k, (g, b))).unzip();
    let (gammas, betas): (Vec<_>, Vec<_>) = rest.into_iter().unzip();
    (
        B::float_reshape(y_grad, Shape::new([n, two_c, h, w])),
        stacked(kernels, Shape::new([0, 1, 3, 3])),
        stacked(gammas, Shape::new([0])),
        stacked(betas, Shape::new([0])),
    )
}

/// Doubles `[N, C, H, W]` `x` along `dim` (2 or 3): the windows of its tiles, then one product.
pub fn up2_along<B: Backend>(x: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let n = x.shape()[dim];
    let tile = tile_for(n);
    let indices = window_index_tensor::<B>(n, tile, &x.device());
    let windows = B::float_select(x, dim, indices);
    map_runs::<B>(windows, dim, &tile_matrix(tile), 2 * tile, tile + 2 * HALO)
}

/// The adjoint of [`up2_along`]: the transposed product gives each window its gradient, and the
/// scatter-add of the windows (the `select`'s adjoint) sums them where they overlap and where
/// clamped taps fell on a border pixel.
pub fn up2_along_backward<B: Backend>(grad: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let n = grad.shape()[dim] / 2;
    let (tile, device) = (tile_for(n), grad.device());
    let (window, m) = (tile + 2 * HALO, tile_matrix(tile));
    let transposed: Vec<f32> = (0..window)
        .flat_map(|k| m.iter().skip(k).step_by(window).copied())
        .collect();
    let windows = map_runs::<B>(grad, dim, &transposed, window, 2 * tile);
    let mut shape = windows.shape();
    shape[dim] = n;
    let zeros = B::float_zeros(shape, &device, windows.dtype().into());
    let indices = window_index_tensor::<B>(n, tile, &device);
    B::float_select_assign(zeros, dim, indices, windows, IndexingUpdateOp::Add)
}

/// [`bicubic_taps::window_indices`] on the device, in its integer type.
fn window_index_tensor<B: Backend>(n: usize, tile: usize, device: &Device<B>) -> IntTensor<B> {
    let int_dtype = burn::backend::get_or_init_device_settings::<B>(device).int_dtype;
    let indices = window_indices(n, tile);
    let len = indices.len();
    B::int_from_data(
        TensorData::new(indices, [len]).convert_dtype(int_dtype.into()),
        device,
    )
}

/// Maps every run of `cols` consecutive positions along `dim` (2 or 3) of `[N, C, H, W]` `x` to
/// `rows` positions by the `[rows, cols]` row-major `matrix`: one (batched) matrix product.
fn map_runs<B: Backend>(
    x: FloatTensor<B>,
    dim: usize,
    matrix: &[f32],
    rows: usize,
    cols: usize,
) -> FloatTensor<B> {
    let mut shape = x.shape();
    let [n, c, h, w] = shape.dims();
    let runs = shape[dim] / cols;
    let data = TensorData::new(matrix.to_vec(), [rows, cols]).convert_dtype(x.dtype());
    let matrix = B::float_from_data(data, &x.device());
    let out = if dim == 3 {
        let lines = B::float_reshape(x, Shape::new([n * c * h * runs, cols]));
        B::float_matmul(lines, B::float_transpose(matrix))
    } else {
        let planes = B::float_reshape(x, Shape::new([n * c, runs, cols, w]));
        B::float_matmul(
            B::float_reshape(matrix, Shape::new([1, 1, rows, cols])),
            planes,
        )
    };
    shape[dim] = runs * rows;
    B::float_reshape(out, shape)
}

/// Stride 1, padding 1, one group per channel.
pub fn depthwise3x3_options(channels: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], channels)
}
