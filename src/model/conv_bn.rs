//! `ConvBN`: a bias-free convolution, BatchNorm and an optional exact GELU — TinyU-Net's only
//! building block besides the final 1×1 convolution.

use burn::module::Param;
use burn::prelude::*;
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
        let [c_out, c_in, k, _] = self.weight.dims();
        if k == 1 && self.groups == 1 {
            return self.pointwise(x, c_out);
        }
        if k == 3 && self.groups == c_out && c_in == 1 && self.bias.is_none() {
            return crate::kernels::depthwise3x3(x, self.weight.val());
        }
        let pad = k / 2;
        let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], self.groups);
        conv2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(Param::val),
            options,
        )
    }

    /// A 1×1 convolution as matrix products `W[c_out, c_in] · X[n, c_in, h·w]`
    /// ([`crate::kernels::pointwise`]). Same result as `conv2d`, but burn's CPU backend
    /// differentiates a 1×1 `conv2d` some 70× slower than a matmul, and half of TinyU-Net's work
    /// is 1×1 convolutions.
    fn pointwise(&self, x: Tensor<4>, c_out: usize) -> Tensor<4> {
        let y = crate::kernels::pointwise(x, self.weight.val());
        match &self.bias {
            Some(bias) => y + bias.val().reshape([1, c_out, 1, 1]),
            None => y,
        }
    }
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
        let weight = self.conv.weight.val();
        let [_, _, k, _] = weight.dims();
        let pointwise = k == 1 && self.conv.groups == 1 && self.conv.bias.is_none();
        // A training forward's first input is a plain tensor: the weight's device says whether
        // this is one.
        let device = weight.device();
        if pointwise && self.bn.uses_running_stats(&device) && !x.device().is_autodiff() {
            // Inference: one kernel on the GPU (the CPU composes the same two steps).
            let stats = self.bn.inference_parameters(&device);
            return crate::kernels::pointwise_bn(x, weight, stats, self.bn.eps, self.act);
        }
        let y = self.conv.forward(x);
        if self.act {
            self.bn.forward_gelu(y)
        } else {
            self.bn.forward(y)
        }
    }
}
