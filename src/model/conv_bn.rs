//! `ConvBN`: a bias-free convolution, BatchNorm and an optional exact GELU — TinyU-Net's only
//! building block besides the final 1×1 convolution.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::batch_norm::BatchNorm2d;
use super::init::WeightInit;

/// BatchNorm epsilon used throughout TinyU-Net.
pub const BN_EPS: f64 = 1e-3;
/// BatchNorm momentum used throughout TinyU-Net (PyTorch meaning).
pub const BN_MOMENTUM: f64 = 0.03;

/// A 2-D convolution with stride 1 and "same" padding; the weight is `[out, in/groups, k, k]`.
#[derive(Module, Debug)]
pub struct Conv2d {
    /// Kernel, PyTorch layout `[out, in/groups, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Optional bias (only the final layer has one).
    pub bias: Option<Param<Tensor<1>>>,
    /// Number of groups (equal to the channel count for depthwise convolutions).
    pub groups: usize,
}

impl Conv2d {
    /// A convolution initialised like PyTorch's default (Kaiming-uniform, a = √5).
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        groups: usize,
        bias: bool,
        init: &mut WeightInit,
    ) -> Self {
        let fan_in = (c_in / groups) * kernel * kernel;
        let weight = init.uniform_fan_in([c_out, c_in / groups, kernel, kernel], fan_in);
        let bias = bias.then(|| init.uniform_fan_in([c_out], fan_in));
        Self {
            weight,
            bias,
            groups,
        }
    }

    /// Applies the convolution to `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        convolve(
            x,
            self.weight.val(),
            self.bias.as_ref().map(Param::val),
            self.groups,
        )
    }
}

/// A stride-1, "same"-padded convolution with the given kernel `[out, in/groups, k, k]`.
pub fn convolve(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    groups: usize,
) -> Tensor<4> {
    let [c_out, c_in, k, _] = weight.dims();
    if k == 1 && groups == 1 {
        return pointwise(x, weight.reshape([1, c_out, c_in]), bias);
    }
    let pad = k / 2;
    conv2d(
        x,
        weight,
        bias,
        ConvOptions::new([1, 1], [pad, pad], [1, 1], groups),
    )
}

/// A 1×1 convolution as one batched matrix product `W[c_out, c_in] · X[n, c_in, h·w]`.
/// Same result as `conv2d`, but burn's CPU backend differentiates a 1×1 `conv2d` some 70×
/// slower than a matmul, and half of TinyU-Net's work is 1×1 convolutions.
fn pointwise(x: Tensor<4>, weight: Tensor<3>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [n, c_in, h, w] = x.dims();
    let c_out = weight.dims()[1];
    let y = weight.matmul(x.reshape([n, c_in, h * w]));
    let y = match bias {
        Some(bias) => y + bias.reshape([1, c_out, 1]),
        None => y,
    };
    y.reshape([n, c_out, h, w])
}

/// Conv (no bias) → BatchNorm → GELU (or no activation).
#[derive(Module, Debug)]
pub struct ConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// The normalisation.
    pub bn: BatchNorm2d,
    /// Whether GELU follows.
    pub act: bool,
}

impl ConvBn {
    /// A `k×k` ConvBN from `c_in` to `c_out` channels.
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        groups: usize,
        act: bool,
        init: &mut WeightInit,
    ) -> Self {
        Self {
            conv: Conv2d::new(c_in, c_out, kernel, groups, false, init),
            bn: BatchNorm2d::new(c_out, BN_EPS, BN_MOMENTUM, init.device()),
            act,
        }
    }

    /// Applies the block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_reordered(x, None)
    }

    /// True when the weights live on an autodiff device: BatchNorm then uses batch statistics.
    /// Decided by the weights, not the input: a network's first input is a plain tensor even in
    /// training.
    pub fn is_training(&self) -> bool {
        self.conv.weight.val().device().is_autodiff()
    }

    /// Applies the block; with `order`, output channel `j` is the block's channel `order[j]`.
    ///
    /// In inference the BatchNorm is folded into the convolution (`W·γ/σ`, `β − μ·γ/σ`), which
    /// saves a pass over the activations, and the reordering is applied to those small folded
    /// weights rather than to the output. `order` is only accepted in inference: in training the
    /// running statistics would be updated in the wrong order.
    pub fn forward_reordered(&self, x: Tensor<4>, order: Option<Tensor<1, Int>>) -> Tensor<4> {
        let y = if self.is_training() {
            debug_assert!(order.is_none(), "channel reordering is for inference only");
            self.bn.forward(self.conv.forward(x))
        } else {
            let (scale, shift) = self.bn.folded();
            let weight = self.conv.weight.val() * scale.reshape([-1, 1, 1, 1]);
            let (weight, shift) = match order {
                Some(order) => (weight.select(0, order.clone()), shift.select(0, order)),
                None => (weight, shift),
            };
            convolve(x, weight, Some(shift), self.conv.groups)
        };
        if self.act { gelu(y) } else { y }
    }
}

/// Exact (erf) GELU with an exact gradient.
///
/// burn 0.22's fused GELU backward differentiates the tanh approximation instead of the erf form,
/// which skews gradients against PyTorch; when gradients are needed we compose it from `erf`,
/// whose derivative is exact.
pub fn gelu(x: Tensor<4>) -> Tensor<4> {
    if x.device().is_autodiff() {
        let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0;
        x * cdf * 0.5
    } else {
        activation::gelu(x)
    }
}
