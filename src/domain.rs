//! "Not what this model was made for": a cheap look at an image's colours that says when it is
//! not the kind of picture the weights were trained on (colour dermoscopy photographs of skin),
//! so that a CT slice or a photo of a cup is not answered with a confident-looking lesion area.
//!
//! The network has no notion of "none of the above": fed a greyscale CT slice it still marks a
//! quarter of the image as lesion, and its doubt (see [`crate::doubt`]) can only say "check this
//! mask", as it does for any hard skin photo. The check here is independent of the network and of
//! the weights: three statistics of a sub-sample of pixels, each compared with a bound chosen on
//! 331 real dermoscopy photos (PH2, ISIC 2016, ISIC 2017) and 50 CT slices, with room on both
//! sides (docs/DOUBT.md "Not what this model was made for" has the measured margins). It catches images
//! that are plainly not colour photographs of skin; an image with skin-like colours (a brown cat,
//! a wooden table) passes.

use serde::Serialize;

use crate::data::image::RgbaImage;
use crate::weights::ImageKind;

/// About this many pixels are looked at, on a regular grid, whatever the image's size: the
/// statistics below are means and shares, which a 128×128 grid already pins to within a percent
/// or so, and it keeps the check far below the cost of one inference.
pub const SAMPLES: usize = 128 * 128;

/// Below this mean chroma (max − min of R, G, B, in 0..255 levels) an image is greyscale. The
/// least colourful dermoscopy photo measured has 8.5 (most have 15–130) and the CT slices 0: the
/// bound sits at half the former, leaving room for the colour noise of a greyscale image saved
/// as a colour JPEG.
pub const GREYSCALE_BELOW: f64 = 4.0;

/// Pixels at least this colourful (chroma, 0..255) count as coloured, and only those are asked
/// what hue they have: the hue of a near-grey pixel is noise.
pub const COLOURED_FROM: u8 = 15;

/// Pixels whose brightest channel is below this are too dark to have a meaningful colour (the
/// black vignette of a dermatoscope, shadows).
pub const LIT_FROM: u8 = 40;

/// Hues (degrees) that skin, lesions, blood and dermoscopy's pinks and browns have: from −40°
/// (magenta-red) through red and orange to 60° (yellow). Stickers, ink and gel bubbles bring a
/// few blues and greens; a sky, a leaf or a blue stain brings mostly those.
pub const SKIN_HUES: (f64, f64) = (-40.0, 60.0);

/// Above this share of coloured pixels with hues unlike skin, an image has "no skin tones". The
/// most measured on dermoscopy is 0.45 (a bluish ISIC 2016 photo); a photo of a rocket against
/// the sky has 0.91.
pub const UNLIKE_SKIN_ABOVE: f64 = 0.65;

/// Below this share of coloured pixels among the lit ones, the hue share above is not asked
/// (too few pixels to judge); such an image is either greyscale or nearly so.
pub const MIN_COLOURED: f64 = 0.02;

/// A pixel is vivid when its saturation ((max − min) / max of R, G, B) is above this.
pub const VIVID_SATURATION: f64 = 0.8;

/// Above this share of vivid pixels (among the lit ones), an image has colours skin does not
/// have. Dermoscopy reaches 0.21 at most (a PH2 photo); a photo of a coffee cup on a wooden table
/// has 0.39. The narrowest of the three margins.
pub const VIVID_ABOVE: f64 = 0.30;

/// What a few cheap measurements say about an image's colours (all computed on a sub-sample of
/// opaque pixels; see [`SAMPLES`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStats {
    /// Opaque pixels looked at.
    pub samples: usize,
    /// Mean chroma (max − min of R, G, B) over them, 0..255.
    pub chroma: f64,
    /// Share of them that are lit (brightest channel ≥ [`LIT_FROM`]).
    pub lit: f64,
    /// Share of the lit pixels that are coloured (chroma ≥ [`COLOURED_FROM`]).
    pub coloured: f64,
    /// Share of the coloured pixels whose hue is outside [`SKIN_HUES`].
    pub unlike_skin: f64,
    /// Share of the lit pixels that are vivid (saturation > [`VIVID_SATURATION`]).
    pub vivid: f64,
}

/// Why an image is not what the model was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// No colour at all: a CT, MRI or X-ray slice, a scan of a greyscale print.
    Greyscale,
    /// Colours, but mostly blues, greens or purples.
    NoSkinTones,
    /// Saturated colours that skin does not have: a photo of an object, a drawing.
    VividColours,
    /// Colour, where a model for CT slices expects grey levels: a photograph, not a scan.
    NotGreyscale,
}

impl Reason {
    /// The reason as the package names it (`"greyscale"`, `"noSkinTones"`, `"vividColours"`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Greyscale => "greyscale",
            Reason::NoSkinTones => "noSkinTones",
            Reason::VividColours => "vividColours",
            Reason::NotGreyscale => "notGreyscale",
        }
    }

    /// What to tell the person who sent the image, in plain words.
    pub fn message(self) -> &'static str {
        match self {
            Reason::Greyscale => {
                "This looks like a greyscale image (for example a CT, MRI or X-ray slice). This \
                 model was made for colour photographs of skin lesions (dermoscopy), so its mask \
                 may mean nothing here."
            }
            Reason::NoSkinTones => {
                "This image has almost none of the colours of skin: most of its colours are blues, \
                 greens or purples. This model was made for colour photographs of skin lesions \
                 (dermoscopy), so its mask may mean nothing here."
            }
            Reason::VividColours => {
                "This image has vivid colours that photographs of skin do not have (for example a \
                 photo of an object or a drawing). This model was made for colour photographs of \
                 skin lesions (dermoscopy), so its mask may mean nothing here."
            }
            Reason::NotGreyscale => {
                "This image is in colour, like a photograph. This model was made for greyscale CT \
                 slices of the chest, so its mask may mean nothing here."
            }
        }
    }
}

/// The verdict on an image that is not what the model was made for: a reason a program can act
/// on and a message a person can read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutOfDomain {
    /// Why (see [`Reason::name`] for the names the package uses).
    pub reason: Reason,
    /// The plain-language warning to show ([`Reason::message`]).
    pub message: &'static str,
}

impl From<Reason> for OutOfDomain {
    fn from(reason: Reason) -> Self {
        Self {
            reason,
            message: reason.message(),
        }
    }
}

/// `None` when `image` looks like a colour photograph of skin, else why it does not.
pub fn out_of_domain(image: &RgbaImage) -> Option<OutOfDomain> {
    image_stats(image).verdict().map(OutOfDomain::from)
}

/// `None` when `image` looks like the `kind` of image a model was made for, else why it does not:
/// a dermoscopy model wants a colour photograph of skin ([`out_of_domain`]), a CT model grey
/// levels; a model of another kind is not judged.
pub fn out_of_domain_for(image: &RgbaImage, kind: ImageKind) -> Option<OutOfDomain> {
    match kind {
        ImageKind::Dermoscopy => out_of_domain(image),
        ImageKind::CtSlice => {
            let stats = image_stats(image);
            (stats.samples > 0 && stats.chroma >= GREYSCALE_BELOW)
                .then(|| OutOfDomain::from(Reason::NotGreyscale))
        }
        ImageKind::Other => None,
    }
}

impl ImageStats {
    /// The first rule the statistics break, in the order greyscale, no skin tones, vivid
    /// colours; `None` when they break none (or when no pixel was opaque: nothing to judge).
    pub fn verdict(&self) -> Option<Reason> {
        if self.samples == 0 {
            None
        } else if self.chroma < GREYSCALE_BELOW {
            Some(Reason::Greyscale)
        } else if self.coloured >= MIN_COLOURED && self.unlike_skin > UNLIKE_SKIN_ABOVE {
            Some(Reason::NoSkinTones)
        } else if self.vivid > VIVID_ABOVE {
            Some(Reason::VividColours)
        } else {
            None
        }
    }
}

/// Hue of an RGB colour in degrees, −180..180 (0 red, 60 yellow, 120 green, ±180 cyan, −120
/// blue), given its max, min and `chroma = max − min > 0`.
fn hue(r: f64, g: f64, b: f64, max: f64, chroma: f64) -> f64 {
    let h = if max == r {
        60.0 * ((g - b) / chroma)
    } else if max == g {
        60.0 * ((b - r) / chroma) + 120.0
    } else {
        60.0 * ((r - g) / chroma) + 240.0
    };
    // `h` is in −60..300 here: fold 180..300 onto −180..−60.
    if h > 180.0 { h - 360.0 } else { h }
}

/// Measures `image` on a grid of about [`SAMPLES`] pixels; pixels more than half transparent are
/// left out (a cut-out on a transparent background is judged by what is drawn).
pub fn image_stats(image: &RgbaImage) -> ImageStats {
    let (w, h) = (image.width as usize, image.height as usize);
    let step = ((w * h) as f64 / SAMPLES as f64).sqrt().ceil().max(1.0) as usize;
    let (mut samples, mut chroma_sum, mut lit, mut coloured, mut unlike, mut vivid) =
        (0usize, 0u64, 0usize, 0usize, 0usize, 0usize);
    for y in (step / 2..h).step_by(step) {
        for x in (step / 2..w).step_by(step) {
            let i = 4 * (y * w + x);
            // In range for any image `RgbaImage::new` accepts; `get` keeps a malformed one from
            // panicking (this runs in the browser too).
            let Some(p) = image.data.get(i..i + 4) else {
                continue;
            };
            let (r, g, b, a) = (p[0], p[1], p[2], p[3]);
            if a < 128 {
                continue;
            }
            samples += 1;
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            let chroma = max - min;
            chroma_sum += chroma as u64;
            if max < LIT_FROM {
                continue;
            }
            lit += 1;
            vivid += (chroma as f64 / max as f64 > VIVID_SATURATION) as usize;
            if chroma < COLOURED_FROM {
                continue;
            }
            coloured += 1;
            let hue = hue(r as f64, g as f64, b as f64, max as f64, chroma as f64);
            unlike += !(SKIN_HUES.0..=SKIN_HUES.1).contains(&hue) as usize;
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    ImageStats {
        samples,
        chroma: share(chroma_sum as usize, samples),
        lit: share(lit, samples),
        coloured: share(coloured, lit),
        unlike_skin: share(unlike, coloured),
        vivid: share(vivid, lit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w×h` image filled with one RGBA colour.
    fn plain(w: u32, h: u32, rgba: [u8; 4]) -> RgbaImage {
        RgbaImage::new(w, h, rgba.repeat((w * h) as usize), "test").unwrap()
    }

    /// A `w×h` image whose left half is `left` and right half `right` (opaque).
    fn halves(w: u32, h: u32, left: [u8; 3], right: [u8; 3]) -> RgbaImage {
        let mut data = Vec::with_capacity((w * h * 4) as usize);
        for _ in 0..h {
            for x in 0..w {
                let [r, g, b] = if x < w / 2 { left } else { right };
                data.extend([r, g, b, 255]);
            }
        }
        RgbaImage::new(w, h, data, "test").unwrap()
    }

    #[test]
    fn hues_follow_the_colour_wheel() {
        let h = |r: f64, g: f64, b: f64| {
            let (max, min) = (r.max(g).max(b), r.min(g).min(b));
            hue(r, g, b, max, max - min)
        };
        assert_eq!(h(255.0, 0.0, 0.0), 0.0);
        assert_eq!(h(255.0, 255.0, 0.0), 60.0);
        assert_eq!(h(0.0, 255.0, 0.0), 120.0);
        assert_eq!(h(0.0, 0.0, 255.0), -120.0);
        assert_eq!(h(255.0, 0.0, 255.0), -60.0);
        // Skin: R > G > B, an orange-red hue inside the band.
        let skin = h(220.0, 170.0, 150.0);
        assert!((SKIN_HUES.0..=SKIN_HUES.1).contains(&skin), "{skin}");
    }

    #[test]
    fn statistics_of_plain_images() {
        let grey = image_stats(&plain(300, 200, [120, 120, 120, 255]));
        assert_eq!(grey.chroma, 0.0);
        assert_eq!(grey.lit, 1.0);
        assert_eq!(grey.coloured, 0.0);
        assert!(
            grey.samples > SAMPLES / 2 && grey.samples <= SAMPLES,
            "{}",
            grey.samples
        );

        let skin = image_stats(&plain(64, 64, [220, 170, 150, 255]));
        assert_eq!(skin.samples, 64 * 64, "small images are read whole");
        assert_eq!(skin.chroma, 70.0);
        assert_eq!(
            (skin.coloured, skin.unlike_skin, skin.vivid),
            (1.0, 0.0, 0.0)
        );

        let sky = image_stats(&plain(64, 64, [60, 120, 220, 255]));
        assert_eq!((sky.unlike_skin, sky.vivid), (1.0, 0.0));

        let dark = image_stats(&plain(8, 8, [30, 0, 0, 255]));
        assert_eq!((dark.chroma, dark.lit), (30.0, 0.0));

        let clear = image_stats(&plain(8, 8, [0, 0, 255, 0]));
        assert_eq!(clear.samples, 0, "transparent pixels are not judged");
        assert_eq!(clear.verdict(), None);
    }

    #[test]
    fn shares_count_the_right_pixels() {
        // Half skin, half vivid green: half the coloured pixels are unlike skin, half are vivid.
        let s = image_stats(&halves(100, 10, [220, 170, 150], [20, 250, 20]));
        assert_eq!(s.samples, 1000);
        assert!((s.unlike_skin - 0.5).abs() < 1e-12 && (s.vivid - 0.5).abs() < 1e-12);
        // Half grey: those are lit but not coloured, so they do not dilute the hue share.
        let s = image_stats(&halves(100, 10, [128, 128, 128], [60, 120, 220]));
        assert!((s.coloured - 0.5).abs() < 1e-12 && s.unlike_skin == 1.0);
    }

    #[test]
    fn verdicts_and_their_reasons() {
        let reason = |i: &RgbaImage| out_of_domain(i).map(|o| o.reason);
        assert_eq!(
            reason(&plain(50, 50, [90, 90, 90, 255])),
            Some(Reason::Greyscale)
        );
        // Slight colour noise on grey (a JPEG of a scan) is still greyscale.
        assert_eq!(
            reason(&halves(50, 50, [90, 92, 90], [200, 198, 201])),
            Some(Reason::Greyscale)
        );
        assert_eq!(
            reason(&plain(50, 50, [60, 120, 220, 255])),
            Some(Reason::NoSkinTones)
        );
        assert_eq!(
            reason(&halves(50, 50, [230, 40, 10], [250, 120, 0])),
            Some(Reason::VividColours)
        );
        // Pink skin with a brown lesion: what the model was made for.
        assert_eq!(
            reason(&halves(50, 50, [225, 165, 150], [120, 80, 60])),
            None
        );
        let o = out_of_domain(&plain(50, 50, [90, 90, 90, 255])).unwrap();
        assert_eq!(o.message, Reason::Greyscale.message());
        assert!(o.message.contains("greyscale") && o.message.contains("skin"));
    }

    #[test]
    fn serialises_as_the_package_names_it() {
        let o = OutOfDomain::from(Reason::NoSkinTones);
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            json.starts_with(r#"{"reason":"noSkinTones","message":"#),
            "{json}"
        );
        for r in [Reason::Greyscale, Reason::NoSkinTones, Reason::VividColours] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
    }
}
