//! Custom operations behind burn's backend-extension mechanism: one trait, a fast CPU kernel for
//! `burn-flex`, burn's own kernels (composed) for the GPU backend, and a hand-written backward for
//! autodiff. Model code calls the `Tensor`-level functions here and stays backend-agnostic.
//!
//! It began with three operations. Exact GELU: burn's fused GELU backward differentiates the tanh
//! approximation on the GPU backend, and composing the exact one from `erf` costs five passes
//! over the activations on the CPU, where burn-flex has an exact fused kernel. ×2 bicubic
//! upsampling: burn's generic `interpolate` was a third of a 256×256 CPU inference, has no
//! backward at all, and its GPU kernel does not compile on SwiftShader's WebGPU. 2×2
//! max-pooling: burn-flex's general pooling kernel took a tenth. Speed added the rest
//! (`tensor_ops.rs` lists them all): 1×1 and depthwise convolutions, BatchNorm (training and
//! inference, GELU fused), the CMRF cascade fused for inference and training, the decoder's
//! bicubic join and Adam's update; on the GPU our own CubeCL kernels (`cube/`), on the CPU direct
//! loops (`flex/`).

mod autodiff;
pub mod bicubic_taps;
mod composed;
#[cfg(feature = "webgpu")]
mod cube;
mod fast_math;
mod flex;
mod tensor_ops;

pub use tensor_ops::*;

#[cfg(feature = "webgpu")]
#[allow(unused_imports)] // named by the macro's generated routing
use burn::backend::Cube;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
#[allow(unused_imports)] // `Autodiff` and `Flex` are named by the macro's generated routing.
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::Slice;

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
        composed::up2_along::<Self>(composed::up2_along::<Self>(x, 3), 2)
    }

    /// The decoder's join: `cat([bicubic_up2(x), skip], 1)` for `x` `[N, C, H, W]` and `skip`
    /// `[N, S, 2H, 2W]`. Default: those two steps (differentiable where they are).
    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::bicubic_up2_cat::<Self>(x, skip)
    }

    /// The gradients of [`TinyKernels::bicubic_up2_cat`] for `x` and `skip`, from the gradient
    /// of the join, `grad` `[N, C + S, 2H, 2W]`, and `channels` = C. Default: the two channel
    /// ranges of `grad` (slices), the first through [`TinyKernels::bicubic_up2_backward`].
    fn bicubic_up2_cat_backward(
        grad: FloatTensor<Self>,
        channels: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        composed::bicubic_up2_cat_backward::<Self>(grad, channels)
    }

    /// The gradient of [`TinyKernels::bicubic_up2`]: `[N, C, 2H, 2W]` → `[N, C, H, W]`.
    /// Default: the exact adjoint of the forward's steps, in reverse: per axis, the transposed
    /// tile matrix takes each tile's gradient back to its window, then a scatter-add (the
    /// `select`'s adjoint) sums the overlapping windows and folds the clamped taps onto the
    /// border pixels.
    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::up2_along_backward::<Self>(composed::up2_along_backward::<Self>(grad, 2), 3)
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
        composed::bn_infer::<Self>(x, [gamma, beta, mean, variance], epsilon, gelu)
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
        composed::pointwise_bn::<Self>(x, weight, [gamma, beta, mean, variance], epsilon, gelu)
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
        composed::depthwise3x3::<Self>(x, weight)
    }

    /// The gradients of [`TinyKernels::depthwise3x3`] for `x` and `weight`. Default: the
    /// backend's convolution backward.
    fn depthwise3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let options = composed::depthwise3x3_options(weight.shape()[0]);
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

    /// The CMRF cascade in training: as [`TinyKernels::cmrf_cascade`], but each depthwise
    /// ConvBN normalises with the batch's own statistics, which it returns too: `(joined, mean,
    /// biased variance)`, the statistics stacked as the parameters are (`[d·c]`). `weight`,
    /// `gamma` and `beta` are stacked likewise. Default: the steps composed (slices, an add,
    /// [`TinyKernels::depthwise3x3`], [`TinyKernels::bn_train`], concatenations).
    fn cmrf_cascade_train(
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composed::cmrf_cascade_train::<Self>(y, weight, gamma, beta, epsilon)
    }

    /// The gradients of [`TinyKernels::cmrf_cascade_train`] for `y`, `weight`, `gamma` and
    /// `beta`, from its inputs, its output `joined`, the statistics it returned and the
    /// gradient of `joined`. The convolutions' outputs are computed again from `joined` (where
    /// each branch's input is the previous branch's output) rather than kept. Default: the
    /// steps' adjoints in reverse, composed of the backend's operations.
    #[allow(clippy::too_many_arguments)]
    fn cmrf_cascade_train_backward(
        y: FloatTensor<Self>,
        joined: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let stats = [mean, variance];
        composed::cmrf_cascade_train_backward::<Self>(
            y, joined, weight, gamma, stats, epsilon, grad,
        )
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
        let params = [gamma, beta, mean, variance];
        composed::cascade_branch::<Self>(joined, y, weight, params, epsilon, branch)
    }

    /// 2×2 max-pooling with stride 2, `[N, C, H, W]` → `[N, C, H/2, W/2]`.
    /// Default: the backend's general `max_pool2d`.
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::max_pool2x2::<Self>(x)
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

    /// One Adam update of a parameter, in burn's order of operations (`burn::optim::Adam`):
    /// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `p ← p − (m·correction / (√v + ε))·lr`,
    /// where `correction` and `ε` already carry the step's bias corrections. Returns `(p, m, v)`.
    /// The betas, `correction` and `ε` are f32 values (as burn's Adam computes them) carried in
    /// f64; the learning rate is the schedule's, as burn's Adam multiplies by it.
    ///
    /// Default: those thirteen element-wise operations, burn's own. On a GPU each is a dispatch,
    /// and TinyU-Net has 218 trained tensors: 2,800 of a training step's ~4,300 dispatches were
    /// the optimiser's, so the GPU backend does it in one dispatch a tensor.
    #[allow(clippy::too_many_arguments)]
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
        composed::adam_update::<Self>(
            param,
            grad,
            [moment_1, moment_2],
            [beta_1, beta_2, correction, epsilon, learning_rate],
        )
    }
}
