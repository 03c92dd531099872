//! Train-mode BatchNorm arithmetic of one channel, over its planes (one per sample): shared by
//! the BatchNorm kernels and the fused training cascade, so that both give the same bits.

use super::sum_zip;

/// Channel `ch`'s planes of a contiguous `[N, C, …]` tensor's values, one per sample.
pub(super) fn planes_of(x: &[f32], (n, c, plane): (usize, usize, usize), ch: usize) -> Vec<&[f32]> {
    (0..n)
        .map(|i| &x[(i * c + ch) * plane..][..plane])
        .collect()
}

/// `Σ f(x)` over all the planes, in order.
fn sum(planes: &[&[f32]], f: impl Fn(f32) -> f32) -> f64 {
    planes.iter().map(|p| sum_zip(p, p, |v, _| f(v))).sum()
}

/// `Σ f(x, g)` over the planes' pairs, in order.
fn sum_pairs(xs: &[&[f32]], gs: &[&[f32]], f: impl Fn(f32, f32) -> f32) -> f64 {
    xs.iter().zip(gs).map(|(x, g)| sum_zip(x, g, &f)).sum()
}

/// Elements of a channel: its planes' sizes added up.
fn count(planes: &[&[f32]]) -> usize {
    planes.iter().map(|p| p.len()).sum()
}

/// The batch's mean and biased variance of one channel.
pub(super) fn mean_variance(planes: &[&[f32]]) -> (f32, f32) {
    let count = count(planes) as f64;
    let m = (sum(planes, |v| v) / count) as f32;
    // Two passes (centred squares), not E[x²] − m², which cancels catastrophically.
    let variance = (sum(planes, |v| (v - m) * (v - m)) / count) as f32;
    (m, variance)
}

/// `γ / √(variance + ε)`: the factor that normalises a channel.
pub(super) fn scale(gamma: f32, variance: f32, epsilon: f64) -> f32 {
    gamma / (variance + epsilon as f32).sqrt()
}

/// One channel's part of a train-mode BatchNorm's backward.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChannelGrad {
    /// The gradient of γ.
    pub gamma: f32,
    /// The gradient of β.
    pub beta: f32,
    mean: f32,
    scale: f32,
    mean_g: f32,
    slope: f32,
}

impl ChannelGrad {
    /// From the channel's inputs `xs` and output gradients `gs` (a plane per sample), its γ and
    /// the batch statistics the forward used.
    pub(super) fn new(
        xs: &[&[f32]],
        gs: &[&[f32]],
        gamma: f32,
        (mean, variance): (f32, f32),
        epsilon: f64,
    ) -> Self {
        let count = count(xs) as f32;
        // x̂ = (x − μ)·σ⁻¹; dx = γσ⁻¹·(g − mean(g) − x̂·mean(g·x̂)).
        let inv_std = 1.0 / (variance + epsilon as f32).sqrt();
        let sum_g = sum_pairs(xs, gs, |_, g| g);
        // Σg·(x − μ) around the f32-rounded μ, corrected by the rounding error δ of μ:
        // δ·Σg is far larger than float noise when the mean is large against the spread.
        let delta = sum(xs, |v| v - mean) / count as f64;
        let sum_gx = (sum_pairs(xs, gs, |x, g| g * (x - mean)) - delta * sum_g) as f32;
        let sum_g = sum_g as f32;
        let gamma_grad = sum_gx * inv_std;
        Self {
            gamma: gamma_grad,
            beta: sum_g,
            mean,
            scale: gamma * inv_std,
            mean_g: sum_g / count,
            slope: gamma_grad * inv_std / count,
        }
    }

    /// Writes the input's gradient for one plane (`x`, its output gradient `g`) to `out`.
    pub(super) fn input_grad(&self, x: &[f32], g: &[f32], out: &mut [f32]) {
        let Self {
            mean: m,
            scale,
            mean_g,
            slope,
            ..
        } = *self;
        for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
            *o = scale * (g - mean_g - (x - m) * slope);
        }
    }
}
