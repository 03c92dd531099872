//! Rulers, air bubbles and gel glare drawn over the image (never part of the mask).

use std::f32::consts::{FRAC_PI_2, PI};

use super::canvas::{Canvas, Frame};
use super::math::{cos, lerp3, scale3, sin, smoothstep};
use crate::rng::Rng;

pub(super) fn paint_artifacts(canvas: &mut Canvas, frame: &Frame, rng: &mut Rng) {
    // Draw every parameter whether or not it is used, so each artifact's look is independent
    // of whether the others appear.
    let ruler = Ruler::random(rng, frame);
    let bubbles = random_bubbles(rng, frame);
    let glare = Glare::random(rng);
    if rng.chance_f32(0.12) {
        ruler.paint(canvas, frame);
    }
    if rng.chance_f32(0.15) {
        for bubble in &bubbles {
            bubble.paint(canvas, frame);
        }
    }
    if rng.chance_f32(0.12) {
        glare.paint(canvas, frame);
    }
}

/// A millimetre scale along one image edge: a translucent strip with tick marks.
struct Ruler {
    origin: (f32, f32),
    dir: (f32, f32),
    /// Unit normal pointing into the image.
    normal: (f32, f32),
    band: f32,
    band_colour: [f32; 3],
    band_opacity: f32,
    spacing: f32,
    tick_colour: [f32; 3],
}

impl Ruler {
    fn random(rng: &mut Rng, frame: &Frame) -> Self {
        let side = rng.between(0, 3);
        let tilt = rng.uniform_f32(-0.06, 0.06);
        let inset = rng.uniform_f32(-0.02, 0.03);
        let (hw, hh) = frame.half;
        // Base direction along the edge and inward normal for each side.
        let (origin, base_angle) = match side {
            0 => ((-hw, -hh + inset), 0.0),
            1 => ((hw, hh - inset), PI),
            2 => ((-hw + inset, hh), -FRAC_PI_2),
            _ => ((hw - inset, -hh), FRAC_PI_2),
        };
        let angle = base_angle + tilt;
        let dir = (cos(angle), sin(angle));
        Self {
            origin,
            dir,
            normal: (-dir.1, dir.0),
            band: rng.uniform_f32(0.05, 0.11),
            band_colour: rng
                .choose(&[
                    [236.0, 236.0, 230.0],
                    [240.0, 226.0, 160.0],
                    [205.0, 215.0, 225.0],
                ])
                .copied()
                .unwrap_or([236.0, 236.0, 230.0]),
            band_opacity: rng.uniform_f32(0.15, 0.85),
            spacing: rng.uniform_f32(0.015, 0.035),
            tick_colour: rng
                .choose(&[[20.0, 20.0, 22.0], [40.0, 40.0, 90.0]])
                .copied()
                .unwrap_or([20.0, 20.0, 22.0]),
        }
    }

    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let half_tick = 0.55 * frame.pixel;
        for y in 0..frame.height {
            for x in 0..frame.width {
                let p = frame.point(x, y);
                let (rx, ry) = (p.0 - self.origin.0, p.1 - self.origin.1);
                let s = rx * self.normal.0 + ry * self.normal.1;
                if s > self.band + frame.pixel {
                    continue;
                }
                let t = rx * self.dir.0 + ry * self.dir.1;
                let i = y * frame.width + x;
                let inside = smoothstep(self.band + frame.pixel, self.band - frame.pixel, s);
                let mut colour = lerp3(canvas.rgb[i], self.band_colour, self.band_opacity * inside);
                let tick = self.tick_coverage(t, s, half_tick, frame.pixel);
                colour = lerp3(colour, self.tick_colour, tick);
                canvas.rgb[i] = colour;
            }
        }
    }

    /// Ticks every `spacing`, longer every 5th and 10th, hanging from the inner band edge.
    fn tick_coverage(&self, t: f32, s: f32, half: f32, pixel: f32) -> f32 {
        let pos = t / self.spacing;
        let nearest = pos.round();
        let distance = (pos - nearest).abs() * self.spacing;
        let index = nearest as i64;
        let length = if index % 10 == 0 {
            0.8
        } else if index % 5 == 0 {
            0.6
        } else {
            0.38
        } * self.band;
        let across = smoothstep(half + pixel * 0.5, half - pixel * 0.5, distance);
        let along = smoothstep(self.band - length - pixel, self.band - length, s)
            * smoothstep(self.band + pixel, self.band, s);
        across * along
    }
}

/// An air bubble in the immersion gel: dark rim, brighter inside, specular highlight.
struct Bubble {
    centre: (f32, f32),
    radius: f32,
}

fn random_bubbles(rng: &mut Rng, frame: &Frame) -> Vec<Bubble> {
    let cluster = (
        rng.uniform_f32(-0.8, 0.8) * frame.half.0,
        rng.uniform_f32(-0.8, 0.8) * frame.half.1,
    );
    let count = rng.between(1, 12);
    let spread = rng.uniform_f32(0.04, 0.2);
    (0..count)
        .map(|_| Bubble {
            centre: (
                cluster.0 + spread * rng.normal_f32(),
                cluster.1 + spread * rng.normal_f32(),
            ),
            radius: rng.uniform_f32(0.008, 0.05),
        })
        .collect()
}

impl Bubble {
    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let r = self.radius.max(2.0 * frame.pixel);
        let rim = 1.2 * frame.pixel;
        let highlight = (self.centre.0 - 0.38 * r, self.centre.1 - 0.38 * r);
        let (xs, ys) = frame.pixel_box(self.centre, r + rim);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
                let d = (dx * dx + dy * dy).sqrt();
                if d > r + rim {
                    continue;
                }
                let inside = smoothstep(r, r - frame.pixel, d);
                let ring = smoothstep(rim, 0.0, (d - r + 0.5 * rim).abs());
                let (hx, hy) = (p.0 - highlight.0, p.1 - highlight.1);
                let hd = (hx * hx + hy * hy).sqrt();
                let spot = smoothstep(0.24 * r + frame.pixel, 0.08 * r, hd);
                let mut colour = scale3(canvas.rgb[i], 1.0 + 0.08 * inside);
                colour = scale3(colour, 1.0 - 0.45 * ring);
                colour = lerp3(colour, [252.0, 252.0, 250.0], 0.9 * spot);
                canvas.rgb[i] = colour;
            }
        }
    }
}

/// A soft specular reflection off the gel or glass plate.
struct Glare {
    centre: (f32, f32),
    radii: (f32, f32),
    cos: f32,
    sin: f32,
    strength: f32,
}

impl Glare {
    fn random(rng: &mut Rng) -> Self {
        let angle = rng.uniform_f32(0.0, PI);
        let long = rng.uniform_f32(0.05, 0.3);
        Self {
            centre: (rng.uniform_f32(-0.4, 0.4), rng.uniform_f32(-0.4, 0.4)),
            radii: (long, long * rng.uniform_f32(0.15, 0.8)),
            cos: cos(angle),
            sin: sin(angle),
            strength: rng.uniform_f32(0.3, 0.8),
        }
    }

    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let (xs, ys) = frame.pixel_box(self.centre, self.radii.0);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
                let u = (dx * self.cos + dy * self.sin) / self.radii.0;
                let v = (-dx * self.sin + dy * self.cos) / self.radii.1;
                let g = (1.0 - (u * u + v * v)).max(0.0);
                let k = self.strength * g * g;
                canvas.rgb[i] = lerp3(canvas.rgb[i], [250.0, 250.0, 248.0], k);
            }
        }
    }
}
