//! Stray pieces of a mask, removed after segmentation: the network sometimes marks ruler text,
//! glare or a sticker beside the lesion as islands of their own. A mask can stay as it is, lose
//! the pieces smaller than its main piece (the lesion, by the rule the doubt uses:
//! [`crate::pieces::main_piece`]), or lose the pieces below a share of the image.
//!
//! The default ([`Islands::default_for`]) was chosen on the real validation photos with two sets
//! of weights (the shipped ones and `tests/fixtures/no-isic2017.safetensors`, docs/VALIDATION.md):
//! for one class, `Main` raised mean Dice on wide-field ISIC 2017 by 0.014–0.036 and left PH2 and
//! ISIC 2016 within 0.001 (lower) to 0.006 (higher); removing pieces below a share of the image did
//! little on either. On the lung-CT validation slices every removal lowered Dice a little (infections
//! come in many small pieces), so a multi-class model keeps its mask.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::pieces::Pieces;
use crate::{Error, Result};

/// The largest share of the image [`Islands::SmallerThan`] may remove pieces below: a larger one
/// is a second lesion or a lung, not an island.
pub const MAX_ISLAND_SHARE: f64 = 0.25;

/// What happens to a mask's pieces (marked pixels joined through their four neighbours) after
/// segmentation. Reads from `"keep"`, `"main"` or a share of the image such as `0.002`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Islands {
    /// Every piece stays: the network's mask as it is.
    Keep,
    /// The pieces smaller than the main piece go (a one-class model only): specks of ruler
    /// text, glare, small stickers. Larger pieces stay (one may be the lesion itself, cut by the
    /// frame); so do inner pieces when the main piece touches the frame (one may be a small
    /// lesion beside a dark corner marked whole); and a mask without a main piece (skin marked
    /// wholesale, one piece touching all four sides) stays as it is: nothing tells which part is
    /// the lesion.
    Main,
    /// Pieces with fewer pixels than this share of the image are removed (0 < share ≤
    /// [`MAX_ISLAND_SHARE`]), whatever their class.
    SmallerThan(f64),
}

/// Reads a name or a number (JavaScript options, JSON), so that a wrong type is named as such.
impl<'de> Deserialize<'de> for Islands {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Rule;
        impl Visitor<'_> for Rule {
            type Value = Islands;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("islands: \"keep\", \"main\" or a share of the image such as 0.002")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Islands, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, share: f64) -> std::result::Result<Islands, E> {
                Islands::smaller_than(share).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, share: u64) -> std::result::Result<Islands, E> {
                self.visit_f64(share as f64)
            }
            fn visit_i64<E: de::Error>(self, share: i64) -> std::result::Result<Islands, E> {
                self.visit_f64(share as f64)
            }
        }
        deserializer.deserialize_any(Rule)
    }
}

impl FromStr for Islands {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "keep" => Ok(Islands::Keep),
            "main" => Ok(Islands::Main),
            other => match other.parse::<f64>() {
                Ok(share) => Islands::smaller_than(share),
                Err(_) => Err(Error::config(format!(
                    "islands must be \"keep\", \"main\" or a share of the image such as 0.002, got {other:?}"
                ))),
            },
        }
    }
}

impl fmt::Display for Islands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Islands::Keep => f.write_str("keep"),
            Islands::Main => f.write_str("main"),
            Islands::SmallerThan(share) => write!(f, "{share}"),
        }
    }
}

impl Islands {
    /// Pieces below `share` of the image go; `share` must be in (0, [`MAX_ISLAND_SHARE`]].
    pub fn smaller_than(share: f64) -> Result<Self> {
        if share > 0.0 && share <= MAX_ISLAND_SHARE {
            Ok(Islands::SmallerThan(share))
        } else {
            Err(Error::config(format!(
                "the islands share must be above 0 and at most {MAX_ISLAND_SHARE} of the image, got {share}"
            )))
        }
    }

    /// The rule a model with `classes` outputs uses unless told otherwise: [`Islands::Main`] for
    /// one class (the lesion), [`Islands::Keep`] for several (see the module's figures).
    pub fn default_for(classes: usize) -> Self {
        if classes == 1 {
            Islands::Main
        } else {
            Islands::Keep
        }
    }

    /// Refuses a rule that makes no sense for a model with `classes` outputs: the main piece is
    /// one lesion's, and a multi-class model's classes come in many pieces by nature.
    pub fn check(&self, classes: usize) -> Result<()> {
        if *self == Islands::Main && classes > 1 {
            return Err(Error::config(
                "islands \"main\" keeps one lesion and fits a one-class model; this model has \
                 several classes: give a share of the image instead (such as 0.002)",
            ));
        }
        Ok(())
    }

    /// Applies the rule to `mask` (`width` pixels wide; 0 is background): removed pixels become
    /// background. Returns how many pixels were removed.
    pub fn apply(&self, mask: &mut [u8], width: usize) -> usize {
        if *self == Islands::Keep || mask.is_empty() {
            return 0;
        }
        let pieces = Pieces::of(mask, width);
        let main = pieces.main();
        let least = match self {
            Islands::SmallerThan(share) => (share * mask.len() as f64).ceil() as usize,
            _ => 0,
        };
        let goes = |root: usize| match self {
            Islands::Keep => false,
            // A larger piece may be the lesion itself, cut by the frame, beside an inner piece
            // the rule took for it (a PH2 close-up lost its lesion that way: Dice 0.83 → 0.01).
            // And when the main piece touches the frame (no inner piece was large enough), an
            // inner piece may be a small lesion beside a dark corner marked whole: it stays.
            Islands::Main => main.is_some_and(|m| {
                pieces.size(root) < pieces.size(m)
                    && (pieces.touches_frame(root) || !pieces.touches_frame(m))
            }),
            Islands::SmallerThan(_) => pieces.size(root) < least,
        };
        let mut removed = 0;
        for (run, &(start, end)) in pieces.runs.iter().enumerate() {
            if goes(pieces.piece_of(run)) {
                mask[start..end].fill(0);
                removed += end - start;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mask from rows of class digits (`.` is background); its width.
    fn mask_of(rows: &[&str]) -> (Vec<u8>, usize) {
        let mask = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| if b == b'.' { 0 } else { b - b'0' }))
            .collect();
        (mask, rows[0].len())
    }

    const LESION_AND_SPECKS: [&str; 6] = [
        "1.........",
        "..........",
        "...111....",
        "...111..1.",
        "...111..1.",
        "..........",
    ];

    #[test]
    fn keep_changes_nothing() {
        let (mut mask, width) = mask_of(&LESION_AND_SPECKS);
        let before = mask.clone();
        assert_eq!(Islands::Keep.apply(&mut mask, width), 0);
        assert_eq!(mask, before);
    }

    #[test]
    fn main_removes_what_is_smaller_than_the_lesion() {
        let (mut mask, width) = mask_of(&LESION_AND_SPECKS);
        assert_eq!(Islands::Main.apply(&mut mask, width), 3);
        let (expected, _) = mask_of(&[
            "..........",
            "..........",
            "...111....",
            "...111....",
            "...111....",
            "..........",
        ]);
        assert_eq!(mask, expected);
    }

    #[test]
    fn main_keeps_a_larger_piece_beside_an_inner_one() {
        // A lesion cut by the frame (12 pixels at the left edge) and an inner piece the rule takes
        // for the main one (4 pixels, over 5 % of the largest): the larger piece stays, the speck
        // smaller than the inner piece goes.
        let (mut mask, width) = mask_of(&[
            "11........",
            "11...11...",
            "11...11..1",
            "11........",
            "11........",
            "11........",
        ]);
        assert_eq!(Islands::Main.apply(&mut mask, width), 1);
        assert_eq!(mask.iter().filter(|&&m| m != 0).count(), 16);
    }

    #[test]
    fn main_keeps_a_small_inner_lesion_beside_a_corner_marked_whole() {
        // A dark corner marked whole (30 pixels, touching two sides) and a small lesion inside
        // (1 pixel: under 5 % of the corner, so the corner is the main piece): the lesion stays;
        // a speck at the other edge, smaller than the corner, goes.
        let (mut mask, width) = mask_of(&[
            "111111....",
            "111111....",
            "111111...1",
            "111111....",
            "111111.1..",
            "..........",
        ]);
        assert_eq!(Islands::Main.apply(&mut mask, width), 1);
        assert_eq!(mask[4 * width + 7], 1, "the inner lesion was removed");
        assert_eq!(mask[2 * width + 9], 0, "the speck at the edge stayed");
    }

    #[test]
    fn main_leaves_a_mask_without_a_main_piece() {
        // One piece touching all four sides: no lesion to tell apart, nothing removed.
        let (mut mask, width) = mask_of(&["1111", "1..1", "1111"]);
        let before = mask.clone();
        assert_eq!(Islands::Main.apply(&mut mask, width), 0);
        assert_eq!(mask, before);
    }

    #[test]
    fn a_share_removes_pieces_below_it_of_any_class() {
        // 60 pixels: 0.03 of the image is 1.8 → pieces of 1 pixel go, of 2 stay.
        let (mut mask, width) = mask_of(&[
            "2.........",
            "..........",
            "...111....",
            "...122..1.",
            "...111..1.",
            ".........2",
        ]);
        assert_eq!(
            Islands::smaller_than(0.03).unwrap().apply(&mut mask, width),
            2
        );
        assert_eq!((mask[0], mask[59]), (0, 0));
        assert_eq!(mask.iter().filter(|&&m| m != 0).count(), 11);
        // 0.2 of 60 is 12: the 9-pixel lesion goes as well.
        assert_eq!(Islands::SmallerThan(0.2).apply(&mut mask, width), 11);
        assert!(mask.iter().all(|&m| m == 0));
    }

    #[test]
    fn reads_names_and_shares_and_refuses_the_rest() {
        assert_eq!("keep".parse::<Islands>().unwrap(), Islands::Keep);
        assert_eq!("main".parse::<Islands>().unwrap(), Islands::Main);
        assert_eq!(
            "0.002".parse::<Islands>().unwrap(),
            Islands::SmallerThan(0.002)
        );
        for bad in ["largest", "0", "-0.1", "0.5", "NaN", ""] {
            let e = bad.parse::<Islands>().unwrap_err().to_string();
            assert!(e.contains("islands"), "{bad}: {e}");
        }
        let json: Islands = serde_json::from_str("0.01").unwrap();
        assert_eq!(json, Islands::SmallerThan(0.01));
        let json: Islands = serde_json::from_str("\"main\"").unwrap();
        assert_eq!(json, Islands::Main);
        let e = serde_json::from_str::<Islands>("2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 0.25"), "{e}");
        let e = serde_json::from_str::<Islands>("true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected islands: \"keep\""), "{e}");
        assert_eq!(Islands::SmallerThan(0.002).to_string(), "0.002");
    }

    #[test]
    fn one_class_defaults_to_main_and_several_keep() {
        assert_eq!(Islands::default_for(1), Islands::Main);
        assert_eq!(Islands::default_for(3), Islands::Keep);
    }

    #[test]
    fn main_is_refused_for_several_classes() {
        assert!(Islands::Main.check(1).is_ok());
        let e = Islands::Main.check(3).unwrap_err().to_string();
        assert!(e.contains("several classes"), "{e}");
        assert!(Islands::SmallerThan(0.01).check(3).is_ok());
    }
}
