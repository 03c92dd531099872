//! The kernels themselves, in CubeCL's Rust (compiled to WGSL or SPIR-V at first use): one
//! thread per output value (or small tile), NCHW, at most 7 bound buffers.

// The kernels are GPU code written in CubeCL's Rust: many scalar arguments, indexed loops that
// unroll into registers, and `v != v` as the NaN test (there is no `is_nan` there).
#![allow(clippy::too_many_arguments, clippy::needless_range_loop, clippy::eq_op)]

use burn_cubecl::cubecl;
use cubecl::prelude::*;

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
pub(super) fn bn_act_kernel(
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
/// multiple of `cols`), `weight` `[Co, Ci]` (Co a multiple of `rows`) → `out` `[N, Co, P]`.
/// Each thread owns a `rows × cols` tile (output channels × consecutive pixels) and walks the
/// input channels once: `rows + cols` reads for `rows · cols` multiply-adds, the tile in
/// registers, normalised as it is written. The CPU Vulkan drivers run a thread per SIMD lane
/// and gather every per-lane read, so reads per multiply-add set this kernel's speed there.
#[cube(launch)]
pub(super) fn pointwise_bn_kernel(
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
    #[comptime] rows: usize,
    #[comptime] cols: usize,
    #[comptime] gelu: bool,
) {
    let t = ABSOLUTE_POS;
    if t < out.len() / (rows * cols) {
        let (ci, co, plane) = (ci as usize, co as usize, plane as usize);
        let runs = plane / cols;
        let p0 = (t % runs) * cols;
        let rest = t / runs;
        let c0 = (rest % (co / rows)) * rows;
        let n = rest / (co / rows);
        let mut acc = Array::<f32>::new(rows * cols);
        #[unroll]
        for k in 0..rows * cols {
            acc[k] = 0.0;
        }
        let mut px = Array::<f32>::new(cols);
        let mut xo = n * ci * plane + p0;
        for i in 0..ci {
            #[unroll]
            for q in 0..cols {
                px[q] = x[xo + q];
            }
            #[unroll]
            for r in 0..rows {
                let wv = weight[(c0 + r) * ci + i];
                #[unroll]
                for q in 0..cols {
                    acc[r * cols + q] += wv * px[q];
                }
            }
            xo += plane;
        }
        #[unroll]
        for r in 0..rows {
            let c = c0 + r;
            let o = (n * co + c) * plane + p0;
            #[unroll]
            for q in 0..cols {
                out[o + q] = normalise(acc[r * cols + q], c, gamma, beta, mean, var, eps, gelu);
            }
        }
    }
}

/// Depthwise 3×3 (stride 1, zero padding 1) of contiguous `[N, C, H, W]` `x`, `weight`
/// `[C, 1, 3, 3]`.
#[cube(launch)]
pub(super) fn depthwise_kernel(
    x: &[f32],
    weight: &[f32],
    out: &mut [f32],
    h: u32,
    w: u32,
    channels: u32,
) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let plane = (h * w) as usize;
        let p = i / plane;
        let r = (i % plane) as u32;
        let c = p % channels as usize;
        out[i] = depthwise_at(x, p * plane, weight, c * 9, r / w, r % w, h, w);
    }
}

/// One step of the CMRF cascade, in place in `out` `[N, (d+1)·c, H, W]`: branch `k + 1` = the
/// depthwise ConvBN of branch `k`'s channels. For `k = 0` (`first`) the source is the odd
/// channels of pwconv1's output `y` `[N, 2c, H, W]`, and branch 0 (`even + odd`, y's channels
/// 2j and 2j+1) is written too; later steps read `out` itself (`y` is bound but not read: a
/// dispatch may not bind one buffer both read-only and writable).
#[cube(launch)]
pub(super) fn cascade_kernel(
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
    k: u32,
    eps: f32,
    #[comptime] first: bool,
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
        let out_base = n * branches as usize * c * plane;
        let source = out_base + (k as usize * c + j) * plane;
        let (row, col) = (r as u32 / w, r as u32 % w);
        let d = if first {
            let odd = (n * 2 * c + 2 * j + 1) * plane;
            out[source + r] = y[odd - plane + r] + y[odd + r];
            depthwise_at(y, odd, weight, j * 9, row, col, h, w)
        } else {
            depthwise_at(&*out, source, weight, j * 9, row, col, h, w)
        };
        out[source + c * plane + r] = normalise(d, j, gamma, beta, mean, var, eps, false);
    }
}

/// 2×2 max-pooling, stride 2, of contiguous `[N, C, H, W]` into `[N, C, H/2, W/2]`: the first
/// maximum of each window, NaN propagating, as burn's and PyTorch's.
#[cube(launch)]
pub(super) fn max_pool_kernel(x: &[f32], out: &mut [f32], h: u32, w: u32) {
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

/// The clamped input column or row `k + t − 2` of an axis of `n`.
#[cube]
fn clamped(k: u32, t: u32, n: u32) -> u32 {
    clamp(k as i32 + t as i32 - 2, 0, n as i32 - 1) as u32
}

/// The decoder's join: PyTorch's ×2 bicubic of `x` `[N, C, H, W]` written as channels `0..C`
/// of `out` `[N, C + S, 2H, 2W]` (the skip's channels are copied by `copy_skip_kernel`). One
/// thread per input pixel `(ky, kx)` writes the four outputs `(2ky + φy, 2kx + φx)`: output
/// `2k + φ` takes inputs `k − 2 + φ ..= k + 1 + φ` (clamped at the border) with the weights
/// `t0..t3` of phase 0 ([`crate::kernels::bicubic_taps::phase_taps`]) for φ = 0 and the same
/// reversed for φ = 1, so the four share a 5×5 window: 25 reads for 4 outputs, not 64. Rows
/// first, then columns, in the order of the CPU kernel's sums.
#[cube(launch)]
pub(super) fn bicubic_up2_kernel(
    x: &[f32],
    out: &mut [f32],
    h: u32,
    w: u32,
    c: u32,
    total_c: u32,
    t0: f32,
    t1: f32,
    t2: f32,
    t3: f32,
) {
    let i = ABSOLUTE_POS;
    let in_plane = (h * w) as usize;
    if i < out.len() / total_c as usize * c as usize / 4 {
        let p = i / in_plane;
        let r = (i % in_plane) as u32;
        let n = p / c as usize;
        let ch = p % c as usize;
        let ky = r / w;
        let kx = r % w;
        let base = p * in_plane;
        let mut taps = Array::<f32>::new(4usize);
        taps[0] = t0;
        taps[1] = t1;
        taps[2] = t2;
        taps[3] = t3;
        // Along the row: phase 0 reads columns kx − 2 ..= kx + 1, phase 1 kx − 1 ..= kx + 2.
        let mut even = Array::<f32>::new(5usize);
        let mut odd = Array::<f32>::new(5usize);
        #[unroll]
        for ty in 0..5u32 {
            let row = base + (clamped(ky, ty, h) * w) as usize;
            let mut v = Array::<f32>::new(5usize);
            #[unroll]
            for tx in 0..5u32 {
                v[tx as usize] = x[row + clamped(kx, tx, w) as usize];
            }
            let mut e = 0.0f32;
            let mut o = 0.0f32;
            #[unroll]
            for t in 0..4usize {
                e += v[t] * taps[t];
                o += v[t + 1] * taps[3 - t];
            }
            even[ty as usize] = e;
            odd[ty as usize] = o;
        }
        // Down the column, the same two phases over those five row sums.
        let mut top_even = 0.0f32;
        let mut top_odd = 0.0f32;
        let mut bottom_even = 0.0f32;
        let mut bottom_odd = 0.0f32;
        #[unroll]
        for t in 0..4usize {
            top_even += even[t] * taps[t];
            top_odd += odd[t] * taps[t];
            bottom_even += even[t + 1] * taps[3 - t];
            bottom_odd += odd[t + 1] * taps[3 - t];
        }
        let ow = 2 * w as usize;
        let o =
            (n * total_c as usize + ch) * (4 * in_plane) + 2 * ky as usize * ow + 2 * kx as usize;
        out[o] = top_even;
        out[o + 1] = top_odd;
        out[o + ow] = bottom_even;
        out[o + ow + 1] = bottom_odd;
    }
}

/// Copies contiguous `skip` `[N, S, H, W]` into channels `c..c + S` of `out` `[N, c + S, H, W]`.
#[cube(launch)]
pub(super) fn copy_skip_kernel(skip: &[f32], out: &mut [f32], plane: u32, s: u32, total_c: u32) {
    let i = ABSOLUTE_POS;
    if i < skip.len() {
        let block = (s * plane) as usize;
        let n = i / block;
        let rest = i % block;
        let offset = ((total_c - s) * plane) as usize;
        out[n * (total_c * plane) as usize + offset + rest] = skip[i];
    }
}

/// One Adam update per value, in burn's order of operations (see `TinyKernels::adam_update`):
/// seven buffers, the parameter, its gradient and the two moments in, the three updated out.
#[cube(launch)]
pub(super) fn adam_kernel(
    param: &[f32],
    grad: &[f32],
    moment_1: &[f32],
    moment_2: &[f32],
    param_out: &mut [f32],
    moment_1_out: &mut [f32],
    moment_2_out: &mut [f32],
    beta_1: f32,
    beta_2: f32,
    correction: f32,
    epsilon: f32,
    learning_rate: f32,
) {
    let i = ABSOLUTE_POS;
    if i < param_out.len() {
        let g = grad[i];
        let m = moment_1[i] * beta_1 + g * (1.0 - beta_1);
        let v = moment_2[i] * beta_2 + g * g * (1.0 - beta_2);
        moment_1_out[i] = m;
        moment_2_out[i] = v;
        param_out[i] = param[i] - m * correction / (v.sqrt() + epsilon) * learning_rate;
    }
}
