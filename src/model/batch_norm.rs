//! BatchNorm2d with PyTorch's semantics and parameter names.
//!
//! burn's `BatchNorm` updates the running variance with the biased batch variance; PyTorch uses the
//! unbiased one. Checkpoints trained with either must behave the same here, so this layer follows
//! PyTorch exactly: `running = (1 - momentum) * running + momentum * batch_stat`, with the unbiased
//! variance, and `eps` added inside the square root.

use burn::module::{Param, RunningState};
use burn::prelude::*;

use crate::kernels::{batch_norm, batch_norm_train, gelu_exact};

/// PyTorch's `BatchNorm2d` (eps and momentum as configured by TinyU-Net: 1e-3 and 0.03).
#[derive(Module, Debug)]
pub struct BatchNorm2d {
    /// Scale (γ), PyTorch name `weight`.
    pub weight: Param<Tensor<1>>,
    /// Shift (β), PyTorch name `bias`.
    pub bias: Param<Tensor<1>>,
    /// Running mean, used in inference.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance, used in inference.
    pub running_var: RunningState<Tensor<1>>,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Weight of the new batch statistic in the running average (PyTorch's meaning).
    pub momentum: f64,
    /// Training forwards normalise with the running statistics (and leave them as they are)
    /// instead of the batch's: PyTorch's `bn.eval()` inside a `model.train()`. γ and β still learn.
    pub frozen: bool,
    /// Inference forwards normalise with the batch's statistics and fold them into the running
    /// ones, as a training forward does, without an autodiff graph (see
    /// `train::adapt_batch_norm`).
    pub adapting: bool,
}

impl BatchNorm2d {
    /// A fresh layer: γ = 1, β = 0, running mean 0, running variance 1.
    pub fn new(channels: usize, eps: f64, momentum: f64, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            eps,
            momentum,
            frozen: false,
            adapting: false,
        }
    }

    /// Normalises `[N, C, H, W]`. On an autodiff (training) device it uses the batch statistics
    /// and updates the running ones, unless [`BatchNorm2d::frozen`]; otherwise it uses the
    /// running statistics, unless [`BatchNorm2d::adapting`].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.apply(x, false)
    }

    /// [`BatchNorm2d::forward`], then exact GELU: in inference one pass over the activations
    /// instead of two (and one hand-over to the thread pool, not two).
    pub fn forward_gelu(&self, x: Tensor<4>) -> Tensor<4> {
        self.apply(x, true)
    }

    /// Whether a forward on `device` normalises with the running statistics (inference: not
    /// an autodiff device, not [`BatchNorm2d::adapting`]).
    pub fn uses_running_stats(&self, device: &Device) -> bool {
        !device.is_autodiff() && !self.adapting
    }

    /// `[γ, β, running mean, running variance]` on `device`.
    pub fn inference_parameters(&self, device: &Device) -> [Tensor<1>; 4] {
        [
            self.weight.val(),
            self.bias.val(),
            self.running_mean.value().to_device(device),
            self.running_var.value().to_device(device),
        ]
    }

    fn apply(&self, x: Tensor<4>, gelu: bool) -> Tensor<4> {
        let y = if x.device().is_autodiff() {
            if self.frozen {
                self.forward_frozen(x)
            } else {
                self.forward_train(x)
            }
        } else if self.adapting {
            self.forward_train(x)
        } else {
            let [gamma, beta, mean, variance] = self.inference_parameters(&x.device());
            return batch_norm(x, gamma, beta, mean, variance, self.eps, gelu);
        };
        if gelu { gelu_exact(y) } else { y }
    }

    /// The inference normalisation as an affine map `x·s + t` per channel, composed from
    /// differentiable operations so that γ, β and the input get gradients; the running statistics
    /// are constants here.
    fn forward_frozen(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let channels = self.weight.dims()[0];
        let mean = self.running_mean.value().to_device(&device).detach();
        let variance = self.running_var.value().to_device(&device).detach();
        let scale = self.weight.val() / (variance + self.eps).sqrt();
        let shift = self.bias.val() - mean * scale.clone();
        x * scale.reshape([1, channels, 1, 1]) + shift.reshape([1, channels, 1, 1])
    }

    fn forward_train(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = x.dims();
        let (output, mean, variance) =
            batch_norm_train(x, self.weight.val(), self.bias.val(), self.eps);
        self.track(mean, variance, n * h * w);
        output
    }

    /// Whether a forward on `device` normalises with the batch's statistics (and folds them
    /// into the running ones): training (not [`BatchNorm2d::frozen`]) or adapting.
    pub fn uses_batch_stats(&self, device: &Device) -> bool {
        if device.is_autodiff() {
            !self.frozen
        } else {
            self.adapting
        }
    }

    /// Folds a batch's mean and biased variance over `count` values per channel into the
    /// running statistics, as PyTorch does (the variance made unbiased first).
    pub fn track(&self, mean: Tensor<1>, variance: Tensor<1>, count: usize) {
        let device = mean.device();
        let count = count as f64;
        let unbiased = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        let m = self.momentum;
        let running_mean = self.running_mean.value_sync().to_device(&device).detach() * (1.0 - m)
            + mean.detach() * m;
        let running_var = self.running_var.value_sync().to_device(&device).detach() * (1.0 - m)
            + variance.detach() * (m * unbiased);
        self.running_mean.update(running_mean);
        self.running_var.update(running_var);
    }
}
