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
mod fast_math;
mod flex;

#[cfg(feature = "webgpu")]
#[allow(unused_imports)] // named by the macro's generated routing
use burn::backend::Cube;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
#[allow(unused_imports)] // `Autodiff` and `Flex` are named by the macro's generated routing.
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;

use bicubic_taps::upsample_matrix;

/// TinyU-Net's custom operations.
#[backend_extension(Autodiff, Flex, Cube: cfg(feature = "webgpu"))]
pub trait TinyKernels: Backend {
    /// `[N, C, H, W]` → `[N, C, 2H, 2W]`, PyTorch's bicubic (A = −0.75, half-pixel, clamped).
    ///
    /// Default: two matrix products, `M_h · X · M_wᵀ`. burn's own bicubic `interpolate` on
    /// cubecl is a fully unrolled tile kernel (3,400 lines of WGSL) that Chromium's SwiftShader
    /// WebGPU could not compile: its GPU process grew past 13 GB and was killed. The products reuse
    /// the matmul pipelines the 1×1 convolutions already compiled.
    fn bicubic_up2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape();
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let device = x.device();
        let along_w =
            Self::float_from_data(TensorData::new(upsample_matrix(w), [2 * w, w]), &device);
        let along_h = Self::float_from_data(
            TensorData::new(upsample_matrix(h), [1, 1, 2 * h, h]),
            &device,
        );
        let rows = Self::float_reshape(x, Shape::new([n * c * h, w]));
        let wide = Self::float_matmul(rows, Self::float_transpose(along_w));
        let wide = Self::float_reshape(wide, Shape::new([n, c, h, 2 * w]));
        Self::float_matmul(along_h, wide)
    }

    /// The gradient of [`TinyKernels::bicubic_up2`]: `[N, C, 2H, 2W]` → `[N, C, H, W]`.
    /// Default: the adjoint as two matrix products, `M_hᵀ · G · M_w`.
    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = grad.shape();
        let (n, c, h, w) = (shape[0], shape[1], shape[2] / 2, shape[3] / 2);
        let device = grad.device();
        let along_h =
            Self::float_from_data(TensorData::new(upsample_matrix(h), [2 * h, h]), &device);
        let along_h_t =
            Self::float_reshape(Self::float_transpose(along_h), Shape::new([1, 1, h, 2 * h]));
        let along_w =
            Self::float_from_data(TensorData::new(upsample_matrix(w), [2 * w, w]), &device);
        let narrow = Self::float_matmul(along_h_t, grad);
        let rows = Self::float_reshape(narrow, Shape::new([n * c * h, 2 * w]));
        let out = Self::float_matmul(rows, along_w);
        Self::float_reshape(out, Shape::new([n, c, h, w]))
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

    /// BatchNorm with fixed (running) statistics, for inference. Default: burn's `batch_norm`.
    fn bn_infer(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::batch_norm(x, gamma, beta, mean, variance, epsilon)
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

/// Stride 1, padding 1, one group per channel.
fn depthwise3x3_options(channels: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], channels)
}

/// The GPU backend uses the default (composed) implementations.
#[cfg(feature = "webgpu")]
impl TinyKernels for Cube {}

/// Exact (erf) GELU on any device, with an exact gradient.
pub fn gelu_exact<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::gelu_exact(x.into_dispatch()))
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

/// BatchNorm with fixed statistics on any device.
pub fn batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    mean: Tensor<1>,
    variance: Tensor<1>,
    epsilon: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bn_infer(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
    ))
}

/// ×2 bicubic upsampling of a tensor on any device, differentiable.
pub fn bicubic_up2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bicubic_up2(x.into_dispatch()))
}
