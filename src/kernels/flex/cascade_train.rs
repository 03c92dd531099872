//! The CMRF cascade in training as one kernel forward and one backward: a task per channel
//! runs that channel's whole chain over the batch (depthwise convolutions and BatchNorm
//! statistics are channel-local), written straight into the joined output, or, backward, into
//! the input's gradient. Composed, each of the eight branches was burn-flex's slices, add,
//! concatenation, zero-filled narrow gradients and gradient sums: serial passes over memory
//! that kept the second thread idle. Each plane is computed with the composed steps' own
//! arithmetic (the same stencil, statistics and normalisation), so the bits are the same.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::prelude::*;

use super::batch_stats::{self, ChannelGrad};
use super::{correlate3x3_add, depthwise_weight_grad, dims4, f32_from, f32_input, f32_values, par};

/// `part` of each channel's per-branch values, stacked branch-major (`[d·c]`, branch `i`'s
/// channel `j` at `i·c + j`) as the parameters are.
fn by_branch<T, U>(per_channel: &[Vec<T>], part: impl Fn(&T) -> U) -> Vec<U> {
    let c = per_channel.len();
    let depth = per_channel.first().map_or(0, Vec::len);
    (0..depth * c)
        .map(|k| part(&per_channel[k % c][k / c]))
        .collect()
}

/// [`crate::kernels::TinyKernels::cmrf_cascade_train`] on burn-flex.
pub(super) fn forward(
    y: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    beta: FloatTensor<Flex>,
    epsilon: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let y = f32_input(y);
    let [n, two_c, h, w] = dims4(&y);
    let (c, plane) = (two_c / 2, h * w);
    let kernels = f32_values(weight);
    let (gamma, beta) = (f32_values(gamma), f32_values(beta));
    let depth = gamma.len() / c.max(1);
    let branches = depth + 1;
    let src = y.as_slice::<f32>().expect("a contiguous f32 tensor");
    // Output plane p is (sample, branch, channel): task (channel) owns every sample's branches,
    // in sample-major order.
    let (out, stats) = par::task_planes(
        c,
        n * branches,
        plane,
        |p| p % c,
        |j, planes| {
            let input = |sample: usize, parity: usize| {
                &src[(sample * two_c + 2 * j + parity) * plane..][..plane]
            };
            for (sample, own) in planes.chunks_mut(branches).enumerate() {
                let (even, odd) = (input(sample, 0), input(sample, 1));
                for ((o, &a), &b) in own[0].iter_mut().zip(even).zip(odd) {
                    *o = a + b;
                }
            }
            let mut stats = Vec::with_capacity(depth);
            for i in 0..depth {
                let ch = i * c + j;
                let k = &kernels[9 * ch..][..9];
                for (sample, own) in planes.chunks_mut(branches).enumerate() {
                    let (done, rest) = own.split_at_mut(i + 1);
                    let source: &[f32] = if i == 0 {
                        input(sample, 1)
                    } else {
                        &done[i][..]
                    };
                    correlate3x3_add(source, k, w, &mut *rest[0]);
                }
                let outputs: Vec<&[f32]> =
                    planes.chunks(branches).map(|own| &own[i + 1][..]).collect();
                let (m, variance) = batch_stats::mean_variance(&outputs);
                let (scale, shift) = (batch_stats::scale(gamma[ch], variance, epsilon), beta[ch]);
                for own in planes.chunks_mut(branches) {
                    for v in own[i + 1].iter_mut() {
                        *v = (*v - m) * scale + shift;
                    }
                }
                stats.push((m, variance));
            }
            stats
        },
    );
    let (mean, variance) = (by_branch(&stats, |s| s.0), by_branch(&stats, |s| s.1));
    (
        f32_from(Shape::new([n, branches * c, h, w]), out),
        f32_from(Shape::new([depth * c]), mean),
        f32_from(Shape::new([depth * c]), variance),
    )
}

/// Borrowed views of `planes`.
fn slices(planes: &[Vec<f32>]) -> Vec<&[f32]> {
    planes.iter().map(Vec::as_slice).collect()
}

/// One branch's parameter gradients for one channel: the kernel's nine, γ's and β's.
type BranchGrads = ([f64; 9], f32, f32);

/// [`crate::kernels::TinyKernels::cmrf_cascade_train_backward`] on burn-flex; `stats` are the
/// forward's stacked batch mean and variance.
pub(super) fn backward(
    y: FloatTensor<Flex>,
    joined: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    [mean, variance]: [FloatTensor<Flex>; 2],
    epsilon: f64,
    grad: FloatTensor<Flex>,
) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
    let (y, joined, grad) = (f32_input(y), f32_input(joined), f32_input(grad));
    let [n, two_c, h, w] = dims4(&y);
    let (c, plane) = (two_c / 2, h * w);
    let kernels = f32_values(weight);
    let [gamma, mean, variance] = [gamma, mean, variance].map(f32_values);
    let depth = gamma.len() / c.max(1);
    let total = (depth + 1) * c;
    let src = y.as_slice::<f32>().expect("a contiguous f32 tensor");
    let joined = joined.as_slice::<f32>().expect("a contiguous f32 tensor");
    let g_joined = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
    // The input's gradient: plane (sample, 2j + parity) belongs to task j, sample-major.
    let task_of = |p: usize| (p % two_c) / 2;
    let (y_grad, grads) = par::task_planes(c, 2 * n, plane, task_of, |j, out| {
        let at = |sample: usize, branch: usize| (sample * total + branch * c + j) * plane;
        let odd = |sample: usize| &src[(sample * two_c + 2 * j + 1) * plane..][..plane];
        // The input of branch i's convolution (i counted from 0): the odd channel, then the
        // previous branch's output.
        let source = |sample: usize, i: usize| {
            if i == 0 {
                odd(sample)
            } else {
                &joined[at(sample, i)..][..plane]
            }
        };
        let branch_grad = |sample: usize, branch: usize| &g_joined[at(sample, branch)..][..plane];
        // The gradient of the last output, then of each earlier one as the chain unwinds.
        let mut g: Vec<Vec<f32>> = (0..n).map(|s| branch_grad(s, depth).to_vec()).collect();
        let mut z = vec![vec![0f32; plane]; n];
        let mut gz = vec![vec![0f32; plane]; n];
        let mut per_branch: Vec<BranchGrads> = vec![([0.0; 9], 0.0, 0.0); depth];
        for i in (0..depth).rev() {
            let ch = i * c + j;
            let k = &kernels[9 * ch..][..9];
            // The convolution's output again (cheaper than keeping it from the forward).
            for (sample, z) in z.iter_mut().enumerate() {
                z.fill(0.0);
                correlate3x3_add(source(sample, i), k, w, z);
            }
            let stats = (mean[ch], variance[ch]);
            let bn = ChannelGrad::new(&slices(&z), &slices(&g), gamma[ch], stats, epsilon);
            let mut kernel_grad = [0f64; 9];
            let flipped: Vec<f32> = k.iter().rev().copied().collect();
            for sample in 0..n {
                bn.input_grad(&z[sample], &g[sample], &mut gz[sample]);
                depthwise_weight_grad(source(sample, i), &gz[sample], w, &mut kernel_grad);
                // The convolution's input gradient, plus what that input's own branch got.
                let target = &mut g[sample];
                target.fill(0.0);
                correlate3x3_add(&gz[sample], &flipped, w, target);
                for (t, &b) in target.iter_mut().zip(branch_grad(sample, i)) {
                    *t += b;
                }
            }
            per_branch[i] = (kernel_grad, bn.gamma, bn.beta);
        }
        // Branch 0 is even + odd: both get its gradient; odd also the chain's.
        for (sample, pair) in out.chunks_mut(2).enumerate() {
            pair[0].copy_from_slice(branch_grad(sample, 0));
            if depth == 0 {
                pair[1].copy_from_slice(branch_grad(sample, 0));
            } else {
                pair[1].copy_from_slice(&g[sample]);
            }
        }
        per_branch
    });
    let kernel_grad = by_branch(&grads, |g| g.0.map(|v| v as f32)).concat();
    let (gamma_grad, beta_grad) = (by_branch(&grads, |g| g.1), by_branch(&grads, |g| g.2));
    (
        f32_from(Shape::new([n, two_c, h, w]), y_grad),
        f32_from(Shape::new([depth * c, 1, 3, 3]), kernel_grad),
        f32_from(Shape::new([depth * c]), gamma_grad),
        f32_from(Shape::new([depth * c]), beta_grad),
    )
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::prelude::*;

    use crate::kernels::TinyKernels;
    use crate::kernels::composed;

    fn tensor(shape: &[usize], seed: u64, low: f64, high: f64) -> FlexTensor {
        let mut rng = crate::rng::Rng::new(seed);
        let len = shape.iter().product();
        let v: Vec<f32> = (0..len).map(|_| rng.uniform(low, high) as f32).collect();
        FlexTensor::from_data(TensorData::new(v, shape.to_vec()))
    }

    fn values(t: FlexTensor) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The kernels against the trait's composed defaults (which the GPU backend would take),
    /// both on burn-flex: the same bits forward and backward.
    #[test]
    fn the_kernels_are_the_composed_defaults() {
        for (n, c, depth, [h, w]) in [(2, 4, 7, [9, 7]), (1, 2, 2, [3, 4]), (3, 1, 1, [2, 2])] {
            let y = tensor(&[n, 2 * c, h, w], 1, -2.0, 2.0);
            let weight = tensor(&[depth * c, 1, 3, 3], 2, -0.5, 0.5);
            let gamma = tensor(&[depth * c], 3, 0.5, 1.5);
            let beta = tensor(&[depth * c], 4, -0.5, 0.5);
            let eps = 1e-3;
            let fused = Flex::cmrf_cascade_train(
                y.clone(),
                weight.clone(),
                gamma.clone(),
                beta.clone(),
                eps,
            );
            let steps = composed::cmrf_cascade_train::<Flex>(
                y.clone(),
                weight.clone(),
                gamma.clone(),
                beta.clone(),
                eps,
            );
            let what = format!("{n}×{c}·2, depth {depth}, {h}×{w}");
            assert_eq!(values(fused.0.clone()), values(steps.0), "output, {what}");
            assert_eq!(values(fused.1.clone()), values(steps.1), "mean, {what}");
            assert_eq!(values(fused.2.clone()), values(steps.2), "variance, {what}");
            let grad = tensor(&[n, (depth + 1) * c, h, w], 5, -1.0, 1.0);
            let (joined, mean, variance) = fused;
            let args = (y, joined, weight, gamma, mean, variance);
            let kernel = Flex::cmrf_cascade_train_backward(
                args.0.clone(),
                args.1.clone(),
                args.2.clone(),
                args.3.clone(),
                args.4.clone(),
                args.5.clone(),
                eps,
                grad.clone(),
            );
            let (y, joined, weight, gamma, mean, variance) = args;
            let steps = composed::cmrf_cascade_train_backward::<Flex>(
                y,
                joined,
                weight,
                gamma,
                [mean, variance],
                eps,
                grad,
            );
            assert_eq!(values(kernel.0), values(steps.0), "y gradient, {what}");
            assert_eq!(values(kernel.1), values(steps.1), "kernel gradient, {what}");
            assert_eq!(values(kernel.2), values(steps.2), "γ gradient, {what}");
            assert_eq!(values(kernel.3), values(steps.3), "β gradient, {what}");
        }
    }
}
