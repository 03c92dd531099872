//! Colour-calibration stickers pasted on the skin of a training example: wide-field dermoscopy
//! photos often carry one (an orange, green or yellow disc beside the lesion), and a network that
//! never saw one during training marks it as lesion. A sticker goes only where the mask says
//! skin, so the mask stays true as it is.

use super::augment::Example;
use crate::rng::Rng;

/// The share of examples that get a sticker.
pub const STICKER_CHANCE: f64 = 0.3;

/// Sticker colours as photographed (RGB in [0, 1]): orange, green, yellow, and a green disc
/// with a pale centre is drawn as two discs.
const COLOURS: [[f32; 3]; 4] = [
    [0.93, 0.58, 0.16],
    [0.18, 0.70, 0.24],
    [0.90, 0.86, 0.25],
    [0.95, 0.45, 0.12],
];

/// Placements tried before giving up on an example whose lesion leaves no room.
const TRIES: usize = 6;

/// With [`STICKER_CHANCE`], returns `example` with a sticker on its skin; else (or when no
/// placement misses the lesion) an unchanged copy.
pub fn add_sticker(example: &Example, rng: &mut Rng) -> Example {
    let mut out = example.clone();
    if !rng.chance(STICKER_CHANCE) {
        return out;
    }
    let size = example.size as f64;
    let colour = COLOURS[rng.below(COLOURS.len())];
    let radius = rng.uniform(0.12, 0.3) * size;
    let inner = rng.chance(0.4).then(|| rng.uniform(0.4, 0.7));
    let shade = rng.uniform(0.85, 1.05) as f32;
    for _ in 0..TRIES {
        let (cx, cy) = (rng.uniform(0.0, size), rng.uniform(0.0, size));
        if covers_lesion(example, cx, cy, radius + 2.0) {
            continue;
        }
        paint(&mut out, cx, cy, radius, colour, shade, inner, rng);
        return out;
    }
    out
}

/// True when any lesion pixel lies within `radius` of `(cx, cy)`.
fn covers_lesion(example: &Example, cx: f64, cy: f64, radius: f64) -> bool {
    let size = example.size;
    example.mask.iter().enumerate().any(|(i, &m)| {
        let (x, y) = ((i % size) as f64 + 0.5, (i / size) as f64 + 0.5);
        m != 0 && (x - cx).powi(2) + (y - cy).powi(2) <= radius * radius
    })
}

/// Paints a disc of `colour` (times `shade`, with a little grain and a darker rim, soft at the
/// edge), and a paler centre disc of `inner` × the radius when asked.
#[allow(clippy::too_many_arguments)]
fn paint(
    example: &mut Example,
    cx: f64,
    cy: f64,
    radius: f64,
    colour: [f32; 3],
    shade: f32,
    inner: Option<f64>,
    rng: &mut Rng,
) {
    let size = example.size;
    let plane = size * size;
    for y in 0..size {
        for x in 0..size {
            let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
            // Coverage of the pixel by the disc: 1 inside, 0 outside, a one-pixel soft edge.
            let alpha = (radius + 0.5 - d).clamp(0.0, 1.0) as f32;
            if alpha == 0.0 {
                continue;
            }
            let rim = if d > radius * 0.92 { 0.85 } else { 1.0 };
            let pale = inner.is_some_and(|r| d < radius * r);
            let grain = 1.0 + rng.uniform(-0.04, 0.04) as f32;
            let i = y * size + x;
            for (c, &base) in colour.iter().enumerate() {
                let base = if pale { 0.5 * base + 0.45 } else { base };
                let value = (base * shade * rim * grain).clamp(0.0, 1.0);
                let pixel = &mut example.image[c * plane + i];
                *pixel = *pixel * (1.0 - alpha) + value * alpha;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(size: usize) -> Example {
        let plane = size * size;
        // A lesion in the top-left quarter, skin elsewhere.
        let mask: Vec<u8> = (0..plane)
            .map(|i| (i % size < size / 4 && i / size < size / 4) as u8)
            .collect();
        Example {
            image: vec![0.7; 3 * plane],
            mask,
            size,
        }
    }

    #[test]
    fn stickers_go_on_skin_only_and_keep_the_mask() {
        let ex = example(64);
        let plane = 64 * 64;
        let mut rng = Rng::new(11);
        let mut stuck = 0;
        for _ in 0..60 {
            let out = add_sticker(&ex, &mut rng);
            assert_eq!(out.mask, ex.mask);
            assert!(out.image.iter().all(|v| (0.0..=1.0).contains(v)));
            let changed: Vec<usize> = (0..plane)
                .filter(|&i| (0..3).any(|c| out.image[c * plane + i] != ex.image[c * plane + i]))
                .collect();
            assert!(
                changed.iter().all(|&i| ex.mask[i] == 0),
                "painted the lesion"
            );
            stuck += (!changed.is_empty()) as usize;
        }
        // About STICKER_CHANCE of 60, less those with no room.
        assert!((8..=30).contains(&stuck), "{stuck} of 60 got a sticker");
    }
}
