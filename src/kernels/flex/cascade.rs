//! The CMRF cascade in inference as one kernel: the whole cascade of one channel per task (its
//! eight planes stay in cache), written straight into the concatenated output. Composed, it was
//! burn-flex's slices, add and concatenation (serial copies) around our stencils. Each plane is
//! computed as the composed steps compute it (the same stencil, the same normalisation), so the
//! bits are the same.

use burn::backend::Flex;
use burn::backend::tensor::FloatTensor;
use burn::prelude::*;

use super::{correlate3x3_add, dims4, f32_from, f32_input, f32_values, par};

/// [`crate::kernels::TinyKernels::cmrf_cascade`] on burn-flex; `stats` are the branches'
/// stacked `[γ, β, mean, variance]`.
pub(super) fn cmrf_cascade(
    y: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    stats: [FloatTensor<Flex>; 4],
    epsilon: f64,
) -> FloatTensor<Flex> {
    let y = f32_input(y);
    let [n, two_c, h, w] = dims4(&y);
    let (c, plane) = (two_c / 2, h * w);
    let kernels = f32_values(weight);
    let [gamma, beta, mean, variance] = stats.map(f32_values);
    let depth = gamma.len() / c.max(1);
    let branches = depth + 1;
    let src = y.as_slice::<f32>().expect("a contiguous f32 tensor");
    // Output plane p is (sample, branch, channel): task (sample, channel) owns its branches.
    let task_of = |p: usize| (p / (branches * c)) * c + p % c;
    let (out, _) = par::task_planes(n * c, branches, plane, task_of, |task, planes| {
        let (sample, j) = (task / c, task % c);
        let even = &src[(sample * two_c + 2 * j) * plane..][..plane];
        let odd = &src[(sample * two_c + 2 * j + 1) * plane..][..plane];
        for ((o, &a), &b) in planes[0].iter_mut().zip(even).zip(odd) {
            *o = a + b;
        }
        for i in 0..depth {
            let (done, rest) = planes.split_at_mut(i + 1);
            let input: &[f32] = if i == 0 { odd } else { &done[i][..] };
            let target = &mut *rest[0];
            let ch = i * c + j;
            correlate3x3_add(input, &kernels[9 * ch..][..9], w, target);
            let (m, shift) = (mean[ch], beta[ch]);
            let scale = gamma[ch] / (variance[ch] + epsilon as f32).sqrt();
            for v in target.iter_mut() {
                *v = (*v - m) * scale + shift;
            }
        }
    });
    f32_from(Shape::new([n, branches * c, h, w]), out)
}
