//! Ink rings drawn on the skin of a training example: clinicians circle a small lesion with a
//! skin marker before a wide-field dermoscopy photo, and a network that never saw one marks the
//! skin inside the ring as lesion (ISIC 2017's ISIC_0012204). The ring goes only where the mask
//! says skin, so the mask stays true as it is.

use super::augment::Example;
use crate::rng::Rng;

/// The share of examples that get a ring.
pub const INK_CHANCE: f64 = 0.2;

/// Marker inks as photographed on skin (RGB in [0, 1]): violet, blue-black, dark purple.
const INKS: [[f32; 3]; 3] = [[0.32, 0.22, 0.48], [0.16, 0.17, 0.26], [0.38, 0.16, 0.36]];

/// With [`INK_CHANCE`], returns `example` with a hand-drawn ring around its lesion (or anywhere
/// when it has none); else an unchanged copy.
pub fn add_ink_ring(example: &Example, rng: &mut Rng) -> Example {
    let mut out = example.clone();
    if !rng.chance(INK_CHANCE) {
        return out;
    }
    let size = example.size as f64;
    let (cx, cy, rx, ry) = match lesion_box(example) {
        Some((x0, y0, x1, y1)) => (
            (x0 + x1) / 2.0,
            (y0 + y1) / 2.0,
            (x1 - x0) / 2.0,
            (y1 - y0) / 2.0,
        ),
        None => (size / 2.0, size / 2.0, size * 0.1, size * 0.1),
    };
    // A ring a little wider than the lesion, not quite round, not quite centred.
    let grow = rng.uniform(1.3, 2.2);
    let margin = rng.uniform(0.02, 0.06) * size;
    let ring = Ring {
        cx: cx + rng.uniform(-0.15, 0.15) * rx,
        cy: cy + rng.uniform(-0.15, 0.15) * ry,
        rx: rx * grow + margin,
        ry: ry * grow * rng.uniform(0.85, 1.15) + margin,
        half_width: rng.uniform(0.004, 0.012) * size,
        // Where the stroke lifts off the skin: a gap of up to a sixth of the turn.
        gap_at: rng.uniform(-std::f64::consts::PI, std::f64::consts::PI),
        gap: rng.uniform(0.0, std::f64::consts::PI / 3.0),
    };
    let ink = INKS[rng.below(INKS.len())];
    let opacity = rng.uniform(0.55, 0.9) as f32;
    paint(&mut out, &ring, ink, opacity);
    out
}

/// An ellipse stroke: centre, radii, half the stroke's width (pixels) and a gap.
struct Ring {
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    half_width: f64,
    gap_at: f64,
    gap: f64,
}

impl Ring {
    /// How much of pixel `(x, y)` the stroke covers, 0..1 (a one-pixel soft edge).
    fn coverage(&self, x: f64, y: f64) -> f32 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let angle = dy.atan2(dx);
        let from_gap = (angle - self.gap_at + std::f64::consts::PI)
            .rem_euclid(2.0 * std::f64::consts::PI)
            - std::f64::consts::PI;
        if from_gap.abs() < self.gap / 2.0 {
            return 0.0;
        }
        // Distance to the ellipse, approximated by the radial offset scaled to the local radius.
        let r = ((dx / self.rx).powi(2) + (dy / self.ry).powi(2)).sqrt();
        let local = (dx * dx + dy * dy).sqrt() / r.max(1e-9);
        let distance = ((r - 1.0) * local).abs();
        (self.half_width + 0.5 - distance).clamp(0.0, 1.0) as f32
    }
}

/// The lesion's bounding box `(x0, y0, x1, y1)` in pixels, if it has any pixel.
fn lesion_box(example: &Example) -> Option<(f64, f64, f64, f64)> {
    let size = example.size;
    let mut bounds: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in example.mask.iter().enumerate().filter(|(_, m)| **m != 0) {
        let (x, y) = (i % size, i / size);
        bounds = Some(match bounds {
            None => (x, y, x, y),
            Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
        });
    }
    bounds.map(|(a, b, c, d)| (a as f64, b as f64, c as f64 + 1.0, d as f64 + 1.0))
}

/// Blends `ink` over the skin pixels the ring covers.
fn paint(example: &mut Example, ring: &Ring, ink: [f32; 3], opacity: f32) {
    let size = example.size;
    let plane = size * size;
    for y in 0..size {
        for x in 0..size {
            let i = y * size + x;
            if example.mask[i] != 0 {
                continue;
            }
            let alpha = ring.coverage(x as f64 + 0.5, y as f64 + 0.5) * opacity;
            if alpha == 0.0 {
                continue;
            }
            for (c, &value) in ink.iter().enumerate() {
                let pixel = &mut example.image[c * plane + i];
                *pixel = *pixel * (1.0 - alpha) + value * alpha;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_go_on_skin_only_around_the_lesion_and_keep_the_mask() {
        let size = 64;
        let plane = size * size;
        // A small lesion in the middle.
        let mask: Vec<u8> = (0..plane)
            .map(|i| ((28..36).contains(&(i % size)) && (28..36).contains(&(i / size))) as u8)
            .collect();
        let ex = Example {
            image: vec![0.7; 3 * plane],
            mask,
            size,
        };
        let mut rng = Rng::new(5);
        let mut inked = 0;
        for _ in 0..60 {
            let out = add_ink_ring(&ex, &mut rng);
            assert_eq!(out.mask, ex.mask);
            assert!(out.image.iter().all(|v| (0.0..=1.0).contains(v)));
            let changed: Vec<usize> = (0..plane)
                .filter(|&i| (0..3).any(|c| out.image[c * plane + i] != ex.image[c * plane + i]))
                .collect();
            assert!(changed.iter().all(|&i| ex.mask[i] == 0), "inked the lesion");
            // The ring surrounds the lesion: inked pixels on both sides of it.
            if !changed.is_empty() {
                inked += 1;
                let xs = changed.iter().map(|&i| i % size);
                assert!(xs.clone().min().unwrap() < 28 && xs.max().unwrap() >= 36);
            }
        }
        assert!((4..=25).contains(&inked), "{inked} of 60 got a ring");
    }
}
