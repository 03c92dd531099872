//! Hairs drawn over skin and lesion alike (never part of the mask).

use std::f32::consts::TAU;

use super::canvas::{Canvas, Frame};
use super::math::{cos, lerp3, scale3, sin};
use crate::rng::Rng;

/// Hair colours: black, dark brown, brown, grey, blond.
const HAIR_COLOURS: [[f32; 3]; 5] = [
    [22.0, 16.0, 14.0],
    [45.0, 31.0, 24.0],
    [82.0, 58.0, 42.0],
    [120.0, 116.0, 112.0],
    [150.0, 118.0, 86.0],
];

/// One hair as a polyline in pixel coordinates.
struct Hair {
    points: Vec<(f32, f32)>,
    half_width: f32,
    colour: [f32; 3],
    opacity: f32,
}

fn random_hair_count(rng: &mut Rng) -> u32 {
    let u = rng.next_f32();
    if u < 0.4 {
        0
    } else if u < 0.72 {
        rng.between(1, 5)
    } else if u < 0.9 {
        rng.between(6, 20)
    } else {
        rng.between(21, 70)
    }
}

fn random_hairs(rng: &mut Rng, frame: &Frame) -> Vec<Hair> {
    let count = random_hair_count(rng);
    // Hair grows in a flow: directions cluster around one angle, more or less tightly.
    let flow = rng.uniform_f32(0.0, TAU);
    let spread = rng.uniform_f32(0.15, 1.4);
    let base_colour = if rng.chance_f32(0.85) {
        rng.choose(&HAIR_COLOURS[..3])
            .copied()
            .unwrap_or(HAIR_COLOURS[0])
    } else {
        rng.choose(&HAIR_COLOURS[3..])
            .copied()
            .unwrap_or(HAIR_COLOURS[3])
    };
    let base_width = rng.uniform_f32(0.0016, 0.005);
    (0..count)
        .map(|_| {
            let start = (
                rng.uniform_f32(-1.2, 1.2) * frame.half.0,
                rng.uniform_f32(-1.2, 1.2) * frame.half.1,
            );
            let angle = flow + spread * rng.normal_f32();
            let length = rng.uniform_f32(0.25, 1.5);
            let points = hair_path(rng, frame, start, angle, length);
            let half_width = (base_width * rng.uniform_f32(0.6, 1.5) * frame.unit).max(0.35);
            Hair {
                points,
                half_width,
                colour: scale3(base_colour, rng.uniform_f32(0.8, 1.2)),
                opacity: rng.uniform_f32(0.7, 1.0),
            }
        })
        .collect()
}

/// A gently curving path whose curvature itself drifts, like a real hair lying on skin.
fn hair_path(
    rng: &mut Rng,
    frame: &Frame,
    start: (f32, f32),
    angle: f32,
    length: f32,
) -> Vec<(f32, f32)> {
    let step = 1.5 * frame.pixel;
    let steps = ((length / step) as usize).clamp(2, 4000);
    let mut curvature = 0.8 * rng.normal_f32();
    let drift = rng.uniform_f32(0.3, 1.5);
    let (mut p, mut angle) = (start, angle);
    let mut points = Vec::with_capacity(steps + 1);
    points.push(frame.to_pixel(p));
    for _ in 0..steps {
        angle += curvature * step;
        curvature += drift * rng.normal_f32() * step.sqrt();
        curvature = curvature.clamp(-3.0, 3.0);
        p = (p.0 + cos(angle) * step, p.1 + sin(angle) * step);
        points.push(frame.to_pixel(p));
    }
    points
}

/// Coverage layer so that overlapping segments of one hair do not darken twice.
struct HairLayer {
    coverage: Vec<f32>,
    colour: Vec<[f32; 3]>,
}

impl HairLayer {
    fn draw(&mut self, frame: &Frame, hair: &Hair) {
        let n = hair.points.len().max(2) as f32;
        for (index, pair) in hair.points.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            // Hairs taper at their ends.
            let along = index as f32 / (n - 1.0);
            let taper = (along.min(1.0 - along) * 8.0).clamp(0.25, 1.0);
            let half = hair.half_width * taper;
            self.draw_segment(frame, a, b, half, hair);
        }
    }

    fn draw_segment(
        &mut self,
        frame: &Frame,
        a: (f32, f32),
        b: (f32, f32),
        half: f32,
        hair: &Hair,
    ) {
        let pad = half + 1.0;
        let x0 = (a.0.min(b.0) - pad).floor().max(0.0) as usize;
        let y0 = (a.1.min(b.1) - pad).floor().max(0.0) as usize;
        let x1 = ((a.0.max(b.0) + pad).ceil().max(0.0) as usize).min(frame.width);
        let y1 = ((a.1.max(b.1) + pad).ceil().max(0.0) as usize).min(frame.height);
        for y in y0..y1 {
            for x in x0..x1 {
                let d = segment_distance((x as f32 + 0.5, y as f32 + 0.5), a, b);
                let cover = (half + 0.5 - d).clamp(0.0, 1.0) * hair.opacity;
                let i = y * frame.width + x;
                if cover > self.coverage[i] {
                    self.coverage[i] = cover;
                    self.colour[i] = hair.colour;
                }
            }
        }
    }
}

fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let (apx, apy) = (p.0 - a.0, p.1 - a.1);
    let len_sq = abx * abx + aby * aby;
    let t = if len_sq > 0.0 {
        ((apx * abx + apy * aby) / len_sq).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (apx - t * abx, apy - t * aby);
    (dx * dx + dy * dy).sqrt()
}

pub(super) fn paint_hairs(canvas: &mut Canvas, frame: &Frame, rng: &mut Rng) {
    let hairs = random_hairs(rng, frame);
    if hairs.is_empty() {
        return;
    }
    let n = frame.pixel_count();
    let mut layer = HairLayer {
        coverage: vec![0.0; n],
        colour: vec![[0.0; 3]; n],
    };
    for hair in &hairs {
        layer.draw(frame, hair);
    }
    for ((rgb, &cover), &colour) in canvas
        .rgb
        .iter_mut()
        .zip(&layer.coverage)
        .zip(&layer.colour)
    {
        if cover > 0.0 {
            *rgb = lerp3(*rgb, colour, cover);
        }
    }
}
