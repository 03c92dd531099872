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
mod flex;

use burn::backend::tensor::FloatTensor;
#[allow(unused_imports)] // `Autodiff` and `Flex` are named by the macro's generated routing.
use burn::backend::{Autodiff, Backend, Cube, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;

use crate::model::bicubic::upsample_matrix;

/// TinyU-Net's custom operations.
#[backend_extension(Autodiff, Flex, Cube)]
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

    /// 2×2 max-pooling with stride 2, `[N, C, H, W]` → `[N, C, H/2, W/2]`.
    /// Default: the backend's general `max_pool2d`.
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
    }
}

/// The GPU backend uses the default (composed) implementations.
impl TinyKernels for Cube {}

/// Exact (erf) GELU on any device, with an exact gradient.
pub fn gelu_exact<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::gelu_exact(x.into_dispatch()))
}

/// 2×2 max-pooling with stride 2 on any device, differentiable.
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::max_pool2x2(x.into_dispatch()))
}

/// ×2 bicubic upsampling of a tensor on any device, differentiable.
pub fn bicubic_up2(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::bicubic_up2(x.into_dispatch()))
}
