//! One lesion's outline in its own frame: the radius table and the noisy shape field whose
//! `f < 1` is the mask.

use std::f32::consts::{PI, TAU};

use super::math::{atan2, cos, lerp, sin};
use super::noise::{fbm, floor_i32, gradient_noise};
use crate::rng::Rng;

/// Angular resolution of the radius table.
const RADIAL_STEPS: usize = 256;

/// The outline of one lesion in its own frame: `f = rho / r(theta) + noise`, inside where
/// `f < 1`. Everything is relative to a unit size, so scaling the lesion scales the shape
/// exactly, which is what lets [`calibrate_scale`](super::calibrate::calibrate_scale) hit an area target.
pub(super) struct Shape {
    /// Centre offset from the anchor, in units of the global scale (satellites only).
    pub(super) offset: (f32, f32),
    /// Size relative to the global scale.
    pub(super) rel_size: f32,
    cos_rot: f32,
    sin_rot: f32,
    /// Minor/major axis ratio, at most 1.
    aspect: f32,
    radii: Vec<f32>,
    r_max: f32,
    pub(super) r_mean: f32,
    warp_amp: f32,
    warp_freq: f32,
    fine_amp: f32,
    fine_freq: f32,
    seed: u32,
}

impl Shape {
    /// A random outline whose irregularity and warp are drawn from the given ranges (the lesion
    /// kind's habits).
    pub(super) fn random(rng: &mut Rng, irregularity: (f32, f32), warp: (f32, f32)) -> Self {
        let irregularity = rng.uniform_f32(irregularity.0, irregularity.1);
        let radii = random_radii(rng, irregularity);
        let r_max = radii.iter().copied().fold(0.0, f32::max);
        let r_mean = radii.iter().sum::<f32>() / radii.len().max(1) as f32;
        let angle = rng.uniform_f32(0.0, TAU);
        Self {
            offset: (0.0, 0.0),
            rel_size: 1.0,
            cos_rot: cos(angle),
            sin_rot: sin(angle),
            aspect: rng.uniform_f32(0.6, 1.0),
            radii,
            r_max,
            r_mean,
            warp_amp: rng.uniform_f32(warp.0, warp.1),
            warp_freq: rng.uniform_f32(1.5, 4.0),
            fine_amp: rng.uniform_f32(0.0, 0.035),
            fine_freq: rng.uniform_f32(5.0, 11.0),
            seed: rng.next_u32(),
        }
    }

    /// Shape coordinates of an offset `(dx, dy)` already divided by the lesion size.
    pub(super) fn offset_to_local(&self, dx: f32, dy: f32) -> (f32, f32) {
        let u = dx * self.cos_rot + dy * self.sin_rot;
        let v = (-dx * self.sin_rot + dy * self.cos_rot) / self.aspect;
        (u, v)
    }

    /// Inverse of [`Shape::offset_to_local`].
    pub(super) fn local_to_offset(&self, u: f32, v: f32) -> (f32, f32) {
        let v = v * self.aspect;
        (
            u * self.cos_rot - v * self.sin_rot,
            u * self.sin_rot + v * self.cos_rot,
        )
    }

    pub(super) fn radius_at(&self, theta: f32) -> f32 {
        let pos = (theta + PI) / TAU * RADIAL_STEPS as f32;
        let floor = floor_i32(pos).max(0);
        let i0 = floor as usize % RADIAL_STEPS;
        let i1 = (i0 + 1) % RADIAL_STEPS;
        let r0 = self.radii.get(i0).copied().unwrap_or(1.0);
        let r1 = self.radii.get(i1).copied().unwrap_or(1.0);
        lerp(r0, r1, pos - floor as f32)
    }

    /// The shape field: below 1 inside, 1 on the outline, growing outwards.
    pub(super) fn field(&self, u: f32, v: f32) -> f32 {
        let rho = (u * u + v * v).sqrt();
        let r = self.radius_at(atan2(v, u));
        let wx = u * self.warp_freq;
        let wy = v * self.warp_freq;
        let warp = fbm(wx, wy, self.seed, 2);
        let fine = gradient_noise(u * self.fine_freq, v * self.fine_freq, self.seed ^ 0xA5A5);
        rho / r + self.warp_amp * warp + self.fine_amp * fine
    }

    /// Largest `rho` (shape units) at which the field can still be below `f_max`.
    pub(super) fn reach(&self, f_max: f32) -> f32 {
        // Noise is bounded by 1 (times a little slack for rounding), so this is a true bound.
        (f_max + (self.warp_amp + self.fine_amp) * 1.02) * self.r_max
    }
}

/// Radius as a function of angle: a few low harmonics for the overall outline, weaker high
/// ones for the ragged edge that melanomas and keratoses show.
fn random_radii(rng: &mut Rng, irregularity: f32) -> Vec<f32> {
    let mut harmonics = Vec::new();
    for k in 2..=6u32 {
        let amp = irregularity * rng.uniform_f32(0.2, 1.0) / (0.5 * k as f32);
        harmonics.push((k as f32, amp, rng.uniform_f32(0.0, TAU)));
    }
    for k in 7..=16u32 {
        let amp = irregularity * rng.uniform_f32(0.0, 0.3) / k as f32;
        harmonics.push((k as f32, amp, rng.uniform_f32(0.0, TAU)));
    }
    (0..RADIAL_STEPS)
        .map(|i| {
            let theta = i as f32 / RADIAL_STEPS as f32 * TAU - PI;
            let wobble: f32 = harmonics
                .iter()
                .map(|&(k, amp, phase)| amp * cos(k * theta + phase))
                .sum();
            (1.0 + wobble).max(0.35)
        })
        .collect()
}
