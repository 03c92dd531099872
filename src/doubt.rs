//! How far to trust a mask. A pixel is doubtful when the model is unsure of it (the probability
//! of its chosen class is below [`SURE`]) or when it is marked but lies outside the mask's main
//! piece (see [`crate::pieces::main_piece`]): a sticker, a ruler mark or the dermatoscope's dark corner marked
//! next to the lesion, or skin marked wholesale. The share of doubtful pixels in what the model
//! marked (or was unsure of) is the image's doubt, 0..1; above [`DOUBTFUL_ABOVE`] the mask is
//! flagged for checking. The network can also run on mirror images of the input (test-time flips)
//! and average the answers, which softens exactly the pixels a single confident pass gets wrong.
//!
//! The old "confidence" — the mean probability over the mask — read 82–97 % on real photos whose
//! masks scored Dice below 0.7: it averages over the sure inside of a lesion, where the doubt
//! counts the unsure band along a wrong border. Unsure pixels alone miss the confident errors of
//! wide-field photos (ISIC 2017): a green or orange calibration sticker marked as lesion, sure of
//! itself, kept the doubt near 10 %; the pieces rule makes it 80–93 %. docs/DOUBT.md has the
//! figures per set and what the rule misses.

/// Mirror images the network may run on: identity, left-right, top-bottom, both; a run with
/// `flips` passes uses the first `flips` of them.
pub const MAX_FLIPS: usize = 4;

/// A pixel is sure when the (flip-averaged) probability of its chosen class is at least this;
/// for one class, when its lesion probability is outside (0.2, 0.8).
pub const SURE: f32 = 0.8;

/// A mask whose doubt is above this is flagged "check this mask" (the page's `DOUBTFUL_ABOVE`).
/// Chosen on data: first on 225 real training photos with weights that had not seen them; with the
/// pieces rule, over all 331 real photos of `../shared/data` (PH2, ISIC 2016 crops, ISIC 2017) it
/// flags every mask below Dice 0.7 and 15 % of the others; the thresholds that best tell masks
/// below Dice 0.7, 0.8 or 0.85 from the rest are 0.30, 0.20 and 0.20 (docs/DOUBT.md).
pub const DOUBTFUL_ABOVE: f64 = 0.25;

pub use crate::pieces::INNER_PIECE_SHARE;

/// Where `(x, y)` of mirror image `flip` comes from in a `size×size` plane.
fn source_index(flip: usize, x: usize, y: usize, size: usize) -> usize {
    let x = if flip & 1 == 1 { size - 1 - x } else { x };
    let y = if flip & 2 == 2 { size - 1 - y } else { y };
    y * size + x
}

/// Mirrors every plane of `planes` (`[P, size, size]`) as flip number `flip`; a mirror is its own
/// inverse, so the same call undoes it.
pub fn mirror(planes: &[f32], size: usize, flip: usize) -> Vec<f32> {
    let plane = size * size;
    let mut out = vec![0.0f32; planes.len()];
    for (src, dst) in planes.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
        for y in 0..size {
            for x in 0..size {
                dst[y * size + x] = src[source_index(flip, x, y, size)];
            }
        }
    }
    out
}

/// The share of a prediction that is doubtful, 0..1: doubtful pixels (see [`doubtful_pixels`])
/// over the pixels that are marked (any class but 0) or doubtful. 0 when the model is sure of
/// every pixel and marked one piece; 1 when nothing it marked is sure and in the main piece.
/// `mask` is `width` pixels wide.
pub fn doubt(probabilities: &[f32], mask: &[u8], classes: usize, width: usize) -> f64 {
    share_doubtful(&doubtful_pixels(probabilities, mask, classes, width), mask)
}

/// The share of doubtful pixels (`doubtful`, 1 or 0 per pixel) among the pixels that are marked
/// in `mask` or doubtful; 0 when there are none.
pub fn share_doubtful(doubtful: &[u8], mask: &[u8]) -> f64 {
    let (mut count, mut counted) = (0usize, 0usize);
    for (&d, &m) in doubtful.iter().zip(mask) {
        count += (d != 0) as usize;
        counted += (d != 0 || m != 0) as usize;
    }
    if counted == 0 {
        0.0
    } else {
        count as f64 / counted as f64
    }
}

/// 1 where the pixel is doubtful, else 0 (the overlay of what to check): the model is unsure of
/// it (its chosen class has a probability below [`SURE`]), or it is marked (any class but 0) and
/// lies outside the mask's main piece ([`crate::pieces::main_piece`]). `mask` is `width` pixels wide.
pub fn doubtful_pixels(
    probabilities: &[f32],
    mask: &[u8],
    classes: usize,
    width: usize,
) -> Vec<u8> {
    let mut doubtful: Vec<u8> = chosen_is_sure(probabilities, mask, classes)
        .into_iter()
        .map(|sure| !sure as u8)
        .collect();
    // The pieces rule knows one lesion per photo; a multi-class model's classes (infections
    // spread over both lungs) come in many pieces by nature, so only unsure pixels count there.
    if classes > 1 {
        return doubtful;
    }
    let pieces = crate::pieces::Pieces::of(mask, width);
    let main = pieces.main();
    for (run, &(start, end)) in pieces.runs.iter().enumerate() {
        if Some(pieces.piece_of(run)) != main {
            doubtful[start..end].fill(1);
        }
    }
    doubtful
}

/// The doubt of each foreground class `1..classes` of a multi-class prediction (entry `i` is class
/// `i + 1`'s), 0..1: among the pixels marked with the class or for which it is a plausible answer
/// (probability above `1 − SURE`), the share the model is unsure of. 0 for a class it neither
/// marked nor considered; empty for a one-class prediction (its doubt is [`doubt`]).
pub fn class_doubt(probabilities: &[f32], mask: &[u8], classes: usize) -> Vec<f64> {
    if classes < 2 {
        return Vec::new();
    }
    let pixels = mask.len();
    let sure = chosen_is_sure(probabilities, mask, classes);
    (1..classes)
        .map(|c| {
            let plane = &probabilities[c * pixels..(c + 1) * pixels];
            let (mut unsure, mut counted) = (0usize, 0usize);
            for i in 0..pixels {
                if mask[i] as usize == c || plane[i] > 1.0 - SURE {
                    counted += 1;
                    unsure += !sure[i] as usize;
                }
            }
            if counted == 0 {
                0.0
            } else {
                unsure as f64 / counted as f64
            }
        })
        .collect()
}

/// Whether each pixel's chosen class has a probability of at least [`SURE`].
fn chosen_is_sure(probabilities: &[f32], mask: &[u8], classes: usize) -> Vec<bool> {
    let pixels = mask.len();
    mask.iter()
        .enumerate()
        .map(|(i, &m)| {
            let p = if classes == 1 {
                let p = probabilities[i];
                if m == 0 { 1.0 - p } else { p }
            } else {
                probabilities[m as usize * pixels + i]
            };
            p >= SURE
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::main_piece;

    #[test]
    fn mirrors_undo_themselves_and_move_pixels() {
        let size = 3;
        let plane: Vec<f32> = (0..9).map(|i| i as f32).collect();
        for f in 0..MAX_FLIPS {
            assert_eq!(mirror(&mirror(&plane, size, f), size, f), plane);
        }
        assert_eq!(mirror(&plane, size, 1)[0], 2.0); // left-right: (0,0) ← (2,0)
        assert_eq!(mirror(&plane, size, 2)[0], 6.0); // top-bottom: (0,0) ← (0,2)
        assert_eq!(mirror(&plane, size, 3)[0], 8.0);
    }

    #[test]
    fn multi_class_doubt_ignores_pieces_and_splits_by_class() {
        // 4 pixels, 3 classes (planes background, 1, 2): a sure class-1 pixel, a sure class-1
        // pixel apart from it (two pieces: no doubt for that), an unsure class-2 pixel (0.6 vs
        // class 1's 0.3) and sure background.
        #[rustfmt::skip]
        let probs = [
            0.05f32, 0.05, 0.1, 0.95,
            0.9, 0.9, 0.3, 0.03,
            0.05, 0.05, 0.6, 0.02,
        ];
        let mask = [1u8, 1, 2, 0];
        assert_eq!(doubtful_pixels(&probs, &mask, 3, 4), vec![0, 0, 1, 0]);
        // Class 1: its two marked pixels and the unsure one where it scores 0.3 → 1 of 3.
        let per = class_doubt(&probs, &mask, 3);
        assert!((per[0] - 1.0 / 3.0).abs() < 1e-12, "{per:?}");
        assert_eq!(per[1], 1.0);
        assert!(class_doubt(&[0.9, 0.1], &[1, 0], 1).is_empty());
    }

    #[test]
    fn doubt_counts_unsure_pixels_against_the_marked_or_unsure_ones() {
        // 2×2 pixels: sure lesion, sure skin / unsure lesion (0.6), unsure skin (0.3); the lesion
        // is one piece.
        let probs = [0.95f32, 0.05, 0.6, 0.3];
        let mask = [1u8, 0, 1, 0];
        assert_eq!(doubtful_pixels(&probs, &mask, 1, 2), vec![0, 0, 1, 1]);
        // Doubtful 2 of the 3 pixels that are marked or doubtful.
        assert!((doubt(&probs, &mask, 1, 2) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(doubt(&[0.99, 0.01], &[1, 0], 1, 2), 0.0);
        assert_eq!(
            doubt(&[0.01, 0.01], &[0, 0], 1, 2),
            0.0,
            "nothing marked, nothing doubtful"
        );
        // Two classes, planes [background; lesion]: the chosen class's probability counts.
        let two = [0.9f32, 0.3, 0.1, 0.7];
        assert_eq!(doubtful_pixels(&two, &[0, 1], 2, 2), vec![0, 1]);
        assert_eq!(share_doubtful(&[1, 0, 0], &[0, 1, 0]), 0.5);
    }

    /// A mask drawn as rows of `#` (marked) and `.`, with the model sure of every pixel: its
    /// probabilities, mask and width.
    fn sure_mask(rows: &[&str]) -> (Vec<f32>, Vec<u8>, usize) {
        let mask: Vec<u8> = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| (b == b'#') as u8))
            .collect();
        let probs = mask
            .iter()
            .map(|&m| if m == 1 { 0.99 } else { 0.01 })
            .collect();
        (probs, mask, rows[0].len())
    }

    fn doubt_of(rows: &[&str]) -> f64 {
        let (probs, mask, width) = sure_mask(rows);
        doubt(&probs, &mask, 1, width)
    }

    #[test]
    fn a_sure_piece_at_the_edge_next_to_an_inner_lesion_is_doubtful() {
        // A sticker cut by the right edge (6 pixels), sure of itself, and the lesion inside (9).
        let rows = [
            "........##",
            "..###...##",
            "..###...##",
            "..###.....",
            "..........",
        ];
        let (probs, mask, width) = sure_mask(&rows);
        let doubtful = doubtful_pixels(&probs, &mask, 1, width);
        let sticker: Vec<usize> = vec![8, 9, 18, 19, 28, 29];
        for (i, &d) in doubtful.iter().enumerate() {
            assert_eq!(d == 1, sticker.contains(&i), "pixel {i}");
        }
        let d = doubt(&probs, &mask, 1, width);
        assert!((d - 6.0 / 15.0).abs() < 1e-12, "{d}");
        assert!(d > DOUBTFUL_ABOVE);
        // The same sticker alone is a lesion cut by the frame: nothing says it is not.
        assert_eq!(
            doubt_of(&["........##", "........##", "........##", ".........."]),
            0.0
        );
    }

    #[test]
    fn a_lesion_cut_by_the_frame_is_trusted_and_a_speck_inside_does_not_replace_it() {
        // A close-up: the lesion fills most of the frame and is cut by three sides (as in PH2).
        let close_up = [
            "#########.",
            "#########.",
            "########..",
            "#######...",
            "######....",
        ];
        assert_eq!(doubt_of(&close_up), 0.0);
        // A lesion cut by the left edge (50 pixels) and a 1-pixel speck inside: under 1/20 of
        // the lesion, the speck is the doubtful part, not the lesion.
        let rows = [
            "##########..........",
            "##########..........",
            "##########......#...",
            "##########..........",
            "##########..........",
        ];
        let (probs, mask, width) = sure_mask(&rows);
        let d = doubt(&probs, &mask, 1, width);
        assert!((d - 1.0 / 51.0).abs() < 1e-12, "{d}");
        assert!(d < DOUBTFUL_ABOVE);
        // Two inner pieces: the larger is the lesion, the smaller doubtful.
        assert!((doubt_of(&[".......", ".##..#.", ".##....", "......."]) - 0.2).abs() < 1e-12);
        // Pieces join through the four neighbours only: a diagonal touch makes two.
        assert!((doubt_of(&[".....", ".##..", ".##..", "...#.", "....."]) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_mask_over_most_of_the_frame_is_doubtful() {
        // Skin marked wholesale around an unmarked lesion: one piece touching all four sides,
        // sure of every pixel, 84 % of the frame.
        let rows = [
            "##########",
            "##########",
            "###....###",
            "###....###",
            "##########",
            "##########",
        ];
        assert_eq!(doubt_of(&rows), 1.0);
        // Next to an inner piece, the wholesale piece is the doubtful one.
        assert_eq!(main_piece(&[(50, 0b1111), (4, 0)]), Some(1));
        assert_eq!(main_piece(&[(50, 0b1111)]), None);
        assert_eq!(
            main_piece(&[(50, 0b0111), (2, 0)]),
            Some(0),
            "a speck is not the lesion"
        );
        assert_eq!(main_piece(&[(50, 0b0111), (3, 0)]), Some(1));
        assert_eq!(main_piece(&[]), None);
    }
}
