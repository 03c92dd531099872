//! The Cascaded Multi-Receptive-Field block (CMRF), TinyU-Net's core.

use burn::prelude::*;

use super::batch_norm::BatchNorm2d;
use super::conv_bn::ConvBn;
use super::init::WeightInit;
use crate::backend::{BackendKind, kind_of};
use crate::kernels::{cascade_branch, cmrf_cascade, cmrf_cascade_train};

/// Fraction of the output width that the cascade works on (the reference's `e`).
pub const EXPANSION: f64 = 0.5;

/// CMRF(c1 → c2) with a cascade of `n` receptive fields:
/// `y = pwconv1(x)` (2c channels, c = ⌊c2·e/n⌋); `a, b` = even and odd channels of `y`;
/// `d1 = m.0(b)`, `dᵢ = m.{i-1}(dᵢ₋₁)`; output `pwconv2(cat[a + b, d1, …, d(n-1)])`.
#[derive(Module, Debug)]
pub struct Cmrf {
    /// 1×1 ConvBN + GELU, c1 → 2c.
    pub pwconv1: ConvBn,
    /// n-1 depthwise 3×3 ConvBN, c → c, no activation.
    pub m: Vec<ConvBn>,
    /// 1×1 ConvBN + GELU, n·c → c2.
    pub pwconv2: ConvBn,
}

/// Channels of one cascade branch for a block of output width `c2` and cascade depth `n`.
pub fn branch_channels(c2: usize, n: usize) -> usize {
    (c2 as f64 * EXPANSION / n as f64) as usize
}

impl Cmrf {
    /// A freshly initialised block.
    pub fn new(c1: usize, c2: usize, n: usize, init: &mut WeightInit) -> Self {
        let c = branch_channels(c2, n);
        Self {
            pwconv1: ConvBn::new(c1, 2 * c, 1, 1, true, init),
            m: (0..n - 1)
                .map(|_| ConvBn::new(c, c, 3, c, false, init))
                .collect(),
            pwconv2: ConvBn::new(n * c, c2, 1, 1, true, init),
        }
    }

    /// The block's BatchNorm layers.
    pub fn batch_norms_mut(&mut self) -> impl Iterator<Item = &mut BatchNorm2d> {
        std::iter::once(&mut self.pwconv1.bn)
            .chain(self.m.iter_mut().map(|block| &mut block.bn))
            .chain(std::iter::once(&mut self.pwconv2.bn))
    }

    /// Applies the block to `[N, c1, H, W]`, giving `[N, c2, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.pwconv1.forward(x);
        let cpu = kind_of(&y.device()) == BackendKind::Cpu;
        let cascade = if self.fuses_cascade(&y) {
            if cpu {
                self.cascade_fused(y)
            } else {
                self.cascade_per_branch(y)
            }
        } else if cpu && self.fuses_training_cascade(&y) {
            self.cascade_train_fused(y)
        } else {
            self.cascade(y)
        };
        self.pwconv2.forward(cascade)
    }

    /// Whether the cascade runs fused with the batch's statistics (training, or adapting
    /// BatchNorms): every branch's BatchNorm normalises so, with one ε. The CPU runs it as
    /// one kernel forward and one backward, a task per channel; composed, the slices, adds,
    /// concatenation and their gradients' copies and sums were serial passes over memory
    /// (the threaded browser step 5 % faster without them, its memory 843 → 711 MiB).
    fn fuses_training_cascade(&self, y: &Tensor<4>) -> bool {
        let device = y.device();
        let eps = self.m.first().map(|block| block.bn.eps);
        eps.is_some()
            && self.m.iter().all(|block| {
                block.bn.uses_batch_stats(&device) && !block.act && Some(block.bn.eps) == eps
            })
    }

    /// The cascade with the batch's statistics as one operation
    /// ([`crate::kernels::cmrf_cascade_train`]); each BatchNorm then folds its share of the
    /// statistics into its running ones.
    fn cascade_train_fused(&self, y: Tensor<4>) -> Tensor<4> {
        let [n, two_c, h, w] = y.dims();
        let c = two_c / 2;
        let stack1 =
            |part: &dyn Fn(&ConvBn) -> Tensor<1>| Tensor::cat(self.m.iter().map(part).collect(), 0);
        let weight = Tensor::cat(self.m.iter().map(|b| b.conv.weight.val()).collect(), 0);
        let gamma = stack1(&|b| b.bn.weight.val());
        let beta = stack1(&|b| b.bn.bias.val());
        let epsilon = self.m[0].bn.eps;
        let (joined, mean, variance) = cmrf_cascade_train(y, weight, gamma, beta, epsilon);
        for (i, block) in self.m.iter().enumerate() {
            let rows = |t: &Tensor<1>| t.clone().narrow(0, i * c, c);
            block.bn.track(rows(&mean), rows(&variance), n * h * w);
        }
        joined
    }

    /// Whether the cascade runs fused, in inference: on the CPU as one kernel (a fifth faster,
    /// and it splits evenly over threads), on the GPU as one dispatch per branch (8 instead of
    /// ~70; stacking the parameters as the CPU kernel takes them would cost dozens more). A
    /// training forward needs the steps (batch statistics, gradients).
    fn fuses_cascade(&self, y: &Tensor<4>) -> bool {
        let eps = self.m.first().map(|block| block.bn.eps);
        !y.device().is_autodiff()
            && self
                .m
                .iter()
                .all(|block| !block.bn.adapting && !block.act && Some(block.bn.eps) == eps)
            && eps.is_some()
    }

    /// The cascade step by step: `cat[a + b, d1, …, d(n-1)]` for pwconv1's output `y`.
    fn cascade(&self, y: Tensor<4>) -> Tensor<4> {
        let [n, two_c, h, w] = y.dims();
        let c = two_c / 2;
        // Channel 2j+p of y is (j, p) of [N, c, 2, H, W]: p = 0 gives y[:, 0::2], p = 1 y[:, 1::2].
        let pairs = y.reshape([n, c, 2, h, w]);
        let even = pairs.clone().narrow(2, 0, 1).reshape([n, c, h, w]);
        let odd = pairs.narrow(2, 1, 1).reshape([n, c, h, w]);
        let mut branches = Vec::with_capacity(self.m.len() + 1);
        branches.push(even + odd.clone());
        let mut d = odd;
        for block in &self.m {
            d = block.forward(d);
            branches.push(d.clone());
        }
        Tensor::cat(branches, 1)
    }

    /// The same cascade as one kernel ([`crate::kernels::cmrf_cascade`]).
    fn cascade_fused(&self, y: Tensor<4>) -> Tensor<4> {
        let (weight, [gamma, beta, mean, variance]) = self.cascade_parameters(&y.device());
        // One ε for every branch, and at least one branch: `fuses_cascade` checked both.
        let epsilon = self.m[0].bn.eps;
        cmrf_cascade(y, weight, gamma, beta, mean, variance, epsilon)
    }

    /// The same cascade a branch at a time, each written into the joined output
    /// ([`crate::kernels::cascade_branch`]).
    fn cascade_per_branch(&self, y: Tensor<4>) -> Tensor<4> {
        let [n, two_c, h, w] = y.dims();
        let c = two_c / 2;
        let device = y.device();
        let mut joined = Tensor::<4>::empty([n, (self.m.len() + 1) * c, h, w], &device);
        for (branch, block) in self.m.iter().enumerate() {
            let stats = block.bn.inference_parameters(&device);
            let weight = block.conv.weight.val();
            let eps = block.bn.eps;
            joined = cascade_branch(joined, y.clone(), weight, stats, eps, branch);
        }
        joined
    }

    /// The cascade's depthwise kernels and BatchNorms' γ, β, running mean and variance, each
    /// stacked over the branches (a few hundred values), on `device`.
    fn cascade_parameters(&self, device: &Device) -> (Tensor<4>, [Tensor<1>; 4]) {
        let stack =
            |part: &dyn Fn(&ConvBn) -> Tensor<1>| Tensor::cat(self.m.iter().map(part).collect(), 0);
        let weight = Tensor::cat(self.m.iter().map(|b| b.conv.weight.val()).collect(), 0);
        let stats = [
            stack(&|b| b.bn.weight.val()),
            stack(&|b| b.bn.bias.val()),
            stack(&|b| b.bn.running_mean.value().to_device(device)),
            stack(&|b| b.bn.running_var.value().to_device(device)),
        ];
        (weight, stats)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::{Param, RunningState};
    use burn::tensor::Distribution;

    use super::*;

    /// A block whose BatchNorms have statistics of their own (a fresh one's are 0 and 1, which
    /// would hide a wrong channel), on `device`.
    fn block(c1: usize, c2: usize, n: usize, device: &Device) -> Cmrf {
        let mut init = WeightInit::new(5, device);
        let mut cmrf = Cmrf::new(c1, c2, n, &mut init);
        let mut seed = 10;
        let mut values = |c: usize, low: f64, high: f64| {
            seed += 1;
            let mut rng = crate::rng::Rng::new(seed);
            let v: Vec<f32> = (0..c).map(|_| rng.uniform(low, high) as f32).collect();
            Tensor::<1>::from_data(TensorData::new(v, [c]), device)
        };
        for bn in cmrf.batch_norms_mut() {
            let c = bn.weight.dims()[0];
            bn.weight = Param::from_tensor(values(c, 0.5, 1.5));
            bn.bias = Param::from_tensor(values(c, -0.5, 0.5));
            bn.running_mean = RunningState::new(values(c, -0.3, 0.3));
            bn.running_var = RunningState::new(values(c, 0.2, 2.0));
        }
        cmrf
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn the_fused_cascade_is_the_composed_one_bit_for_bit_on_the_cpu() {
        let device = crate::backend::cpu_device();
        // TinyU-Net's cascade depth (8) and a short one; odd sizes; a batch of two.
        for (c1, c2, n, [h, w]) in [(3, 16, 8, [9, 7]), (5, 12, 3, [4, 6]), (8, 64, 8, [16, 16])] {
            let cmrf = block(c1, c2, n, &device);
            let x = Tensor::<4>::random([2, c1, h, w], Distribution::Normal(0.0, 1.0), &device);
            let y = cmrf.pwconv1.forward(x.clone());
            assert!(cmrf.fuses_cascade(&y));
            let fused = values(cmrf.cascade_fused(y.clone()));
            let composed = values(cmrf.cascade(y));
            assert_eq!(fused.len(), 2 * branch_channels(c2, n) * n * h * w);
            assert_eq!(fused, composed, "CMRF({c1}→{c2}, n = {n}) at {h}×{w}");
            // What the block's forward gives (through the fused cascade) is unchanged too.
            assert!(!values(cmrf.forward(x)).iter().any(|v| !v.is_finite()));
        }
        // The branch-at-a-time form the GPU runs, composed here of burn-flex's operations
        // (`cascade_branch`'s default), is the same cascade.
        for (c1, c2, n, [h, w]) in [(3, 16, 8, [9, 7]), (5, 12, 3, [4, 6])] {
            let cmrf = block(c1, c2, n, &device);
            let x = Tensor::<4>::random([2, c1, h, w], Distribution::Normal(0.0, 1.0), &device);
            let y = cmrf.pwconv1.forward(x);
            let per_branch = values(cmrf.cascade_per_branch(y.clone()));
            assert_eq!(
                per_branch,
                values(cmrf.cascade(y)),
                "CMRF({c1}→{c2}, n = {n})"
            );
        }
        // Training forwards and adapting BatchNorms keep the steps.
        let mut cmrf = block(3, 16, 8, &device);
        let y = Tensor::<4>::zeros([1, 2, 4, 4], &device.clone().autodiff());
        assert!(!cmrf.fuses_cascade(&y));
        cmrf.m[2].bn.adapting = true;
        assert!(!cmrf.fuses_cascade(&Tensor::<4>::zeros([1, 2, 4, 4], &device)));
    }

    /// Every value a training step reads from the cascade: the output, the gradients of `y`
    /// and of every branch's kernel, γ and β, and the running statistics after the forward.
    fn training_cascade(cmrf: &Cmrf, y: &Tensor<4>, fused: bool) -> Vec<Vec<f32>> {
        let y = Tensor::<4>::from_data(y.to_data(), &y.device()).require_grad();
        let out = if fused {
            assert!(cmrf.fuses_training_cascade(&y));
            cmrf.cascade_train_fused(y.clone())
        } else {
            cmrf.cascade(y.clone())
        };
        // A gradient that differs per element, so a misplaced plane shows.
        let weights = Tensor::<4>::ones(out.dims(), &out.device()).cumsum(3).sin();
        let grads = (out.clone() * weights).sum().backward();
        let flat = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().unwrap();
        let mut all = vec![values(out), values(y.grad(&grads).expect("y's gradient"))];
        for block in &cmrf.m {
            all.push(values(
                block.conv.weight.grad(&grads).expect("a kernel's gradient"),
            ));
            all.push(flat(block.bn.weight.grad(&grads).expect("a γ gradient")));
            all.push(flat(block.bn.bias.grad(&grads).expect("a β gradient")));
            all.push(flat(block.bn.running_mean.value()));
            all.push(flat(block.bn.running_var.value()));
        }
        all
    }

    #[test]
    fn the_fused_training_cascade_is_the_composed_one_bit_for_bit_on_the_cpu() {
        let ad = crate::backend::cpu_device().autodiff();
        // TinyU-Net's depth (8) and shorter ones (2 and 1 branches of convolutions), odd
        // sizes, batches of two and one (a one-pixel plane: a batch of a single value).
        for (c2, n, batch, [h, w]) in [
            (16, 8, 2, [9, 7]),
            (12, 3, 1, [4, 6]),
            (8, 2, 3, [5, 5]),
            (16, 8, 1, [1, 1]),
        ] {
            // Two equal blocks: each forward folds its statistics into its own running ones.
            let (a, b) = (block(3, c2, n, &ad), block(3, c2, n, &ad));
            let x = Tensor::<4>::random([batch, 3, h, w], Distribution::Normal(0.0, 1.0), &ad);
            let y = a.pwconv1.forward(x).detach();
            let (fused, composed) = (
                training_cascade(&a, &y, true),
                training_cascade(&b, &y, false),
            );
            assert_eq!(fused.len(), composed.len());
            for (k, (f, c)) in fused.iter().zip(&composed).enumerate() {
                assert_eq!(
                    f, c,
                    "value set {k} of CMRF(→{c2}, n = {n}), batch {batch}, {h}×{w}"
                );
            }
        }
        // Frozen BatchNorms (the running statistics in training) keep the composed steps.
        let mut frozen = block(3, 16, 8, &ad);
        frozen.m[3].bn.frozen = true;
        assert!(!frozen.fuses_training_cascade(&Tensor::<4>::zeros([1, 4, 2, 2], &ad)));
    }

    /// Adapting BatchNorms (batch statistics in an inference forward) take the fused training
    /// cascade on a plain device: the same output and running statistics as the steps.
    #[test]
    fn adapting_batch_norms_take_the_fused_training_cascade() {
        let device = crate::backend::cpu_device();
        let adapting = |cmrf: &mut Cmrf| {
            for block in &mut cmrf.m {
                block.bn.adapting = true;
            }
        };
        let (mut a, mut b) = (block(3, 16, 8, &device), block(3, 16, 8, &device));
        adapting(&mut a);
        adapting(&mut b);
        let x = Tensor::<4>::random([2, 3, 6, 5], Distribution::Normal(0.0, 1.0), &device);
        let y = a.pwconv1.forward(x);
        assert!(!a.fuses_cascade(&y) && a.fuses_training_cascade(&y));
        assert_eq!(
            values(a.cascade_train_fused(y.clone())),
            values(b.cascade(y))
        );
        let stats = |cmrf: &Cmrf| -> Vec<Vec<f32>> {
            let flat = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().unwrap();
            (cmrf.m.iter())
                .flat_map(|m| {
                    [
                        flat(m.bn.running_mean.value()),
                        flat(m.bn.running_var.value()),
                    ]
                })
                .collect()
        };
        assert_eq!(stats(&a), stats(&b));
    }

    /// The GPU's inference — its 1×1 ConvBN kernel at each of its tiles (8 × 8, 4 × 4) and the
    /// composed fallback, and its cascade (a kernel a branch, written in place) — gives the CPU
    /// kernels' values.
    #[cfg(all(not(target_arch = "wasm32"), feature = "webgpu"))]
    #[test]
    fn the_block_agrees_on_wgpu() {
        let Some(gpu) = crate::backend::wgpu_device_for_tests() else {
            return;
        };
        let cpu = crate::backend::cpu_device();
        let worst = |a: Vec<f32>, b: Vec<f32>| {
            assert_eq!(a.len(), b.len());
            a.iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max)
        };
        // 1×1 convolutions to 8 and 64 channels of 256 pixels (8 × 8 tiles), to 4 and 12 of 24
        // (4 × 4), from 2 and 16 of 63 (neither: burn's matrix product and our BatchNorm).
        for (c1, c2, n, [h, w]) in [(8, 64, 8, [16, 16]), (5, 12, 3, [4, 6]), (3, 16, 8, [9, 7])] {
            let cmrf = block(c1, c2, n, &cpu);
            let x = Tensor::<4>::random([2, c1, h, w], Distribution::Normal(0.0, 1.0), &cpu);
            let y = cmrf.pwconv1.forward(x.clone());
            let (expected_block, expected_cascade) = (
                values(cmrf.forward(x.clone())),
                values(cmrf.cascade_fused(y.clone())),
            );
            let gpu_block = cmrf.clone().to_device(&gpu);
            let (x, y) = (x.to_device(&gpu), y.to_device(&gpu));
            assert!(gpu_block.fuses_cascade(&y));
            let cascade = worst(expected_cascade, values(gpu_block.cascade_per_branch(y)));
            assert!(
                cascade < 1e-5,
                "cascade: wgpu differs by {cascade} at {c1}→{c2}"
            );
            let forward = worst(expected_block, values(gpu_block.forward(x)));
            assert!(
                forward < 1e-4,
                "block: wgpu differs by {forward} at {c1}→{c2}"
            );
        }
    }
}
