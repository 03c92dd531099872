//! 1×1 convolutions on burn-flex: matrix products cut into fixed blocks, each one serial `gemm`
//! call, the blocks spread over the thread pool ([`super::par`]).
//!
//! Why not burn-flex's `matmul`: it hands the whole product to `gemm` with its own threading,
//! which splits every product anew over the threads. In the browser's threaded build that spent
//! 1.8× the CPU time of one thread on the same products (a per-thread profile of a 256²
//! inference, 2026-12-02), so two threads barely gained; and a weight gradient (output
//! channels × input channels, summed over every pixel) gave it one block to share, so it ran on
//! one thread. Here the output is cut into blocks of up to [`ROWS`] channels × [`COLS`] pixels
//! (narrower where that gives too few, [`TASKS`]), and a weight gradient's sum over pixels into
//! runs of up to [`DEPTH`] whose partial products are added in a fixed order. The blocks depend on the shapes only, never on the number of threads, so every
//! thread count gives the same result bit for bit.

use gemm::{Parallelism, gemm};

use super::par;

/// Output channels per block, at most.
const ROWS: usize = 64;
/// Pixels per block of an output, at most.
const COLS: usize = 4096;
/// Pixels per partial sum of a weight gradient, at most.
const DEPTH: usize = 4096;
/// The fewest pixels a block or partial sum is cut to, to make [`TASKS`].
const MIN_PIXELS: usize = 512;
/// Blocks a product is cut into where its size allows, whatever the thread count: enough to
/// keep a pool of a few threads evenly busy. The middle layers have too few pixels for
/// [`COLS`]-wide blocks and too few channels for more than one row of them (TinyU-Net's
/// 64²-pixel stage: 32 output channels), so their blocks narrow down to [`MIN_PIXELS`].
const TASKS: usize = 16;

/// Pixels per block when `others` blocks already cut the rest of the work: at most `widest`,
/// narrower (a multiple of 64, at least [`MIN_PIXELS`]) until there are [`TASKS`] blocks.
fn pixels_per_block(pixels: usize, others: usize, widest: usize) -> usize {
    let cuts = TASKS.div_ceil(others.max(1));
    pixels
        .div_ceil(cuts)
        .next_multiple_of(64)
        .clamp(MIN_PIXELS, widest)
}

/// A pointer into an output vector that the blocks write disjoint parts of.
#[derive(Clone, Copy)]
struct Out(*mut f32);

// SAFETY: each task writes only its own block of the vector behind the pointer, which outlives
// the parallel loop (the loop returns before the vector is used).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The pointer `offset` elements in (a method, so that closures capture the whole `Out`).
    fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: callers pass offsets inside the vector.
        unsafe { self.0.add(offset) }
    }
}

/// A matrix `[rows, cols]` read through strides: `at(i, j) = data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy)]
pub(super) struct Strided<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Strided<'_> {
    /// Whether every element the strides reach lies in `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `out[b] = a · x[b]` for each of `samples` contiguous `[a.cols, pixels]` matrices in `x`: the
/// `[samples, a.rows, pixels]` result, row-major. `a` is the weight (forward) or its transpose
/// (the input's gradient).
pub(super) fn product(a: Strided<'_>, x: &[f32], samples: usize, pixels: usize) -> Vec<f32> {
    let (m, k) = (a.rows, a.cols);
    assert!(a.in_bounds() && x.len() == samples * k * pixels);
    let len = samples * m * pixels;
    let mut out = Vec::<f32>::with_capacity(len);
    if len == 0 {
        return out;
    }
    let dst = Out(out.as_mut_ptr());
    let row_blocks = m.div_ceil(ROWS);
    let width = pixels_per_block(pixels, samples * row_blocks, COLS);
    let col_blocks = pixels.div_ceil(width);
    let per_sample = row_blocks * col_blocks;
    par::map(samples * per_sample, |task| {
        let (b, block) = (task / per_sample, task % per_sample);
        let (r0, c0) = ((block / col_blocks) * ROWS, (block % col_blocks) * width);
        let (rows, cols) = (ROWS.min(m - r0), width.min(pixels - c0));
        // SAFETY: the block `[r0, r0 + rows) × [c0, c0 + cols)` of sample `b` lies inside `out`
        // (capacity `len`) and no other task writes it; `a` and `x` are read within their
        // bounds (checked above); `read_dst: false` makes gemm write every element of the block.
        unsafe {
            gemm(
                rows,
                cols,
                k,
                dst.at(b * m * pixels + r0 * pixels + c0),
                1,
                pixels as isize,
                false,
                a.data.as_ptr().add(r0 * a.row_stride),
                a.col_stride as isize,
                a.row_stride as isize,
                x.as_ptr().add(b * k * pixels + c0),
                1,
                pixels as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    });
    // SAFETY: the blocks cover all `len` elements, each written by its gemm call.
    unsafe { out.set_len(len) };
    out
}

/// `Σ_b g[b] · x[b]ᵀ` for `g` `[samples, m, pixels]` and `x` `[samples, k, pixels]`: the weight
/// gradient `[m, k]` of a 1×1 convolution.
pub(super) fn weight_gradient(
    g: &[f32],
    x: &[f32],
    samples: usize,
    (m, k, pixels): (usize, usize, usize),
) -> Vec<f32> {
    assert!(g.len() == samples * m * pixels && x.len() == samples * k * pixels);
    let row_blocks = m.div_ceil(ROWS);
    let run = pixels_per_block(pixels, samples * row_blocks, DEPTH);
    let runs = pixels.div_ceil(run);
    let per_rows = samples * runs;
    // One partial product per (row block, sample, run of pixels), all at once: at most a few MB
    // for TinyU-Net (the wide layers have few pixels, the many-pixel ones few channels).
    let partials = par::map(row_blocks * per_rows, |task| {
        let (rb, part) = (task / per_rows, task % per_rows);
        let (b, r) = (part / runs, part % runs);
        let (r0, p0) = (rb * ROWS, r * run);
        let (rows, depth) = (ROWS.min(m - r0), run.min(pixels - p0));
        let mut block = Vec::<f32>::with_capacity(rows * k);
        // SAFETY: `block` holds `rows × k` elements, all written (`read_dst: false`); the rows
        // `r0..r0 + rows` of `g[b]` and all of `x[b]` are read over pixels `p0..p0 + depth`,
        // inside the slices (checked above).
        unsafe {
            gemm(
                rows,
                k,
                depth,
                block.as_mut_ptr(),
                1,
                k as isize,
                false,
                g.as_ptr().add(b * m * pixels + r0 * pixels + p0),
                1,
                pixels as isize,
                x.as_ptr().add(b * k * pixels + p0),
                pixels as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
            block.set_len(rows * k);
        }
        block
    });
    // The partials of each row block, added in their fixed order.
    par::chunks(m * k, ROWS * k, |rb, out| {
        for partial in &partials[rb * per_rows..(rb + 1) * per_rows] {
            for (o, &v) in out.iter_mut().zip(partial) {
                *o += v;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32)
            .map(|v| v / (1u32 << 24) as f32 - 0.5)
            .collect()
    }

    /// Shapes that cross every block edge: rows past [`ROWS`], pixels past [`COLS`]/[`DEPTH`],
    /// and narrowed blocks (one row block over a few thousand pixels).
    const SHAPES: [(usize, usize, usize, usize); 4] = [
        (2, 3, 5, 7),
        (1, 70, 9, COLS + 13),
        (3, 130, 66, 2 * DEPTH + 1),
        (1, 32, 20, 4096 + 77),
    ];

    #[test]
    fn products_match_the_definition() {
        for (samples, m, k, pixels) in SHAPES {
            let (w, x) = (values(m * k, 1), values(samples * k * pixels, 2));
            let a = Strided {
                data: &w,
                rows: m,
                cols: k,
                row_stride: k,
                col_stride: 1,
            };
            let y = product(a, &x, samples, pixels);
            let at = |b: usize, i: usize, p: usize| -> f64 {
                (0..k)
                    .map(|j| w[i * k + j] as f64 * x[(b * k + j) * pixels + p] as f64)
                    .sum()
            };
            for (b, i, p) in [
                (0, 0, 0),
                (samples - 1, m - 1, pixels - 1),
                (0, m / 2, pixels / 2),
            ] {
                let got = y[(b * m + i) * pixels + p] as f64;
                assert!((got - at(b, i, p)).abs() < 1e-4, "{got} vs {}", at(b, i, p));
            }
            // The transpose, read through strides: the input's gradient.
            let t = Strided {
                data: &w,
                rows: k,
                cols: m,
                row_stride: 1,
                col_stride: k,
            };
            let g = values(samples * m * pixels, 3);
            let dx = product(t, &g, samples, pixels);
            let (b, j, p) = (samples - 1, k - 1, pixels - 1);
            let want: f64 = (0..m)
                .map(|i| w[i * k + j] as f64 * g[(b * m + i) * pixels + p] as f64)
                .sum();
            assert!((dx[(b * k + j) * pixels + p] as f64 - want).abs() < 1e-4);
        }
    }

    #[test]
    fn weight_gradients_match_the_definition() {
        for (samples, m, k, pixels) in SHAPES {
            let (g, x) = (
                values(samples * m * pixels, 4),
                values(samples * k * pixels, 5),
            );
            let dw = weight_gradient(&g, &x, samples, (m, k, pixels));
            for (i, j) in [(0, 0), (m - 1, k - 1), (m / 2, k / 3)] {
                let want: f64 = (0..samples)
                    .flat_map(|b| (0..pixels).map(move |p| (b, p)))
                    .map(|(b, p)| {
                        g[(b * m + i) * pixels + p] as f64 * x[(b * k + j) * pixels + p] as f64
                    })
                    .sum();
                let got = dw[i * k + j] as f64;
                assert!(
                    (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                    "{got} vs {want}"
                );
            }
        }
    }
}
