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
