//! Reddened skin painted on a training example: wide-field dermoscopy often shows a small, pale
//! lesion in a patch of pink or red skin (erythema, pressure from the dermatoscope, irritation
//! around a marked lesion), and the weights took that patch for lesion (ISIC 2017's ISIC_0012204:
//! the skin inside the ink ring marked wholesale, still so with the ring painted out; issue 29's
//! "pinkish skin"). The mask stays as it is: reddened skin is still skin. The blush covers the
//! lesion too, as real redness does: stopping at the mask's edge would draw the lesion's outline
//! as a seam, a cue no real photo has.

use super::augment::Example;
use crate::rng::Rng;

/// The share of examples that get a blush.
pub const BLUSH_CHANCE: f64 = 0.25;

/// Reds of inflamed skin as photographed (RGB in [0, 1]): pink, red, darker red-brown.
const REDS: [[f32; 3]; 3] = [[0.86, 0.52, 0.52], [0.80, 0.36, 0.38], [0.66, 0.33, 0.30]];

/// With [`BLUSH_CHANCE`], returns `example` with a patch of reddened skin, mostly around its lesion
/// (else anywhere); else an unchanged copy.
pub fn add_blush(example: &Example, rng: &mut Rng) -> Example {
    let mut out = example.clone();
    if !rng.chance(BLUSH_CHANCE) {
        return out;
    }
    let size = example.size as f64;
    let around_lesion = rng.chance(0.75);
    let (cx, cy, rx, ry) = match super::ink::lesion_box(example).filter(|_| around_lesion) {
        Some((x0, y0, x1, y1)) => {
            let (rx, ry) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
            // Wider than the lesion, up to the ring's size in ISIC_0012204 (about 4 times).
            let grow = rng.uniform(1.5, 4.5);
            let margin = rng.uniform(0.05, 0.2) * size;
            (
                (x0 + x1) / 2.0 + rng.uniform(-0.3, 0.3) * rx,
                (y0 + y1) / 2.0 + rng.uniform(-0.3, 0.3) * ry,
                rx * grow + margin,
                ry * grow * rng.uniform(0.8, 1.25) + margin,
            )
        }
        None => (
            rng.uniform(0.2, 0.8) * size,
            rng.uniform(0.2, 0.8) * size,
            rng.uniform(0.15, 0.4) * size,
            rng.uniform(0.15, 0.4) * size,
        ),
    };
    let patch = Patch {
        cx,
        cy,
        rx,
        ry,
        // Blotchy, not a clean disc: two waves across the patch vary its strength.
        waves: [
            (
                rng.uniform(2.0, 6.0),
                rng.uniform(0.0, std::f64::consts::TAU),
            ),
            (
                rng.uniform(2.0, 6.0),
                rng.uniform(0.0, std::f64::consts::TAU),
            ),
        ],
    };
    let red = REDS[rng.below(REDS.len())];
    let strength = rng.uniform(0.2, 0.5) as f32;
    paint(&mut out, &patch, red, strength);
    out
}

/// A soft elliptical patch: centre, radii and two waves `(frequency, phase)` that mottle it.
struct Patch {
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    waves: [(f64, f64); 2],
}

impl Patch {
    /// How strongly pixel `(x, y)` is reddened, 0..1: 1 in the middle, fading to 0 at the
    /// ellipse's edge, mottled by the waves.
    fn weight(&self, x: f64, y: f64) -> f32 {
        let (u, v) = ((x - self.cx) / self.rx, (y - self.cy) / self.ry);
        let r2 = u * u + v * v;
        if r2 >= 1.0 {
            return 0.0;
        }
        let fade = 1.0 - r2;
        let [(f1, p1), (f2, p2)] = self.waves;
        let mottle = 0.75 + 0.125 * ((u * f1 + p1).sin() + (v * f2 + p2).sin());
        (fade * mottle).clamp(0.0, 1.0) as f32
    }
}

/// Blends `red` over the pixels the patch covers, at most `strength`.
fn paint(example: &mut Example, patch: &Patch, red: [f32; 3], strength: f32) {
    let size = example.size;
    let plane = size * size;
    for y in 0..size {
        for x in 0..size {
            let i = y * size + x;
            let alpha = patch.weight(x as f64 + 0.5, y as f64 + 0.5) * strength;
            if alpha == 0.0 {
                continue;
            }
            for (c, &value) in red.iter().enumerate() {
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
    fn blushes_redden_around_the_lesion_and_keep_the_mask() {
        let size = 64;
        let plane = size * size;
        // A small lesion in the middle, on grey skin.
        let mask: Vec<u8> = (0..plane)
            .map(|i| ((28..36).contains(&(i % size)) && (28..36).contains(&(i / size))) as u8)
            .collect();
        let ex = Example {
            image: vec![0.6; 3 * plane],
            mask,
            size,
        };
        let mut rng = Rng::new(9);
        let mut blushed = 0;
        for _ in 0..80 {
            let out = add_blush(&ex, &mut rng);
            assert_eq!(out.mask, ex.mask);
            assert!(out.image.iter().all(|v| (0.0..=1.0).contains(v)));
            let changed: Vec<usize> = (0..plane)
                .filter(|&i| (0..3).any(|c| out.image[c * plane + i] != ex.image[c * plane + i]))
                .collect();
            if changed.is_empty() {
                continue;
            }
            blushed += 1;
            // Mostly skin: the patch is wider than the lesion.
            let on_skin = changed.iter().filter(|&&i| ex.mask[i] == 0).count();
            assert!(
                on_skin * 2 > changed.len(),
                "{on_skin} of {} on skin",
                changed.len()
            );
            // Redder, not darker or bluer: red gains on green and blue wherever it painted
            // visibly (at the patch's faded edge the change is below rounding).
            let visible = changed
                .iter()
                .filter(|&&i| (out.image[i] - ex.image[i]).abs() > 1e-3);
            for &i in visible {
                let (r, g, b) = (out.image[i], out.image[plane + i], out.image[2 * plane + i]);
                assert!(r > g && r > b, "pixel {i} not reddened: {r} {g} {b}");
            }
        }
        assert!((8..=35).contains(&blushed), "{blushed} of 80 got a blush");
    }
}
