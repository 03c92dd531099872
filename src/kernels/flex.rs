//! CPU kernels for burn-flex: plain loops over contiguous `f32` rows that the compiler
//! vectorises (wasm SIMD in the browser).
//!
//! Natively and with the `threads` feature (the browser's multi-threaded build) the loops over
//! planes, channels and element runs go to rayon's pool ([`par`]); each plane or channel is still
//! computed by one thread in the same order, so the results are the same bit for bit. The
//! browser's 1-thread build runs the same loops in order.

mod batch_stats;
mod bicubic;
mod cascade;
mod cascade_train;
mod par;
mod pointwise;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::prelude::*;
use burn::tensor::DType;

use super::{TinyKernels, fast_math};
use batch_stats::ChannelGrad;
use bicubic::{bicubic_adjoint_plane, bicubic_plane, tap_table};

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

fn f32_input(t: FloatTensor<Flex>) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "tinyunet's kernels take f32 tensors");
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

/// `(N, C, elements per channel per sample)` of a contiguous `[N, C, …]` tensor.
fn channel_planes(t: &FlexTensor) -> (usize, usize, usize) {
    let shape = t.layout().shape();
    let (n, c) = (shape[0], shape[1]);
    (n, c, shape.num_elements() / (n * c).max(1))
}

fn f32_values(t: FloatTensor<Flex>) -> Vec<f32> {
    f32_input(t)
        .as_slice::<f32>()
        .expect("a contiguous f32 tensor")
        .to_vec()
}

/// A tensor of `values` (which must have `shape`'s length).
fn f32_from(shape: Shape, values: Vec<f32>) -> FlexTensor {
    debug_assert_eq!(values.len(), shape.num_elements());
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A new tensor of `shape` whose planes of `plane` elements `fill(index of the plane, plane)`
/// writes (in parallel with threads).
fn f32_planes(
    shape: Shape,
    plane: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> FlexTensor {
    let values = par::chunks(shape.num_elements(), plane, fill);
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn f32_tensor(values: Vec<f32>) -> FlexTensor {
    let shape = Shape::new([values.len()]);
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Accumulator lanes (a multiple of every SIMD width) and the run summed in `f32` before it is
/// added to an `f64` total: vectorised, and accurate for planes of any size.
const LANES: usize = 16;
const BLOCK: usize = 16 * LANES;

/// `Σ f(aᵢ, bᵢ)` over the pairs that exist (the shorter slice's length).
fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    // Equal lengths, or the lanes of `a` and the leftovers of `b` would pair up wrongly.
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut total = 0f64;
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut lanes = [0f32; LANES];
        let (whole_a, whole_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let tail: f32 = (whole_a.remainder().iter())
            .zip(whole_b.remainder())
            .map(|(&x, &y)| f(x, y))
            .sum();
        for (a, b) in whole_a.zip(whole_b) {
            for ((lane, &x), &y) in lanes.iter_mut().zip(a).zip(b) {
                *lane += f(x, y);
            }
        }
        total += lanes.iter().sum::<f32>() as f64 + tail as f64;
    }
    total
}

/// `act((x − mean[c]) · γ[c] / √(variance[c] + ε) + β[c])` for every element of `[N, C, …]`,
/// with the per-channel `[γ, β, mean, variance]`.
fn normalise(
    x: &FlexTensor,
    [gamma, beta, mean, variance]: [&[f32]; 4],
    epsilon: f64,
    act: impl Fn(f32) -> f32 + Sync + Send,
) -> FlexTensor {
    let (_, c, plane) = channel_planes(x);
    let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
    f32_planes(x.layout().shape().clone(), plane, |i, out| {
        let ch = i % c;
        let (m, shift) = (mean[ch], beta[ch]);
        let scale = batch_stats::scale(gamma[ch], variance[ch], epsilon);
        for (o, &v) in out.iter_mut().zip(&src[i * plane..]) {
            *o = act((v - m) * scale + shift);
        }
    })
}

/// Adds the 3×3 correlation of one `h×w` plane with `k` (row-major, zero padding 1) to `out`.
fn correlate3x3_add(src: &[f32], k: &[f32], w: usize, out: &mut [f32]) {
    let h = src.len() / w;
    for (y, target) in out.chunks_exact_mut(w).enumerate() {
        for ky in 0..3 {
            let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < h) else {
                continue;
            };
            let row = &src[sy * w..(sy + 1) * w];
            let [a, b, c] = [k[3 * ky], k[3 * ky + 1], k[3 * ky + 2]];
            for (t, &v) in target.iter_mut().zip(row) {
                *t += b * v;
            }
            // Left neighbours (x − 1) and right neighbours (x + 1).
            for (t, &v) in target[1..].iter_mut().zip(row) {
                *t += a * v;
            }
            for (t, &v) in target.iter_mut().zip(&row[1..]) {
                *t += c * v;
            }
        }
    }
}

/// `Σ g[y][x] · x[y + ky − 1][x + kx − 1]` over one plane, for each of the nine taps.
fn depthwise_weight_grad(src: &[f32], g: &[f32], w: usize, out: &mut [f64; 9]) {
    let h = src.len() / w;
    for y in 0..h {
        let grow = &g[y * w..(y + 1) * w];
        for ky in 0..3 {
            let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < h) else {
                continue;
            };
            let row = &src[sy * w..(sy + 1) * w];
            out[3 * ky] += sum_zip(&grow[1..], row, |g, v| g * v);
            out[3 * ky + 1] += sum_zip(grow, row, |g, v| g * v);
            out[3 * ky + 2] += sum_zip(grow, &row[1..], |g, v| g * v);
        }
    }
}

impl TinyKernels for Flex {
    // 1×1 convolutions: fixed blocks of serial matrix products over the pool (`pointwise`).
    fn pointwise(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, weight) = (f32_input(x), f32_input(weight));
        let [n, ci, h, w] = dims4(&x);
        let weight = weight.as_slice::<f32>().expect("a contiguous f32 tensor");
        let co = weight.len() / ci.max(1);
        let a = pointwise::Strided {
            data: weight,
            rows: co,
            cols: ci,
            row_stride: ci,
            col_stride: 1,
        };
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let out = pointwise::product(a, src, n, h * w);
        f32_from(Shape::new([n, co, h, w]), out)
    }

    fn pointwise_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (x, grad, weight) = (f32_input(x), f32_input(grad), f32_input(weight));
        let [n, ci, h, w] = dims4(&x);
        let weight_shape = weight.layout().shape().clone();
        let weight = weight.as_slice::<f32>().expect("a contiguous f32 tensor");
        let co = weight.len() / ci.max(1);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let g = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        let transposed = pointwise::Strided {
            data: weight,
            rows: ci,
            cols: co,
            row_stride: 1,
            col_stride: ci,
        };
        let x_grad = pointwise::product(transposed, g, n, h * w);
        let weight_grad = pointwise::weight_gradient(g, src, n, (co, ci, h * w));
        (
            f32_from(Shape::new([n, ci, h, w]), x_grad),
            f32_from(weight_shape, weight_grad),
        )
    }

    // BatchNorm: burn-flex composes it from generic ops (a dozen passes over the activations
    // and two transposed copies each way); these take two passes forward and two backward.
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let x = f32_input(x);
        let (gamma, beta) = (f32_values(gamma), f32_values(beta));
        let dims = channel_planes(&x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let (mean, variance): (Vec<f32>, Vec<f32>) = par::map(dims.1, |ch| {
            batch_stats::mean_variance(&batch_stats::planes_of(src, dims, ch))
        })
        .into_iter()
        .unzip();
        let out = normalise(&x, [&gamma, &beta, &mean, &variance], epsilon, |v| v);
        (out, f32_tensor(mean), f32_tensor(variance))
    }

    fn bn_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x, grad) = (f32_input(x), f32_input(grad));
        let (gamma, mean, variance) = (f32_values(gamma), f32_values(mean), f32_values(variance));
        let dims = channel_planes(&x);
        let (_, c, plane) = dims;
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let g = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        let per_channel = par::map(c, |ch| {
            let planes = |t| batch_stats::planes_of(t, dims, ch);
            let stats = (mean[ch], variance[ch]);
            ChannelGrad::new(&planes(src), &planes(g), gamma[ch], stats, epsilon)
        });
        let x_grad = f32_planes(x.layout().shape().clone(), plane, |i, out| {
            let (xs, gs) = (&src[i * plane..][..plane], &g[i * plane..][..plane]);
            per_channel[i % c].input_grad(xs, gs, out);
        });
        let gamma_grad = per_channel.iter().map(|p| p.gamma).collect();
        let beta_grad = per_channel.iter().map(|p| p.beta).collect();
        (x_grad, f32_tensor(gamma_grad), f32_tensor(beta_grad))
    }

    fn bn_infer(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        gelu: bool,
    ) -> FloatTensor<Self> {
        let x = f32_input(x);
        let [gamma, beta, mean, variance] = [gamma, beta, mean, variance].map(f32_values);
        let stats = [&gamma[..], &beta, &mean, &variance];
        if gelu {
            normalise(&x, stats, epsilon, fast_math::gelu)
        } else {
            normalise(&x, stats, epsilon, |v| v)
        }
    }

    // burn-flex's depthwise convolution runs on one thread for TinyU-Net's few-channel planes;
    // this is the stencil of the backward, one plane per task.
    fn depthwise3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let kernels = f32_values(weight);
        let [n, c, h, w] = dims4(&x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        f32_planes(Shape::new([n, c, h, w]), h * w, |i, out| {
            let ch = i % c;
            correlate3x3_add(&src[i * h * w..][..h * w], &kernels[9 * ch..][..9], w, out);
        })
    }

    // The whole cascade of one channel per task (`cascade`).
    fn cmrf_cascade(
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        cascade::cmrf_cascade(y, weight, [gamma, beta, mean, variance], epsilon)
    }

    // Training's cascade: a channel's whole chain per task, forward and backward
    // (`cascade_train`).
    fn cmrf_cascade_train(
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        cascade_train::forward(y, weight, gamma, beta, epsilon)
    }

    fn cmrf_cascade_train_backward(
        y: FloatTensor<Self>,
        joined: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let stats = [mean, variance];
        cascade_train::backward(y, joined, weight, gamma, stats, epsilon, grad)
    }

    // Exact GELU: burn-flex's calls libm's scalar erf per element.
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        f32_from(
            x.layout().shape().clone(),
            par::map_elements(src, fast_math::gelu),
        )
    }

    fn gelu_exact_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, grad) = (f32_input(x), f32_input(grad));
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let g = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        f32_from(
            x.layout().shape().clone(),
            par::zip_elements(src, g, |v, g| g * fast_math::gelu_slope(v)),
        )
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let [n, c, h, w] = dims4(&x);
        let (oh, ow) = (h / 2, w / 2);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        f32_planes(Shape::new([n, c, oh, ow]), oh * ow, |i, plane_out| {
            let plane_in = &src[i * h * w..][..h * w];
            for y in 0..oh {
                let top = &plane_in[2 * y * w..2 * y * w + 2 * ow];
                let bottom = &plane_in[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow];
                let target = &mut plane_out[y * ow..(y + 1) * ow];
                for x in 0..ow {
                    target[x] = top[2 * x]
                        .max(top[2 * x + 1])
                        .max(bottom[2 * x].max(bottom[2 * x + 1]));
                }
            }
        })
    }

    // burn-flex differentiates a depthwise convolution through a general transposed
    // convolution; this is two direct 3×3 stencils.
    fn depthwise3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (x, grad) = (f32_input(x), f32_input(grad));
        let kernels = f32_values(weight);
        let [n, c, h, w] = dims4(&x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let g = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        // The input gradient correlates the output gradient with the kernel turned 180°.
        let flipped: Vec<f32> = kernels
            .chunks_exact(9)
            .flat_map(|k| k.iter().rev().copied())
            .collect();
        let x_grad = f32_planes(Shape::new([n, c, h, w]), h * w, |i, dp| {
            let ch = i % c;
            let gp = &g[i * h * w..][..h * w];
            correlate3x3_add(gp, &flipped[9 * ch..9 * ch + 9], w, dp);
        });
        // Each channel's nine sums, over the samples in order.
        let sums = par::map(c, |ch| {
            let mut sums = [0f64; 9];
            for sample in 0..n {
                let at = (sample * c + ch) * h * w;
                depthwise_weight_grad(&src[at..][..h * w], &g[at..][..h * w], w, &mut sums);
            }
            sums
        });
        let weight_grad: Vec<f32> = sums.iter().flatten().map(|&v| v as f32).collect();
        let weight_grad =
            FlexTensor::from_data(TensorData::new(weight_grad, Shape::new([c, 1, 3, 3])));
        (x_grad, weight_grad)
    }

    fn max_pool2x2_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, grad) = (f32_input(x), f32_input(grad));
        let [n, c, h, w] = dims4(&x);
        let (oh, ow) = (h / 2, w / 2);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let g = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        f32_planes(Shape::new([n, c, h, w]), h * w, |i, plane_out| {
            let plane_in = &src[i * h * w..][..h * w];
            let plane_g = &g[i * oh * ow..][..oh * ow];
            for y in 0..oh {
                for x in 0..ow {
                    // The first maximum in reading order, as PyTorch and burn pick it.
                    let mut best = 2 * y * w + 2 * x;
                    for at in [best + 1, best + w, best + w + 1] {
                        if plane_in[at] > plane_in[best] {
                            best = at;
                        }
                    }
                    plane_out[best] = plane_g[y * ow + x];
                }
            }
        })
    }

    fn bicubic_up2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = f32_input(x);
        let [n, c, h, w] = dims4(&x);
        let src = x.as_slice::<f32>().expect("a contiguous f32 tensor");
        let taps = (tap_table(w), tap_table(h));
        f32_planes(Shape::new([n, c, 2 * h, 2 * w]), 4 * h * w, |i, out| {
            bicubic_plane(&src[i * h * w..][..h * w], &taps, w, out);
        })
    }

    // The decoder's join written in place: the upsampled planes and the skip's copies, one plane
    // per task, instead of a serial concatenation after the upsampling.
    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, skip) = (f32_input(x), f32_input(skip));
        let [n, c, h, w] = dims4(&x);
        let cs = dims4(&skip)[1];
        let (src, skip) = (
            x.as_slice::<f32>().expect("a contiguous f32 tensor"),
            skip.as_slice::<f32>().expect("a contiguous f32 tensor"),
        );
        let taps = (tap_table(w), tap_table(h));
        let plane = 4 * h * w;
        f32_planes(Shape::new([n, c + cs, 2 * h, 2 * w]), plane, |i, out| {
            let (sample, ch) = (i / (c + cs), i % (c + cs));
            if ch < c {
                let at = (sample * c + ch) * h * w;
                bicubic_plane(&src[at..][..h * w], &taps, w, out);
            } else {
                let at = (sample * cs + ch - c) * plane;
                out.copy_from_slice(&skip[at..][..plane]);
            }
        })
    }

    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let grad = f32_input(grad);
        let [n, c, h2, w2] = dims4(&grad);
        let (h, w) = (h2 / 2, w2 / 2);
        let src = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        let taps = (tap_table(w), tap_table(h));
        f32_planes(Shape::new([n, c, h, w]), h * w, |i, out| {
            bicubic_adjoint_plane(&src[i * h2 * w2..][..h2 * w2], &taps, w, out);
        })
    }

    // The join's gradient taken apart in place, a plane per task: the upsampled channels'
    // adjoint straight from the joined gradient (no copy of them first), the skip's planes
    // copied in parallel.
    fn bicubic_up2_cat_backward(
        grad: FloatTensor<Self>,
        channels: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let grad = f32_input(grad);
        let [n, total, h2, w2] = dims4(&grad);
        let (c, cs, plane) = (channels, total - channels, h2 * w2);
        let (h, w) = (h2 / 2, w2 / 2);
        let src = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
        let taps = (tap_table(w), tap_table(h));
        let x_grad = f32_planes(Shape::new([n, c, h, w]), h * w, |i, out| {
            let at = ((i / c) * total + i % c) * plane;
            bicubic_adjoint_plane(&src[at..][..plane], &taps, w, out);
        });
        let skip_grad = f32_planes(Shape::new([n, cs, h2, w2]), plane, |i, out| {
            let at = ((i / cs) * total + c + i % cs) * plane;
            out.copy_from_slice(&src[at..][..plane]);
        });
        (x_grad, skip_grad)
    }
}
