//! The arithmetic of ×2 bicubic upsampling, identical to PyTorch's
//! `interpolate(scale_factor=2, mode="bicubic", align_corners=False)`.
//!
//! burn's own bicubic `interpolate` has no backward pass on the CPU or wgpu backends, so training
//! through it panics. Bicubic resampling is separable and linear: along each axis, output `o` is a
//! fixed 4-tap combination of the inputs around PyTorch's source coordinate `(o + 0.5) / 2 − 0.5`
//! (cubic weights with A = −0.75, out-of-range taps clamped onto the border pixel as PyTorch clamps
//! its indices). This module holds that arithmetic; the kernels ([`super::TinyKernels::bicubic_up2`]) run it — as direct loops on
//! the CPU, and as matrix products (forward and adjoint) on the GPU.

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

/// Output `o` of a length-`2n` bicubic doubling: its four source indices, clamped onto the
/// borders as PyTorch clamps them, and their weights.
pub fn taps_for_output(o: usize, n: usize) -> ([usize; 4], [f32; 4]) {
    let source = (o as f64 + 0.5) / 2.0 - 0.5;
    let floor = source.floor();
    let weights = taps(source - floor);
    let index = |k: usize| (floor as i64 - 1 + k as i64).clamp(0, n as i64 - 1) as usize;
    (
        [index(0), index(1), index(2), index(3)],
        weights.map(|w| w as f32),
    )
}

/// The `[2n, n]` row-major matrix that doubles a length-`n` signal bicubically.
pub fn upsample_matrix(n: usize) -> Vec<f32> {
    let mut m = vec![0f32; 2 * n * n];
    for o in 0..2 * n {
        let (index, weight) = taps_for_output(o, n);
        for (j, w) in index.iter().zip(weight) {
            m[o * n + j] += w;
        }
    }
    m
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

    #[test]
    fn matrix_rows_sum_to_one_and_clamp_at_borders() {
        let n = 5;
        let m = upsample_matrix(n);
        for row in m.chunks(n) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
        }
        // Output 0 samples at -0.25: taps -2, -1, 0, 1 → the first three clamp onto pixel 0.
        let t = taps(0.75);
        assert!((m[0] - (t[0] + t[1] + t[2]) as f32).abs() < 1e-7);
        assert!((m[1] - t[3] as f32).abs() < 1e-7);
        // Output 3 samples at 1.25: taps 0..=3 in order.
        let t = taps(0.25);
        for k in 0..4 {
            assert!((m[3 * n + k] - t[k] as f32).abs() < 1e-7);
        }
    }
}
