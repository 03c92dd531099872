//! Adam as PyTorch's defaults (the paper's optimiser), burn's `Adam` with its update in one
//! operation ([`crate::kernels::adam_update`]): on a GPU each of the thirteen element-wise
//! operations burn's update takes is a dispatch, a training step updates 218 tensors, and on
//! the CPU Vulkan and WebGPU drivers of machines without a GPU (SwiftShader, lavapipe) a
//! dispatch has a fixed cost of milliseconds. The state is burn's own (`AdamState`), so a
//! checkpoint's optimiser state reads back either way.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;

use crate::kernels::adam_update;

/// PyTorch's Adam defaults.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

/// burn's Adam for a parameter's first step (no moments yet), one fused update after; both with
/// the constants above ([`FusedAdam::new`]).
#[derive(Clone)]
struct FusedAdam {
    first: Adam,
}

impl FusedAdam {
    fn new() -> Self {
        let first = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .build();
        Self { first }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let Some(AdamState { momentum }) = state else {
            return self.first.step(lr, tensor, grad, None);
        };
        // The step's bias corrections, in f32 as burn's `AdaptiveMomentum` computes them.
        let time = momentum.time + 1;
        let bias_correction_2 = (1.0 - BETA_2.powi(time as i32)).sqrt();
        let correction = bias_correction_2 / (1.0 - BETA_1.powi(time as i32));
        let (tensor, moment_1, moment_2) = adam_update(
            tensor,
            grad,
            momentum.moment_1,
            momentum.moment_2,
            [
                BETA_1 as f64,
                BETA_2 as f64,
                correction as f64,
                (EPSILON * bias_correction_2) as f64,
                lr,
            ],
        );
        let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
        (tensor, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

/// Adam exactly as PyTorch's defaults, for a whole model.
pub(super) fn pytorch_adam() -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdam::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// burn's Adam with PyTorch's defaults, written out rather than taken from the constants
    /// the fused one uses.
    fn pytorch_defaults() -> Adam {
        AdamConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .build()
    }

    /// A `[37, 5]` tensor of `f(i)` on `device`: the same values on every device.
    fn tensor(f: impl Fn(f32) -> f32, device: &Device) -> Tensor<2> {
        let v: Vec<f32> = (0..185).map(|i| f(i as f32)).collect();
        Tensor::from_data(TensorData::new(v, [37, 5]), device)
    }

    /// What one step left: the parameter, both moments, and the step count.
    type After = (Vec<f32>, Vec<f32>, Vec<f32>, usize);

    /// Four steps from the same parameter with the same gradients (of changing sign and size).
    fn run(optimiser: &impl Optimizer<State<2> = AdamState<2>>, device: &Device) -> Vec<After> {
        let mut param = tensor(|i| (i * 0.37).sin(), device);
        let mut state = None;
        let mut out = Vec::new();
        for step in 0..4 {
            let grad = tensor(|i| 0.1 * (i * 0.11 * (step + 1) as f32).cos(), device);
            let (next, next_state) = optimiser.step(1e-3, param, grad, state);
            let AdamState { momentum } = next_state.clone().unwrap();
            out.push((
                values(next.clone()),
                values(momentum.moment_1),
                values(momentum.moment_2),
                momentum.time,
            ));
            (param, state) = (next, next_state);
        }
        out
    }

    /// On the CPU the fused update is burn's Adam bit for bit (the composed default is its
    /// operations in its order).
    #[test]
    fn the_fused_update_is_burns_adam_on_the_cpu() {
        let cpu = crate::backend::cpu_device();
        let burn = run(&pytorch_defaults(), &cpu);
        let fused = run(&FusedAdam::new(), &cpu);
        assert_eq!(fused, burn);
        assert_eq!(fused.iter().map(|s| s.3).collect::<Vec<_>>(), [1, 2, 3, 4]);
        // Every step moved the parameter.
        for pair in fused.windows(2) {
            assert_ne!(pair[0].0, pair[1].0);
        }
    }

    /// On wgpu the one-dispatch kernel gives burn's Adam's values to float rounding.
    #[cfg(all(not(target_arch = "wasm32"), feature = "webgpu"))]
    #[test]
    fn the_fused_update_is_burns_adam_on_wgpu() {
        let Some(gpu) = crate::backend::wgpu_device_for_tests() else {
            return;
        };
        let burn = run(&pytorch_defaults(), &gpu);
        let fused = run(&FusedAdam::new(), &gpu);
        for (step, (f, b)) in fused.iter().zip(&burn).enumerate() {
            assert_eq!(f.3, b.3);
            for (name, x, y) in [
                ("parameter", &f.0, &b.0),
                ("m", &f.1, &b.1),
                ("v", &f.2, &b.2),
            ] {
                let worst = x
                    .iter()
                    .zip(y)
                    .map(|(x, y)| (x - y).abs() / y.abs().max(1e-6))
                    .fold(0f32, f32::max);
                assert!(
                    worst < 1e-5,
                    "step {step}: {name} off by {worst:e} relative"
                );
            }
        }
        // And it is the CPU's run.
        let cpu = run(&pytorch_defaults(), &crate::backend::cpu_device());
        let worst = fused[3]
            .0
            .iter()
            .zip(&cpu[3].0)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-5,
            "after 4 steps the parameter is {worst:e} from the CPU's"
        );
    }
}
