//! What the dermatoscope and its camera add last: the black vignette ring (which does clip the
//! mask) and per-pixel sensor noise.

use std::f32::consts::PI;

use super::canvas::{Canvas, Frame};
use super::math::{lerp, lerp3, scale3, smoothstep};
use crate::rng::Rng;

/// The black ring of a contact dermatoscope's round field of view.
pub(super) struct Vignette {
    centre: (f32, f32),
    radius: f32,
    softness: f32,
    inner_falloff: f32,
    outside: [f32; 3],
}

impl Vignette {
    pub(super) fn random(rng: &mut Rng, frame: &Frame, target: f32) -> Option<Self> {
        let present = rng.chance_f32(0.4);
        let (hw, hh) = frame.half;
        let diagonal = (hw * hw + hh * hh).sqrt();
        // Leave room for the lesion area target plus skin around it.
        let needed = ((target + 0.2) * 4.0 * hw * hh / PI).sqrt();
        let lo = (0.92 * hw.min(hh)).max(needed);
        let hi = 0.97 * diagonal;
        let radius = lerp(lo, hi, rng.next_f32());
        let grey = rng.uniform_f32(3.0, 22.0);
        let vignette = Self {
            centre: (rng.uniform_f32(-0.04, 0.04), rng.uniform_f32(-0.04, 0.04)),
            radius,
            softness: rng.uniform_f32(0.6, 3.0) * frame.pixel,
            inner_falloff: rng.uniform_f32(0.0, 0.4),
            outside: [
                grey,
                grey * rng.uniform_f32(0.9, 1.05),
                grey * rng.uniform_f32(0.9, 1.15),
            ],
        };
        (present && lo < hi).then_some(vignette)
    }

    fn distance(&self, p: (f32, f32)) -> f32 {
        let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
        (dx * dx + dy * dy).sqrt()
    }

    /// Whether `p` is inside the field of view (the 50% contour of the ring's blend).
    pub(super) fn visible(&self, p: (f32, f32)) -> bool {
        self.distance(p) < self.radius
    }

    pub(super) fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        for y in 0..frame.height {
            for x in 0..frame.width {
                let i = y * frame.width + x;
                let d = self.distance(frame.point(x, y));
                let dark = smoothstep(0.75 * self.radius, self.radius, d) * self.inner_falloff;
                let cover = smoothstep(self.radius - self.softness, self.radius + self.softness, d);
                let lit = scale3(canvas.rgb[i], 1.0 - dark);
                canvas.rgb[i] = lerp3(lit, self.outside, cover);
            }
        }
    }
}
