//! The lesions' outlines and placement: the shape field whose `f < 1` is the mask, one lesion
//! and its satellite, and the nearest-lesion lookup that merges overlapping ones.

use std::f32::consts::TAU;

use super::SynthOptions;
use super::canvas::Frame;
use super::look::{LesionKind, Look};
use super::math::{cos, sin};
use super::shape::Shape;
use crate::rng::Rng;

/// One lesion: outline plus colouring.
pub(super) struct Lesion {
    pub(super) shape: Shape,
    pub(super) look: Look,
}

impl Lesion {
    fn random(rng: &mut Rng) -> Self {
        let kind = LesionKind::random(rng);
        let traits = kind.traits();
        let shape = Shape::random(rng, traits.irregularity, traits.warp);
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
