//! The operations on `Tensor`s, for model code on any device: each routes through
//! [`Dispatch`] to the device's backend (and autodiff where the device records gradients).

use burn::backend::Dispatch;
use burn::prelude::*;

use super::TinyKernels;

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

/// The CMRF cascade in training ([`TinyKernels::cmrf_cascade_train`]), differentiable:
/// `(joined, batch mean, batch variance)`, the statistics stacked as `gamma` is (constants to
/// autodiff). On the CPU one kernel forward and one backward, a task per channel.
pub fn cmrf_cascade_train(
    y: Tensor<4>,
    weight: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (joined, mean, variance) = Dispatch::cmrf_cascade_train(
        y.into_dispatch(),
        weight.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (
        Tensor::from_dispatch(joined),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// One Adam update of a parameter on any device ([`TinyKernels::adam_update`]): `(parameter,
/// first moment, second moment)` after the step. One dispatch on the GPU.
pub fn adam_update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    [beta_1, beta_2, correction, epsilon, learning_rate]: [f64; 5],
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let (param, moment_1, moment_2) = Dispatch::adam_update(
        param.into_dispatch(),
        grad.into_dispatch(),
        moment_1.into_dispatch(),
        moment_2.into_dispatch(),
        beta_1,
        beta_2,
        correction,
        epsilon,
        learning_rate,
    );
    (
        Tensor::from_dispatch(param),
        Tensor::from_dispatch(moment_1),
        Tensor::from_dispatch(moment_2),
    )
}
