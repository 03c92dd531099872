//! Differentiable ×2 bicubic upsampling, identical to PyTorch's
//! `interpolate(scale_factor=2, mode="bicubic", align_corners=False)`.
//!
//! burn's own bicubic `interpolate` has no backward pass on the CPU or wgpu backends, so training
//! through it panics. For a factor of exactly 2 with half-pixel centres, every output pixel sits at
//! one of two fixed phases between input pixels (t = 0.75 for even outputs, t = 0.25 for odd ones),
//! so the resampling is a fixed 4-tap stencil per phase. We express it with slices, scalar
//! multiplies and adds — operations every backend differentiates — applied separably along width
//! and height. Borders are clamped (replicate padding), as PyTorch clamps its source indices.

use burn::prelude::*;

/// PyTorch's cubic convolution constant (Keys' kernel with A = -0.75).
const A: f64 = -0.75;

/// Weight of the kernel for a tap at distance `x` (0 ≤ x ≤ 1) from the sample point.
fn near(x: f64) -> f64 {
    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
}

/// Weight of the kernel for a tap at distance `x` (1 < x < 2) from the sample point.
fn far(x: f64) -> f64 {
    ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
}

/// The four tap weights for a sample at fraction `t` past the left tap `floor`,
/// applied to taps `floor-1, floor, floor+1, floor+2`.
fn taps(t: f64) -> [f64; 4] {
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Upsamples `[N, C, H, W]` to `[N, C, 2H, 2W]` with PyTorch's bicubic (align_corners=false).
pub fn bicubic_up2(x: Tensor<4>) -> Tensor<4> {
    let x = upsample_axis(x, 3);
    upsample_axis(x, 2)
}

/// Doubles one spatial axis (`axis` is 2 for height or 3 for width).
fn upsample_axis(x: Tensor<4>, axis: usize) -> Tensor<4> {
    let dims = x.dims();
    let len = dims[axis];
    // Source coordinate of output 2i is i - 0.25 (floor i-1, t = 0.75): taps i-2..=i+1.
    // Source coordinate of output 2i+1 is i + 0.25 (floor i, t = 0.25): taps i-1..=i+2.
    // With two replicated pixels on each side, tap i+k lives at padded index i+k+2.
    let padded = replicate_pad(x, axis, 2);
    let even = weighted_window_sum(&padded, axis, len, 0, taps(0.75));
    let odd = weighted_window_sum(&padded, axis, len, 1, taps(0.25));
    // Interleave: stack along a new axis right after `axis`, then merge the two.
    let mut out_dims = dims;
    out_dims[axis] = 2 * len;
    Tensor::stack::<5>(vec![even, odd], axis + 1).reshape(out_dims)
}

/// `Σ_k w[k] · padded[start+k .. start+k+len]` along `axis`.
fn weighted_window_sum(
    padded: &Tensor<4>,
    axis: usize,
    len: usize,
    start: usize,
    weights: [f64; 4],
) -> Tensor<4> {
    weights
        .iter()
        .enumerate()
        .map(|(k, &w)| padded.clone().narrow(axis, start + k, len).mul_scalar(w))
        .reduce(|acc, term| acc + term)
        .expect("four taps")
}

/// Pads `amount` copies of the first and last slice along `axis` (PyTorch's clamped indexing).
fn replicate_pad(x: Tensor<4>, axis: usize, amount: usize) -> Tensor<4> {
    let len = x.dims()[axis];
    let first = x.clone().narrow(axis, 0, 1);
    let last = x.clone().narrow(axis, len - 1, 1);
    let mut parts = Vec::with_capacity(2 * amount + 1);
    parts.extend(std::iter::repeat_n(first, amount));
    parts.push(x);
    parts.extend(std::iter::repeat_n(last, amount));
    Tensor::cat(parts, axis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_weights_match_pytorch_constants() {
        // PyTorch's upsample_bicubic2d coefficients for t = 0.25, A = -0.75.
        let w = taps(0.25);
        let expected = [-0.10546875, 0.87890625, 0.26171875, -0.03515625];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mirrored = taps(0.75);
        for k in 0..4 {
            assert!((mirrored[k] - w[3 - k]).abs() < 1e-12);
        }
    }
}
