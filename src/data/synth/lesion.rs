//! The lesions' outlines and placement: the shape field whose `f < 1` is the mask, one lesion
//! and its satellite, and the nearest-lesion lookup that merges overlapping ones.

use std::f32::consts::{PI, TAU};

use super::SynthOptions;
use super::canvas::Frame;
use super::look::{KindTraits, LesionKind, Look};
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
    fn random(rng: &mut Rng, traits: &KindTraits) -> Self {
        let irregularity = rng.uniform_f32(traits.irregularity.0, traits.irregularity.1);
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
            warp_amp: rng.uniform_f32(traits.warp.0, traits.warp.1),
            warp_freq: rng.uniform_f32(1.5, 4.0),
            fine_amp: rng.uniform_f32(0.0, 0.035),
            fine_freq: rng.uniform_f32(5.0, 11.0),
            seed: rng.next_u32(),
        }
    }

    /// Shape coordinates of an offset `(dx, dy)` already divided by the lesion size.
    fn offset_to_local(&self, dx: f32, dy: f32) -> (f32, f32) {
        let u = dx * self.cos_rot + dy * self.sin_rot;
        let v = (-dx * self.sin_rot + dy * self.cos_rot) / self.aspect;
        (u, v)
    }

    /// Inverse of [`Shape::offset_to_local`].
    fn local_to_offset(&self, u: f32, v: f32) -> (f32, f32) {
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
    fn field(&self, u: f32, v: f32) -> f32 {
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

/// One lesion: outline plus colouring.
pub(super) struct Lesion {
    pub(super) shape: Shape,
    pub(super) look: Look,
}

impl Lesion {
    fn random(rng: &mut Rng) -> Self {
        let kind = LesionKind::random(rng);
        let traits = kind.traits();
        let shape = Shape::random(rng, &traits);
        let look = Look::random(rng, kind, &traits, &shape);
        Self { shape, look }
    }

    pub(super) fn place(&self, anchor: (f32, f32), scale: f32, pixel: f32) -> PlacedLesion<'_> {
        let size = (scale * self.shape.rel_size).max(1e-6);
        let centre = (
            anchor.0 + scale * self.shape.offset.0,
            anchor.1 + scale * self.shape.offset.1,
        );
        // Half a pixel of blend at least, which is plain anti-aliasing for sharp borders.
        let edge = self.look.border_width.max(0.6 * pixel) / (size * self.shape.r_mean);
        let f_max = if self.look.halo > 0.0 {
            (1.0 + edge).max(HALO_REACH)
        } else {
            1.0 + edge
        };
        let reach = size * self.shape.reach(f_max);
        PlacedLesion {
            lesion: self,
            centre,
            size,
            edge,
            reach_sq: reach * reach,
        }
    }
}

/// Field value out to which the inflammatory halo extends.
pub(super) const HALO_REACH: f32 = 1.7;

/// All lesions of an image; satellites sit relative to the anchor of the first one.
pub(super) struct LesionSet {
    pub(super) anchor: (f32, f32),
    pub(super) lesions: Vec<Lesion>,
}

pub(super) fn target_fraction(rng: &mut Rng, options: &SynthOptions) -> f32 {
    let lo = options.min_lesion_fraction.clamp(0.001, 0.95);
    let hi = options.max_lesion_fraction.clamp(0.001, 0.95);
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    rng.uniform_f32(lo, hi)
}

pub(super) fn random_lesions(rng: &mut Rng, frame: &Frame, target: f32) -> LesionSet {
    // Dermoscopy centres the lesion, but small lesions wander more.
    let spread = 0.32 - 0.3 * target;
    let anchor = (
        rng.uniform_f32(-spread, spread) * frame.half.0,
        rng.uniform_f32(-spread, spread) * frame.half.1,
    );
    let mut lesions = vec![Lesion::random(rng)];
    if rng.chance_f32(0.12) {
        let mut satellite = Lesion::random(rng);
        let rel_size = rng.uniform_f32(0.3, 0.6);
        let angle = rng.uniform_f32(0.0, TAU);
        let distance = rng.uniform_f32(0.9, 1.5) * (1.0 + rel_size);
        satellite.shape.rel_size = rel_size;
        satellite.shape.offset = (cos(angle) * distance, sin(angle) * distance);
        lesions.push(satellite);
    }
    LesionSet { anchor, lesions }
}

/// A lesion at its final position and size.
pub(super) struct PlacedLesion<'a> {
    pub(super) lesion: &'a Lesion,
    pub(super) centre: (f32, f32),
    pub(super) size: f32,
    /// Half-width of the border blend in field units.
    pub(super) edge: f32,
    /// Squared distance beyond which the lesion cannot affect a pixel.
    pub(super) reach_sq: f32,
}

/// What a pixel sees of the nearest lesion.
pub(super) struct LesionHit<'a> {
    pub(super) placed: &'a PlacedLesion<'a>,
    pub(super) f: f32,
    pub(super) local: (f32, f32),
}

impl PlacedLesion<'_> {
    pub(super) fn hit(&self, p: (f32, f32)) -> Option<LesionHit<'_>> {
        let dx = p.0 - self.centre.0;
        let dy = p.1 - self.centre.1;
        if dx * dx + dy * dy > self.reach_sq {
            return None;
        }
        let shape = &self.lesion.shape;
        let local = shape.offset_to_local(dx / self.size, dy / self.size);
        Some(LesionHit {
            placed: self,
            f: shape.field(local.0, local.1),
            local,
        })
    }

    /// Normalised image position of a point given in shape coordinates.
    pub(super) fn to_world(&self, local: (f32, f32)) -> (f32, f32) {
        let (dx, dy) = self.lesion.shape.local_to_offset(local.0, local.1);
        (
            self.centre.0 + dx * self.size,
            self.centre.1 + dy * self.size,
        )
    }
}

/// The lesion with the lowest field value at `p`: overlapping lesions merge into one region
/// whose mask is the union, and the colour comes from whichever lesion is "deeper".
pub(super) fn nearest_lesion<'a>(
    placed: &'a [PlacedLesion<'a>],
    p: (f32, f32),
) -> Option<LesionHit<'a>> {
    placed
        .iter()
        .filter_map(|lesion| lesion.hit(p))
        .min_by(|a, b| a.f.total_cmp(&b.f))
}
