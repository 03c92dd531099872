//! ×2 bicubic upsampling of one plane and its adjoint, as direct 4-tap loops.

use crate::kernels::bicubic_taps::taps_for_output;

/// For each output along an axis: its four source indices (clamped) and weights.
pub(super) type Taps = Vec<([usize; 4], [f32; 4])>;

/// The taps of each of `2n` outputs along an axis of `n`.
pub(super) fn tap_table(n: usize) -> Taps {
    (0..2 * n).map(|o| taps_for_output(o, n)).collect()
}

/// ×2 bicubic upsampling of one `[h, w]` plane (`w` wide) into `out` (`[2h, 2w]`), with the
/// width's and the height's tap tables.
pub(super) fn bicubic_plane(src: &[f32], (cols, rows): &(Taps, Taps), w: usize, out: &mut [f32]) {
    let (h, row) = (src.len() / w, 2 * w);
    // Along the width: this plane's [h, w] → [h, 2w].
    let mut wide = vec![0f32; h * row];
    for (line, target) in src.chunks_exact(w).zip(wide.chunks_exact_mut(row)) {
        for (o, (j, k)) in cols.iter().enumerate() {
            target[o] =
                k[0] * line[j[0]] + k[1] * line[j[1]] + k[2] * line[j[2]] + k[3] * line[j[3]];
        }
    }
    // Along the height, one whole output row at a time (contiguous, vectorised).
    for (o, (j, k)) in rows.iter().enumerate() {
        let target = &mut out[o * row..(o + 1) * row];
        let [a, b, cc, d] = j.map(|r| &wide[r * row..(r + 1) * row]);
        for x in 0..row {
            target[x] = k[0] * a[x] + k[1] * b[x] + k[2] * cc[x] + k[3] * d[x];
        }
    }
}

/// Adds the adjoint of [`bicubic_plane`] of one `[2h, 2w]` gradient plane to `out` (`[h, w]`,
/// `w` wide), with the width's and the height's tap tables.
pub(super) fn bicubic_adjoint_plane(
    grad: &[f32],
    (cols, rows): &(Taps, Taps),
    w: usize,
    out: &mut [f32],
) {
    let w2 = 2 * w;
    let h = grad.len() / (2 * w2);
    // Adjoint along the height: each output row scatters into its four source rows.
    let mut tall = vec![0f32; h * w2];
    for (o, (j, k)) in rows.iter().enumerate() {
        let g = &grad[o * w2..(o + 1) * w2];
        for t in 0..4 {
            let target = &mut tall[j[t] * w2..(j[t] + 1) * w2];
            for x in 0..w2 {
                target[x] += k[t] * g[x];
            }
        }
    }
    // Adjoint along the width.
    for (line, target) in tall.chunks_exact(w2).zip(out.chunks_exact_mut(w)) {
        for (o, (j, k)) in cols.iter().enumerate() {
            let g = line[o];
            for t in 0..4 {
                target[j[t]] += k[t] * g;
            }
        }
    }
}
