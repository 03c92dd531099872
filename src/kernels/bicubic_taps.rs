//! The arithmetic of ×2 bicubic upsampling, identical to PyTorch's
//! `interpolate(scale_factor=2, mode="bicubic", align_corners=False)`.
//!
//! burn's own bicubic `interpolate` has no backward pass on the CPU or wgpu backends, so training
//! through it panics. Bicubic resampling is separable and linear: along each axis, output `o` is a
//! fixed 4-tap combination of the inputs around PyTorch's source coordinate `(o + 0.5) / 2 − 0.5`
//! (cubic weights with A = −0.75, out-of-range taps clamped onto the border pixel as PyTorch clamps
//! its indices). This module holds that arithmetic; the kernels ([`super::TinyKernels::bicubic_up2`]) run it — as direct loops on
//! the CPU, and on the GPU as small matrix products over overlapping, border-clamped windows
//! ([`window_indices`], [`tile_matrix`]).

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

/// The four weights of output `2k + φ` of a doubling, for the phases φ = 0 and 1: they apply to
/// inputs `k − 2 + φ ..= k + 1 + φ` (clamped onto the borders). Output `2k` samples at
/// `k − 0.25` (`floor` k − 1, fraction 0.75), output `2k + 1` at `k + 0.25` (k, 0.25).
pub fn phase_taps() -> [[f32; 4]; 2] {
    [taps(0.75), taps(0.25)].map(|w| w.map(|v| v as f32))
}

/// Pixels the taps reach past an input tile on either side: output 0 samples at −0.25, whose
/// taps are −2..=1, and output 2t−1 of a `t`-pixel tile at t−0.75, whose taps end at t+1.
pub const HALO: usize = 2;

/// Input pixels per tile along an axis of length `n`: the largest of 32, 16, …, 1 that divides
/// it. The model's maps are multiples of 16; the smaller tiles serve odd shapes. On lavapipe the
/// products ran fastest per output at 32 (36-wide windows): 16 and 64 took 1.2–2× as long.
pub fn tile_for(n: usize) -> usize {
    [32, 16, 8, 4, 2, 1]
        .into_iter()
        .find(|t| n.is_multiple_of(*t))
        .expect("1 divides everything")
}

/// Along an axis of length `n` cut into tiles of `tile`, the source pixel of every position of
/// every tile's window (the tile and [`HALO`] pixels either side), `n / tile · (tile + 2·HALO)`
/// indices, clamped onto the borders as PyTorch clamps its taps.
pub fn window_indices(n: usize, tile: usize) -> Vec<i64> {
    let last = n as i64 - 1;
    (0..n / tile)
        .flat_map(|t| (0..tile + 2 * HALO).map(move |k| (t * tile + k) as i64 - HALO as i64))
        .map(|i| i.clamp(0, last))
        .collect()
}

/// The `[2·tile, tile + 2·HALO]` row-major matrix that doubles one window into its tile's
/// `2·tile` outputs: every tile's, since nothing inside a window clamps (its border pixels
/// already did). Read off an interior tile of a longer signal.
pub fn tile_matrix(tile: usize) -> Vec<f32> {
    let (window, interior) = (tile + 2 * HALO, 2 * tile);
    let mut m = vec![0f32; 2 * tile * window];
    for o in 0..2 * tile {
        let (index, weight) = taps_for_output(2 * interior + o, 4 * interior);
        for (i, w) in index.into_iter().zip(weight) {
            m[o * window + i + HALO - interior] += w;
        }
    }
    m
}

/// The `[2n, n]` row-major matrix that doubles a length-`n` signal bicubically: the tests'
/// reference, and the dense form the GPU used before tiles.
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
    fn the_phase_taps_are_the_interior_outputs_taps() {
        let n = 9;
        for k in 2..n - 2 {
            for phase in 0..2 {
                let (index, weights) = taps_for_output(2 * k + phase, n);
                assert_eq!(index[0], k - 2 + phase);
                assert_eq!(weights, phase_taps()[phase]);
            }
        }
        // The GPU's join kernel takes phase 0's four weights and reads phase 1's reversed.
        let [even, odd] = phase_taps();
        assert_eq!(odd, [even[3], even[2], even[1], even[0]]);
    }

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

    /// Windows and tile matrices give every output of the dense matrix, borders included.
    #[test]
    fn tiles_over_clamped_windows_are_the_matrix() {
        for n in [1, 2, 3, 6, 7, 32] {
            let (m, tile) = (upsample_matrix(n), tile_for(n));
            let (window, sources) = (tile + 2 * HALO, window_indices(n, tile));
            let tm = tile_matrix(tile);
            for o in 0..2 * n {
                let (t, local) = (o / (2 * tile), o % (2 * tile));
                let mut row = vec![0f32; n];
                for k in 0..window {
                    row[sources[t * window + k] as usize] += tm[local * window + k];
                }
                for (a, b) in row.iter().zip(&m[o * n..(o + 1) * n]) {
                    assert!((a - b).abs() < 1e-6, "n {n}, output {o}: {row:?}");
                }
            }
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
