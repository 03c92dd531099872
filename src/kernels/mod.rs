//! Custom operations behind burn's backend-extension mechanism: one trait, a fast CPU kernel for
//! `burn-flex`, burn's own kernels (composed) for the GPU backend, and a hand-written backward for
//! autodiff. Model code calls the `Tensor`-level functions here and stays backend-agnostic.
//!
//! Three operations need it. Exact GELU: burn's fused GELU backward differentiates the tanh
//! approximation on the GPU backend, and composing the exact one from `erf` costs five passes
//! over the activations on the CPU, where burn-flex has an exact fused kernel. ×2 bicubic
//! upsampling: burn's generic `interpolate` was a third of a 256×256 CPU inference, has no
//! backward at all, and its GPU kernel does not compile on SwiftShader's WebGPU. 2×2
//! max-pooling: burn-flex's general pooling kernel took a tenth. The last two are small,
//! fixed-shape stencils that a direct loop does many times faster.

mod autodiff;
pub mod bicubic_taps;
#[cfg(feature = "webgpu")]
mod cube;
mod fast_math;
mod flex;

#[cfg(feature = "webgpu")]
#[allow(unused_imports)] // named by the macro's generated routing
use burn::backend::Cube;
#[cfg(feature = "webgpu")]
use burn::backend::ops::FloatTensorOps; // `Cube::float_*` in its impl below
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::{Device, FloatTensor, IndexingUpdateOp, IntTensor};
#[allow(unused_imports)] // `Autodiff` and `Flex` are named by the macro's generated routing.
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::Slice;

use bicubic_taps::{HALO, tile_for, tile_matrix, window_indices};

/// TinyU-Net's custom operations.
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "webgpu"))]
pub trait TinyKernels: Backend {
    /// `[N, C, H, W]` → `[N, C, 2H, 2W]`, PyTorch's bicubic (A = −0.75, half-pixel, clamped).
    ///
    /// Default (the GPU's), one axis at a time: a `select` gathers overlapping windows — tiles
    /// of up to 32 pixels with the 2 either side their taps reach, clamped onto the border as
    /// PyTorch clamps ([`bicubic_taps::window_indices`]) — and one matrix product doubles every
    /// window at once with the same `[2t, t + 4]` matrix ([`bicubic_taps::tile_matrix`]). Four
    /// dispatches, at most 36 multiply-adds per output and axis whatever the image size, and
    /// matrices of a few KB uploaded.
    ///
    /// Why this form. The dense products `M_h · X · M_wᵀ` it replaces cost O(H + W) per output
    /// (2.1 G multiply-adds per 256² forward, more than the rest of the network) and built and
    /// uploaded two `[2n, n]` matrices every call. The literal 4-tap kernels lose on the CPU
    /// Vulkan drivers that users without a GPU get (lavapipe here; SwiftShader in Chromium is the
    /// same kind): burn-cubecl's direct transposed convolution (stride 2, the 16 taps) took 4.4×
    /// as long as the dense products did 12× the work — per-element index arithmetic is what
    /// those drivers run worst — and shifted slices, scalings, sums and an interleave would be
    /// some fifty dispatches. The matrix product is the kernel they run best, and the 1×1
    /// convolutions have already compiled it. burn's own bicubic `interpolate` on cubecl is a
    /// fully unrolled tile kernel (3,400 lines of WGSL) that SwiftShader could not compile: its
    /// GPU process grew past 13 GB and was killed.
    fn bicubic_up2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        up2_along::<Self>(up2_along::<Self>(x, 3), 2)
    }

    /// The decoder's join: `cat([bicubic_up2(x), skip], 1)` for `x` `[N, C, H, W]` and `skip`
    /// `[N, S, 2H, 2W]`. Default: those two steps (differentiable where they are).
    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_cat(vec![Self::bicubic_up2(x), skip], 1)
    }

    /// The gradient of [`TinyKernels::bicubic_up2`]: `[N, C, 2H, 2W]` → `[N, C, H, W]`.
    /// Default: the exact adjoint of the forward's steps, in reverse: per axis, the transposed
    /// tile matrix takes each tile's gradient back to its window, then a scatter-add (the
    /// `select`'s adjoint) sums the overlapping windows and folds the clamped taps onto the
    /// border pixels.
    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        up2_along_backward::<Self>(up2_along_backward::<Self>(grad, 2), 3)
    }

    /// Exact (erf) GELU. Default: the backend's fused GELU, which is the erf form everywhere.
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::gelu(x)
    }

    /// The exact derivative of GELU times `grad`: `grad · (Φ(x) + x·φ(x))`.
    ///
    /// burn's generic `gelu_backward` differentiates the tanh approximation instead, which skews
    /// gradients against PyTorch, so the default composes the exact formula from primitives.
    fn gelu_exact_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let half = |t| Self::float_mul_scalar(t, 0.5f32.into());
        let cdf = half(Self::float_add_scalar(
            Self::float_erf(Self::float_mul_scalar(
                x.clone(),
                core::f32::consts::FRAC_1_SQRT_2.into(),
            )),
            1f32.into(),
        ));
        let pdf = Self::float_mul_scalar(
            Self::float_exp(half(Self::float_neg(Self::float_mul(x.clone(), x.clone())))),
            (0.5 * core::f32::consts::FRAC_2_SQRT_PI * core::f32::consts::FRAC_1_SQRT_2).into(),
        );
        let slope = Self::float_add(cdf, Self::float_mul(x, pdf));
        Self::float_mul(grad, slope)
    }

    /// BatchNorm with the batch's own statistics over `[N, C, …]`: the output, and the mean and
    /// biased variance per channel (`[C]`). Default: burn's `batch_norm_train`.
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let out = <Self as ModuleOps<Self>>::batch_norm_train(x, gamma, beta, epsilon);
        (out.output, out.mean, out.variance)
    }

    /// The gradients of [`TinyKernels::bn_train`] for `x`, `gamma` and `beta`, given the
    /// gradient of its output and the statistics it returned. Default: burn's.
    fn bn_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let out = <Self as ModuleOps<Self>>::batch_norm_train_backward(
            x, gamma, mean, variance, epsilon, grad,
        );
        (out.x_grad, out.gamma_grad, out.beta_grad)
    }

    /// BatchNorm with fixed (running) statistics, for inference, then exact GELU if `gelu` (one
    /// pass over the activations where the backend fuses them). Default: burn's `batch_norm`,
    /// then [`TinyKernels::gelu_exact`].
    fn bn_infer(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        gelu: bool,
    ) -> FloatTensor<Self> {
        let y = <Self as ModuleOps<Self>>::batch_norm(x, gamma, beta, mean, variance, epsilon);
        if gelu { Self::gelu_exact(y) } else { y }
    }

    /// 1×1 convolution without bias: `x` `[N, Cin, H, W]`, `weight` `[Cout, Cin, 1, 1]` →
    /// `[N, Cout, H, W]`. Default: one (broadcast) matrix product.
    fn pointwise(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let [n, ci, h, w] = x.shape().dims();
        let co = weight.shape()[0];
        let weight = Self::float_reshape(weight, Shape::new([1, co, ci]));
        let y = Self::float_matmul(weight, Self::float_reshape(x, Shape::new([n, ci, h * w])));
        Self::float_reshape(y, Shape::new([n, co, h, w]))
    }

    /// A 1×1 convolution without bias and its inference BatchNorm (running statistics), then
    /// exact GELU if `gelu`: a ConvBN in inference. Default: [`TinyKernels::pointwise`], then
    /// [`TinyKernels::bn_infer`].
    #[allow(clippy::too_many_arguments)]
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
        let y = Self::pointwise(x, weight);
        Self::bn_infer(y, gamma, beta, mean, variance, epsilon, gelu)
    }

    /// The gradients of [`TinyKernels::pointwise`] for `x` and `weight`. Default: the matrix
    /// products of its adjoint, the weight's summed over the batch.
    fn pointwise_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [n, ci, h, w] = x.shape().dims();
        let weight_shape = weight.shape();
        let co = weight_shape[0];
        let grad = Self::float_reshape(grad, Shape::new([n, co, h * w]));
        let weight_t = Self::float_transpose(Self::float_reshape(weight, Shape::new([1, co, ci])));
        let x_grad = Self::float_matmul(weight_t, grad.clone());
        let x_t = Self::float_transpose(Self::float_reshape(x, Shape::new([n, ci, h * w])));
        let weight_grad = Self::float_sum_dim(Self::float_matmul(grad, x_t), 0);
        (
            Self::float_reshape(x_grad, Shape::new([n, ci, h, w])),
            Self::float_reshape(weight_grad, weight_shape),
        )
    }

    /// Depthwise 3×3 convolution, stride 1, zero padding 1, no bias: `x` `[N, C, H, W]`, `weight`
    /// `[C, 1, 3, 3]`. Default: the backend's grouped `conv2d`.
    fn depthwise3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let options = depthwise3x3_options(weight.shape()[0]);
        Self::conv2d(x, weight, None, options)
    }

    /// The gradients of [`TinyKernels::depthwise3x3`] for `x` and `weight`. Default: the
    /// backend's convolution backward.
    fn depthwise3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let options = depthwise3x3_options(weight.shape()[0]);
        let x_grad =
            Self::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
        let weight_grad = Self::conv2d_weight_backward(x, weight, grad, options);
        (x_grad, weight_grad)
    }

    /// The CMRF cascade in inference, everything between the block's two 1×1 ConvBNs: `y`
    /// `[N, 2c, H, W]` (pwconv1's output) → `[N, (d + 1)·c, H, W]`, the concatenation of
    /// `even + odd` and the `d` depthwise ConvBNs `b₁ = m₀(odd)`, `bᵢ = mᵢ₋₁(bᵢ₋₁)`, where
    /// `even`/`odd` are y's channels 2j and 2j + 1. `weight` stacks the `d` depthwise kernels
    /// (`[d·c, 1, 3, 3]`); `gamma`, `beta`, `mean`, `variance` their BatchNorms' (`[d·c]` each,
    /// running statistics). Default: those steps composed (slices, an add, `depthwise3x3`,
    /// `bn_infer`, a concatenation), as [`crate::model::cmrf::Cmrf`] does where this is not used.
    #[allow(clippy::too_many_arguments)]
    fn cmrf_cascade(
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let [n, two_c, h, w] = y.shape().dims();
        let c = two_c / 2;
        let depth = gamma.shape()[0] / c;
        // Channel 2j+p of y is (j, p) of [N, c, 2, H, W].
        let pairs = Self::float_reshape(y, Shape::new([n, c, 2, h, w]));
        let half = |p: usize| {
            let all = |d: usize| Slice::from(0..d);
            let slices = [all(n), all(c), Slice::from(p..p + 1), all(h), all(w)];
            let part = Self::float_slice(pairs.clone(), &slices);
            Self::float_reshape(part, Shape::new([n, c, h, w]))
        };
        let odd = half(1);
        let mut branches = vec![Self::float_add(half(0), odd.clone())];
        let mut d = odd;
        for i in 0..depth {
            let rows = Slice::from(i * c..(i + 1) * c);
            let part = |t: &FloatTensor<Self>| Self::float_slice(t.clone(), &[rows]);
            let kernel = Self::float_slice(
                weight.clone(),
                &[
                    rows,
                    Slice::from(0..1),
                    Slice::from(0..3),
                    Slice::from(0..3),
                ],
            );
            d = Self::depthwise3x3(d, kernel);
            let [g, b, m, v] = [&gamma, &beta, &mean, &variance].map(part);
            d = Self::bn_infer(d, g, b, m, v, epsilon, false);
            branches.push(d.clone());
        }
        Self::float_cat(branches, 1)
    }

    /// One branch of the CMRF cascade in inference, written into the joined output — the form
    /// the GPU runs, a dispatch per branch, as [`TinyKernels::cmrf_cascade`] would need the
    /// branches' parameters stacked first (dozens of tiny copies there). `joined` is
    /// `[N, (d + 1)·c, H, W]`, returned with its channels of branch `branch + 1` written: the
    /// depthwise 3×3 `weight` (`[c, 1, 3, 3]`) and the BatchNorm (`[c]` each, running
    /// statistics) of branch `branch`'s channels — for `branch == 0` of the odd channels of `y`
    /// (pwconv1's output, `[N, 2c, H, W]`), and then also branch 0, `even + odd`. `y` is not
    /// read for a later branch. Default: slices, `depthwise3x3`, `bn_infer`, `slice_assign`.
    #[allow(clippy::too_many_arguments)]
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
        default_cascade_branch::<Self>(
            joined, y, weight, gamma, beta, mean, variance, epsilon, branch,
        )
    }

    /// 2×2 max-pooling with stride 2, `[N, C, H, W]` → `[N, C, H/2, W/2]`.
    /// Default: the backend's general `max_pool2d`.
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
    }

    /// The gradient of [`TinyKernels::max_pool2x2`]: each window's gradient goes to its first
    /// maximum, as in PyTorch. Default: burn's pooling with indices, run again on `x`.
    fn max_pool2x2_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let int_dtype = burn::backend::get_or_init_device_settings::<Self>(&x.device()).int_dtype;
        let (k, none, one) = ([2, 2], [0, 0], [1, 1]);
        let pooled = Self::max_pool2d_with_indices(x.clone(), k, k, none, one, false, int_dtype);
        Self::max_pool2d_with_indices_backward(x, k, k, none, one, false, grad, pooled.indices)
            .x_grad
    }
}

/// [`TinyKernels::cascade_branch`] composed of burn's operations.
#[allow(clippy::too_many_arguments)]
fn default_cascade_branch<B: TinyKernels>(
    joined: FloatTensor<B>,
    y: FloatTensor<B>,
    weight: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    mean: FloatTensor<B>,
    variance: FloatTensor<B>,
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
fn up2_along<B: Backend>(x: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let n = x.shape()[dim];
    let tile = tile_for(n);
    let indices = window_index_tensor::<B>(n, tile, &x.device());
    let windows = B::float_select(x, dim, indices);
    map_runs::<B>(windows, dim, &tile_matrix(tile), 2 * tile, tile + 2 * HALO)
}

/// The adjoint of [`up2_along`]: the transposed product gives each window its gradient, and the
/// scatter-add of the windows (the `select`'s adjoint) sums them where they overlap and where
/// clamped taps fell on a border pixel.
fn up2_along_backward<B: Backend>(grad: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
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
fn depthwise3x3_options(channels: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], channels)
}

/// The GPU backend: inference through its own one-dispatch kernels ([`cube`]) for f32, the
/// composed defaults otherwise; everything a backward needs keeps the defaults.
#[cfg(feature = "webgpu")]
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
        if !cube::all_f32(&[&x, &gamma, &beta, &mean, &variance]) {
            let y = <Self as ModuleOps<Self>>::batch_norm(x, gamma, beta, mean, variance, epsilon);
            return if gelu { Self::gelu_exact(y) } else { y };
        }
        cube::bn_infer(x, [gamma, beta, mean, variance], epsilon, gelu)
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
        let [g, b, m, v] = &params;
        if !cube::all_f32(&[&x, &weight, g, b, m, v]) || !cube::pointwise_tiles(&x, &weight) {
            let [gamma, beta, mean, variance] = params;
            let y = Self::pointwise(x, weight);
            return Self::bn_infer(y, gamma, beta, mean, variance, epsilon, gelu);
        }
        cube::pointwise_bn(x, weight, params, epsilon, gelu)
    }

    fn depthwise3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        if !cube::all_f32(&[&x, &weight]) {
            let options = depthwise3x3_options(weight.shape()[0]);
            return Self::conv2d(x, weight, None, options);
        }
        cube::depthwise3x3(x, weight)
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
        let [g, b, m, v] = &params;
        if !cube::all_f32(&[&joined, &y, &weight, g, b, m, v]) {
            let [gamma, beta, mean, variance] = params;
            return default_cascade_branch::<Self>(
                joined, y, weight, gamma, beta, mean, variance, epsilon, branch,
            );
        }
        cube::cascade_branch(joined, y, weight, params, epsilon, branch)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if !cube::all_f32(&[&x]) {
            return Self::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        cube::max_pool2x2(x)
    }

    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        if !cube::all_f32(&[&x, &skip]) {
            return Self::float_cat(vec![Self::bicubic_up2(x), skip], 1);
        }
        cube::bicubic_up2_cat(x, skip)
    }
}

/// Exact (erf) GELU on any device, with an exact gradient.
pub fn gelu_exact<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::gelu_exact(x.into_dispatch()))
}

/// 1×1 convolution without bias on any device, differentiable.
pub fn pointwise(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::pointwise(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// A ConvBN in inference: the bias-free 1×1 convolution `weight` and the BatchNorm `[γ, β,
/// running mean, running variance]`, then exact GELU if `gelu` — one dispatch on the GPU.
pub fn pointwise_bn(
    x: Tensor<4>,
    weight: Tensor<4>,
    [gamma, beta, mean, variance]: [Tensor<1>; 4],
    epsilon: f64,
    gelu: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::pointwise_bn(
        x.into_dispatch(),
        weight.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
        gelu,
    ))
}

/// Depthwise 3×3 convolution (stride 1, padding 1, no bias) on any device, differentiable.
pub fn depthwise3x3(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::depthwise3x3(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// 2×2 max-pooling with stride 2 on any device, differentiable.
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::max_pool2x2(x.into_dispatch()))
}

/// BatchNorm in training mode on any device, differentiable: `(output, mean, biased variance)`.
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (out, mean, variance) = Dispatch::bn_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (
        Tensor::from_dispatch(out),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// BatchNorm with fixed statistics on any device, then exact GELU if `gelu` (fused on the CPU;
/// differentiable where autodiff composes the two steps).
pub fn batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    mean: Tensor<1>,
    variance: Tensor<1>,
    epsilon: f64,
    gelu: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bn_infer(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
        gelu,
    ))
}

/// The CMRF cascade in inference ([`TinyKernels::cmrf_cascade`]): on the CPU one pass, a task
/// per channel, instead of the eight branches' slices, add, stencils, normalisations and join.
/// Training does not call it (its BatchNorms use the batch's statistics; see
/// [`crate::model::cmrf::Cmrf`]); on an autodiff device the composed default runs, differentiable.
#[allow(clippy::too_many_arguments)]
pub fn cmrf_cascade(
    y: Tensor<4>,
    weight: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    mean: Tensor<1>,
    variance: Tensor<1>,
    epsilon: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::cmrf_cascade(
        y.into_dispatch(),
        weight.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
    ))
}

/// One branch of the CMRF cascade written into `joined` ([`TinyKernels::cascade_branch`]): the
/// GPU's inference cascade, one dispatch a branch, with no parameter stacked.
#[allow(clippy::too_many_arguments)]
pub fn cascade_branch(
    joined: Tensor<4>,
    y: Tensor<4>,
    weight: Tensor<4>,
    [gamma, beta, mean, variance]: [Tensor<1>; 4],
    epsilon: f64,
    branch: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::cascade_branch(
        joined.into_dispatch(),
        y.into_dispatch(),
        weight.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
        branch,
    ))
}

/// The decoder's join, `cat([bicubic_up2(x), skip], 1)`, on any device: written in place on the
/// CPU; differentiable (autodiff composes the two steps).
pub fn bicubic_up2_cat(x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bicubic_up2_cat(
        x.into_dispatch(),
        skip.into_dispatch(),
    ))
}

/// ×2 bicubic upsampling of a tensor on any device, differentiable.
pub fn bicubic_up2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bicubic_up2(x.into_dispatch()))
}
