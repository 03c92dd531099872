//! The GPU backend's (burn-cubecl: WebGPU, native wgpu) own kernels for TinyU-Net's inference.
//!
//! Why they exist: burn composes an inference BatchNorm from six dispatches (four of them full
//! passes over the activations) and exact GELU from five more, runs its depthwise convolution
//! and max-pooling channels-last (a permuting copy in, another out), and joins tensors one
//! copy per input. On the CPU Vulkan/WebGPU drivers of machines without a GPU (SwiftShader in
//! Chromium, lavapipe natively) every dispatch has a fixed cost of milliseconds and every pass
//! is slow, so a 256² inference was ~780 dispatches. Each kernel here is one dispatch, one
//! thread per output value, NCHW, no permutes, with its BatchNorm (and GELU) applied before the
//! value is written. They bind at most 7 buffers (WebGPU guarantees 8 per stage).
//!
//! Only forward (inference) work lands here: autodiff composes the trait's defaults, whose
//! backward is burn's or ours (`super::autodiff`).

// The kernels are GPU code written in CubeCL's Rust: many scalar arguments, indexed loops that
// unroll into registers, and `v != v` as the NaN test (there is no `is_nan` there).
#![allow(clippy::too_many_arguments, clippy::needless_range_loop, clippy::eq_op)]

use burn::backend::DType;
use burn::backend::Shape;
use burn_cubecl::cubecl;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

use super::bicubic_taps;

/// `1/√2`, exact GELU's scale inside `erf`.
const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;

/// Inference BatchNorm of one value of channel `c`, in burn's order of operations
/// (`(x − μ) / √(σ² + ε) · γ + β`), then exact GELU if `gelu`.
#[cube]
fn normalise(
    x: f32,
    c: usize,
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    #[comptime] gelu: bool,
) -> f32 {
    let mut y = (x - mean[c]) / (var[c] + eps).sqrt() * gamma[c] + beta[c];
    if gelu {
        y = y * (Erf::erf(y * FRAC_1_SQRT_2) + 1.0) * 0.5;
    }
    y
}

/// `out = BN(x)` (then GELU) over contiguous `[N, C, H, W]`, `plane = H·W`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn bn_act_kernel(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    out: &mut [f32],
    plane: u32,
    channels: u32,
    eps: f32,
    #[comptime] gelu: bool,
) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let c = (i / plane as usize) % channels as usize;
        out[i] = normalise(x[i], c, gamma, beta, mean, var, eps, gelu);
    }
}

/// The 3×3 zero-padded depthwise sum at `(y, x)` of the plane starting at `base` (`h × w`).
#[cube]
fn depthwise_at(
    src: &[f32],
    base: usize,
    weight: &[f32],
    wbase: usize,
    y: u32,
    x: u32,
    h: u32,
    w: u32,
) -> f32 {
    let mut acc = 0.0f32;
    #[unroll]
    for dy in 0..3u32 {
        let sy = y as i32 + dy as i32 - 1;
        if sy >= 0 && sy < h as i32 {
            let row = base + (sy as u32 * w) as usize;
            #[unroll]
            for dx in 0..3u32 {
                let sx = x as i32 + dx as i32 - 1;
                if sx >= 0 && sx < w as i32 {
                    acc += src[row + sx as usize] * weight[wbase + (dy * 3 + dx) as usize];
                }
            }
        }
    }
    acc
}

/// A 1×1 convolution and its inference BatchNorm (then GELU): `x` `[N, Ci, P]` (P = H·W, a
/// multiple of 4), `weight` `[Co, Ci]` (Co a multiple of 4) → `out` `[N, Co, P]`. Each thread
/// owns a 4 × 4 tile (4 output channels × 4 pixels) and walks the input channels once: 8 reads
/// for 16 multiply-adds, the tile in registers, normalised as it is written.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn pointwise_bn_kernel(
    x: &[f32],
    weight: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    out: &mut [f32],
    ci: u32,
    co: u32,
    plane: u32,
    eps: f32,
    #[comptime] gelu: bool,
) {
    let t = ABSOLUTE_POS;
    if t < out.len() / 16 {
        let (ci, co, plane) = (ci as usize, co as usize, plane as usize);
        let quads = plane / 4;
        let p0 = (t % quads) * 4;
        let rest = t / quads;
        let c0 = (rest % (co / 4)) * 4;
        let n = rest / (co / 4);
        let mut acc = Array::<f32>::new(16usize);
        #[unroll]
        for k in 0..16usize {
            acc[k] = 0.0;
        }
        let mut xo = n * ci * plane + p0;
        for i in 0..ci {
            let x0 = x[xo];
            let x1 = x[xo + 1];
            let x2 = x[xo + 2];
            let x3 = x[xo + 3];
            #[unroll]
            for r in 0..4usize {
                let wv = weight[(c0 + r) * ci + i];
                acc[r * 4] += wv * x0;
                acc[r * 4 + 1] += wv * x1;
                acc[r * 4 + 2] += wv * x2;
                acc[r * 4 + 3] += wv * x3;
            }
            xo += plane;
        }
        #[unroll]
        for r in 0..4usize {
            let c = c0 + r;
            let o = (n * co + c) * plane + p0;
            #[unroll]
            for q in 0..4usize {
                out[o + q] = normalise(acc[r * 4 + q], c, gamma, beta, mean, var, eps, gelu);
            }
        }
    }
}

/// Depthwise 3×3 (stride 1, zero padding 1) of contiguous `[N, C, H, W]` `x`, `weight`
/// `[C, 1, 3, 3]`.
#[cube(launch)]
fn depthwise_kernel(x: &[f32], weight: &[f32], out: &mut [f32], h: u32, w: u32, channels: u32) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let plane = (h * w) as usize;
        let p = i / plane;
        let r = (i % plane) as u32;
        let c = p % channels as usize;
        out[i] = depthwise_at(x, p * plane, weight, c * 9, r / w, r % w, h, w);
    }
}

/// The CMRF cascade's first step, from pwconv1's output `y` `[N, 2c, H, W]` into `out`
/// `[N, (d+1)·c, H, W]`: branch 0 (`even + odd`, y's channels 2j and 2j+1) and branch 1 (the
/// first depthwise ConvBN of `odd`).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn cascade_first_kernel(
    y: &[f32],
    weight: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    out: &mut [f32],
    h: u32,
    w: u32,
    c: u32,
    branches: u32,
    eps: f32,
) {
    let i = ABSOLUTE_POS;
    let plane = (h * w) as usize;
    let c = c as usize;
    // One thread per (n, j, pixel) of a branch.
    if i < out.len() / branches as usize {
        let p = i / plane;
        let r = i % plane;
        let n = p / c;
        let j = p % c;
        let odd = (n * 2 * c + 2 * j + 1) * plane;
        let out_base = n * branches as usize * c * plane;
        out[out_base + j * plane + r] = y[odd - plane + r] + y[odd + r];
        let r32 = r as u32;
        let d = depthwise_at(y, odd, weight, j * 9, r32 / w, r32 % w, h, w);
        out[out_base + (c + j) * plane + r] = normalise(d, j, gamma, beta, mean, var, eps, false);
    }
}

/// A later cascade step inside `out` `[N, (d+1)·c, H, W]`: branch `k + 1` = the depthwise
/// ConvBN of branch `k`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn cascade_next_kernel(
    weight: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    out: &mut [f32],
    h: u32,
    w: u32,
    c: u32,
    branches: u32,
    k: u32,
    eps: f32,
) {
    let i = ABSOLUTE_POS;
    let plane = (h * w) as usize;
    let c = c as usize;
    if i < out.len() / branches as usize {
        let p = i / plane;
        let r = i % plane;
        let n = p / c;
        let j = p % c;
        let out_base = n * branches as usize * c * plane;
        let src = out_base + (k as usize * c + j) * plane;
        let r32 = r as u32;
        let (y, x) = (r32 / w, r32 % w);
        // `depthwise_at`, reading the writable `out` (a kernel may bind a buffer only once).
        let mut d = 0.0f32;
        #[unroll]
        for dy in 0..3u32 {
            let sy = y as i32 + dy as i32 - 1;
            if sy >= 0 && sy < h as i32 {
                let row = src + (sy as u32 * w) as usize;
                #[unroll]
                for dx in 0..3u32 {
                    let sx = x as i32 + dx as i32 - 1;
                    if sx >= 0 && sx < w as i32 {
                        d += out[row + sx as usize] * weight[j * 9 + (dy * 3 + dx) as usize];
                    }
                }
            }
        }
        out[src + c * plane + r] = normalise(d, j, gamma, beta, mean, var, eps, false);
    }
}

/// 2×2 max-pooling, stride 2, of contiguous `[N, C, H, W]` into `[N, C, H/2, W/2]`: the first
/// maximum of each window, NaN propagating, as burn's and PyTorch's.
#[cube(launch)]
fn max_pool_kernel(x: &[f32], out: &mut [f32], h: u32, w: u32) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let oh = h / 2;
        let ow = w / 2;
        let plane = (oh * ow) as usize;
        let p = i / plane;
        let r = (i % plane) as u32;
        let oy = r / ow;
        let ox = r % ow;
        let base = p * (h * w) as usize + (2 * oy * w + 2 * ox) as usize;
        let a = x[base];
        let b = x[base + 1];
        let c = x[base + w as usize];
        let d = x[base + w as usize + 1];
        let mut m = a;
        // `v > m || v != v` keeps the first maximum and lets a NaN win.
        if b > m || b != b {
            m = b;
        }
        if c > m || c != c {
            m = c;
        }
        if d > m || d != d {
            m = d;
        }
        if a != a {
            m = a;
        }
        out[i] = m;
    }
}

/// The decoder's join: PyTorch's ×2 bicubic of `x` `[N, C, H, W]` written as channels `0..C`
/// of `out` `[N, C + S, 2H, 2W]` (the skip's channels are copied by `copy_skip_kernel`). Each
/// output is the 4×4 taps around it, clamped at the border: `taps` holds the two phases' four
/// weights (`[phase·4 + t]`, [`bicubic_taps::phase_taps`]).
#[cube(launch)]
fn bicubic_up2_kernel(
    x: &[f32],
    taps: &[f32],
    out: &mut [f32],
    h: u32,
    w: u32,
    c: u32,
    total_c: u32,
) {
    let i = ABSOLUTE_POS;
    let oh = 2 * h;
    let ow = 2 * w;
    let plane = (oh * ow) as usize;
    if i < out.len() / total_c as usize * c as usize {
        let p = i / plane;
        let r = (i % plane) as u32;
        let n = p / c as usize;
        let ch = p % c as usize;
        let oy = r / ow;
        let ox = r % ow;
        // Output 2k + φ reads inputs k − 2 + φ .. k + 1 + φ (clamped), weights taps[φ].
        let ky = oy / 2;
        let py = oy % 2;
        let kx = ox / 2;
        let px = ox % 2;
        let base = p * (h * w) as usize;
        let mut acc = 0.0f32;
        #[unroll]
        for ty in 0..4u32 {
            // Clamped row: ky + py + ty − 2 in [0, h − 1].
            let row = clamp((ky + py + ty) as i32 - 2, 0, h as i32 - 1) as u32;
            let mut line = 0.0f32;
            #[unroll]
            for tx in 0..4u32 {
                let col = clamp((kx + px + tx) as i32 - 2, 0, w as i32 - 1) as u32;
                line += x[base + (row * w + col) as usize] * taps[(px * 4 + tx) as usize];
            }
            acc += line * taps[(py * 4 + ty) as usize];
        }
        out[(n * total_c as usize + ch) * plane + r as usize] = acc;
    }
}

/// Copies contiguous `skip` `[N, S, H, W]` into channels `c..c + S` of `out` `[N, c + S, H, W]`.
#[cube(launch)]
fn copy_skip_kernel(skip: &[f32], out: &mut [f32], plane: u32, s: u32, total_c: u32) {
    let i = ABSOLUTE_POS;
    if i < skip.len() {
        let block = (s * plane) as usize;
        let n = i / block;
        let rest = i % block;
        let offset = ((total_c - s) * plane) as usize;
        out[n * (total_c * plane) as usize + offset + rest] = skip[i];
    }
}

/// Whether every tensor is f32, the only type these kernels are written for.
pub fn all_f32(tensors: &[&CubeTensor]) -> bool {
    tensors.iter().all(|t| t.dtype == DType::F32)
}

/// A contiguous f32 output of `shape` beside `like`.
fn output(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, DType::F32)
}

/// The launch grid for `units` threads.
fn grid(like: &CubeTensor, units: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&like.client, units);
    (calculate_cube_count_elemwise(&like.client, units, dim), dim)
}

/// A kernel's `u32` size argument: the GPU indexes with 32 bits.
fn small(n: usize) -> u32 {
    u32::try_from(n).expect("a tensor dimension fits in 32 bits on the GPU")
}

/// Contiguous copies of the per-channel parameter vectors.
fn vectors<const K: usize>(v: [CubeTensor; K]) -> [CubeTensor; K] {
    v.map(into_contiguous)
}

/// [`super::TinyKernels::bn_infer`]: one dispatch.
pub fn bn_infer(x: CubeTensor, params: [CubeTensor; 4], epsilon: f64, gelu: bool) -> CubeTensor {
    let x = into_contiguous(x);
    let [gamma, beta, mean, var] = vectors(params);
    let shape = x.meta.shape().clone();
    let (channels, plane) = (
        shape[1],
        shape.num_elements() / shape[0].max(1) / shape[1].max(1),
    );
    let out = output(&x, shape.clone());
    let (count, dim) = grid(&x, shape.num_elements());
    bn_act_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        mean.into_buffer_arg(),
        var.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(plane),
        small(channels),
        epsilon as f32,
        gelu,
    );
    out
}

/// Whether [`pointwise_bn`] takes these shapes (4 × 4 tiles): `x` `[N, Ci, H, W]` with H·W a
/// multiple of 4, `weight` `[Co, Ci, 1, 1]` with Co one of 4.
pub fn pointwise_tiles(x: &CubeTensor, weight: &CubeTensor) -> bool {
    let [_, _, h, w] = x.meta.shape().dims();
    (h * w).is_multiple_of(4) && weight.meta.shape()[0].is_multiple_of(4)
}

/// [`super::TinyKernels::pointwise_bn`]: one dispatch (shapes that [`pointwise_tiles`] takes).
pub fn pointwise_bn(
    x: CubeTensor,
    weight: CubeTensor,
    params: [CubeTensor; 4],
    epsilon: f64,
    gelu: bool,
) -> CubeTensor {
    let (x, weight) = (into_contiguous(x), into_contiguous(weight));
    let [gamma, beta, mean, var] = vectors(params);
    let [n, ci, h, w] = x.meta.shape().dims();
    let co = weight.meta.shape()[0];
    let out = output(&x, Shape::new([n, co, h, w]));
    let (count, dim) = grid(&x, n * co * h * w / 16);
    pointwise_bn_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        weight.into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        mean.into_buffer_arg(),
        var.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(ci),
        small(co),
        small(h * w),
        epsilon as f32,
        gelu,
    );
    out
}

/// [`super::TinyKernels::depthwise3x3`]: one dispatch, NCHW.
pub fn depthwise3x3(x: CubeTensor, weight: CubeTensor) -> CubeTensor {
    let (x, weight) = (into_contiguous(x), into_contiguous(weight));
    let shape = x.meta.shape().clone();
    let out = output(&x, shape.clone());
    let (count, dim) = grid(&x, shape.num_elements());
    depthwise_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        weight.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(shape[2]),
        small(shape[3]),
        small(shape[1]),
    );
    out
}

/// [`super::TinyKernels::cascade_branch`]: one dispatch, in place in `joined` (copied first
/// only if another tensor shares its buffer).
pub fn cascade_branch(
    joined: CubeTensor,
    y: CubeTensor,
    weight: CubeTensor,
    params: [CubeTensor; 4],
    epsilon: f64,
    branch: usize,
) -> CubeTensor {
    let joined = into_contiguous(joined);
    let joined = if joined.can_mut() {
        joined
    } else {
        joined.copy()
    };
    let weight = into_contiguous(weight);
    let [gamma, beta, mean, var] = vectors(params);
    let [n, total, h, w] = joined.meta.shape().dims();
    let c = weight.meta.shape()[0];
    let (count, dim) = grid(&joined, n * c * h * w);
    let dims = (small(h), small(w), small(c), small(total / c));
    let eps = epsilon as f32;
    if branch == 0 {
        let y = into_contiguous(y);
        cascade_first_kernel::launch(
            &joined.client,
            count,
            dim,
            y.into_buffer_arg(),
            weight.into_buffer_arg(),
            gamma.into_buffer_arg(),
            beta.into_buffer_arg(),
            mean.into_buffer_arg(),
            var.into_buffer_arg(),
            joined.clone().into_buffer_arg(),
            dims.0,
            dims.1,
            dims.2,
            dims.3,
            eps,
        );
    } else {
        cascade_next_kernel::launch(
            &joined.client,
            count,
            dim,
            weight.into_buffer_arg(),
            gamma.into_buffer_arg(),
            beta.into_buffer_arg(),
            mean.into_buffer_arg(),
            var.into_buffer_arg(),
            joined.clone().into_buffer_arg(),
            dims.0,
            dims.1,
            dims.2,
            dims.3,
            small(branch),
            eps,
        );
    }
    joined
}

/// [`super::TinyKernels::max_pool2x2`]: one dispatch, NCHW.
pub fn max_pool2x2(x: CubeTensor) -> CubeTensor {
    let x = into_contiguous(x);
    let [n, c, h, w] = x.meta.shape().dims();
    let out = output(&x, Shape::new([n, c, h / 2, w / 2]));
    let (count, dim) = grid(&x, n * c * (h / 2) * (w / 2));
    max_pool_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(h),
        small(w),
    );
    out
}

/// [`super::TinyKernels::bicubic_up2_cat`]: two dispatches (the up-sampling, the skip's copy),
/// straight into the joined tensor.
pub fn bicubic_up2_cat(x: CubeTensor, skip: CubeTensor) -> CubeTensor {
    let (x, skip) = (into_contiguous(x), into_contiguous(skip));
    let [n, c, h, w] = x.meta.shape().dims();
    let s = skip.meta.shape()[1];
    let total = c + s;
    let out = output(&x, Shape::new([n, total, 2 * h, 2 * w]));
    let taps = taps_tensor(&x);
    let (count, dim) = grid(&x, n * c * 4 * h * w);
    bicubic_up2_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_buffer_arg(),
        taps.into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(h),
        small(w),
        small(c),
        small(total),
    );
    let (count, dim) = grid(&x, skip.meta.shape().num_elements());
    copy_skip_kernel::launch(
        &x.client,
        count,
        dim,
        skip.clone().into_buffer_arg(),
        out.clone().into_buffer_arg(),
        small(4 * h * w),
        small(s),
        small(total),
    );
    out
}

/// The two phases' four cubic weights on the device (8 floats).
fn taps_tensor(like: &CubeTensor) -> CubeTensor {
    let taps: Vec<f32> = bicubic_taps::phase_taps()
        .iter()
        .flatten()
        .copied()
        .collect();
    let handle = like.client.create_from_slice(f32::as_bytes(&taps));
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        Shape::new([8]),
        handle,
        DType::F32,
    )
}
