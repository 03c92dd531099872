//! The base pass: skin, lesion colour, lighting and the exact mask, then the globules on top.

use super::camera::Vignette;
use super::canvas::{Canvas, CoarseField, Frame};
use super::lesion::{HALO_REACH, PlacedLesion, nearest_lesion};
use super::math::{lerp3, mul3, scale3, smoothstep};
use super::skin::Skin;

pub(super) fn paint_base(
    canvas: &mut Canvas,
    frame: &Frame,
    skin: &Skin,
    placed: &[PlacedLesion<'_>],
    vignette: Option<&Vignette>,
) {
    let redness = CoarseField::new(frame, |p| skin.redness(p));
    let lighting = CoarseField::new(frame, |p| skin.lighting.at(p));
    for y in 0..frame.height {
        for x in 0..frame.width {
            let i = y * frame.width + x;
            let p = frame.point(x, y);
            let mut colour = skin.colour(p, redness.at(x, y));
            if let Some(hit) = nearest_lesion(placed, p) {
                let edge = hit.placed.edge;
                let alpha = 1.0 - smoothstep(1.0 - edge, 1.0 + edge, hit.f);
                let look = &hit.placed.lesion.look;
                if look.halo > 0.0 {
                    let halo = look.halo * smoothstep(HALO_REACH, 1.0, hit.f) * (1.0 - alpha);
                    colour = mul3(colour, [1.0, 1.0 - 0.16 * halo, 1.0 - 0.12 * halo]);
                }
                if alpha > 0.0 {
                    let tr = look.transmittance(p, hit.local, hit.f);
                    colour = mul3(colour, lerp3([1.0; 3], tr, alpha));
                }
                let visible = vignette.is_none_or(|v| v.visible(p));
                // The mask is the 50% contour of the blend: f < 1 exactly.
                canvas.mask[i] = u8::from(hit.f < 1.0 && visible);
                canvas.lesion_alpha[i] = alpha;
            }
            canvas.rgb[i] = scale3(colour, lighting.at(x, y));
        }
    }
}

pub(super) fn paint_globules(canvas: &mut Canvas, frame: &Frame, placed: &PlacedLesion<'_>) {
    let look = &placed.lesion.look;
    for globule in &look.globules {
        let centre = placed.to_world(globule.local);
        let radius = (globule.radius * placed.size).max(0.8 * frame.pixel);
        let (xs, ys) = frame.pixel_box(centre, radius);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - centre.0, p.1 - centre.1);
                let d = (dx * dx + dy * dy).sqrt();
                // Soft-edged blob; only where the lesion is, so globules never leak onto skin.
                let k = smoothstep(radius, 0.0, d)
                    * globule.strength
                    * look.contrast
                    * canvas.lesion_alpha[i];
                if k > 0.0 {
                    canvas.rgb[i] = mul3(canvas.rgb[i], lerp3([1.0; 3], globule.tint, k));
                }
            }
        }
    }
}
