//! Images and masks in memory, and their conversion to and from the network's tensors.
//!
//! Everything here is plain Rust on byte and float buffers, so the browser, the CLI and the tests
//! share exactly the same pre- and post-processing.

use crate::data::augment::Example;
use crate::error::{Error, Result};

pub use crate::limits::{MAX_PIXELS, MAX_SIDE};

/// An 8-bit RGBA image, row-major, 4 bytes per pixel (the layout of the web's `ImageData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub data: Vec<u8>,
}

impl RgbaImage {
    /// Wraps RGBA bytes after checking that the size is sane and the buffer matches it.
    /// `what` names the input in error messages (e.g. a file name).
    pub fn new(width: u32, height: u32, data: Vec<u8>, what: &str) -> Result<Self> {
        check_dimensions(width, height, what)?;
        let expected = width as usize * height as usize * 4;
        if data.len() != expected {
            return Err(Error::input(format!(
                "{what}: {width}×{height} RGBA needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Pixel count.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Refuses empty and oversized images with a message naming `what`.
pub fn check_dimensions(width: u32, height: u32, what: &str) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::input(format!(
            "{what}: the image is empty ({width}×{height})"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS {
        return Err(Error::input(format!(
            "{what}: {width}×{height} pixels is too large (at most {MAX_SIDE} px per side and \
             {} megapixels); downscale it first",
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// Fails unless `mask` has the size of `image`; `what` names the pair in the message.
pub fn check_mask_size(image: &RgbaImage, mask: &RgbaImage, what: &str) -> Result<()> {
    if (image.width, image.height) == (mask.width, mask.height) {
        return Ok(());
    }
    Err(Error::input(format!(
        "{what}: the mask is {}×{} but the image is {}×{}; they must match",
        mask.width, mask.height, image.width, image.height
    )))
}

/// An image and its mask as a training [`Example`] at `size`×`size`, after checking that they
/// match. `what` names the pair, `mask_what` the mask, in errors.
pub fn example_from_pair(
    image: &RgbaImage,
    mask: &RgbaImage,
    size: usize,
    kind: MaskKind,
    what: &str,
    mask_what: &str,
) -> Result<Example> {
    check_mask_size(image, mask, what)?;
    let labels = mask_from_rgba(mask, kind, mask_what)?;
    let (w, h) = (image.width as usize, image.height as usize);
    Ok(Example {
        image: image_to_chw(image, size, size),
        mask: resize_mask(&labels, w, h, size, size, kind),
        size,
    })
}

/// Converts an image to the network's input layout: `[3, h, w]` floats in `[0, 1]` (RGB / 255),
/// resampled to `w×h` with an antialiased bilinear filter. Alpha is ignored.
pub fn image_to_chw(image: &RgbaImage, width: usize, height: usize) -> Vec<f32> {
    let (sw, sh) = (image.width as usize, image.height as usize);
    let mut out = Vec::with_capacity(3 * width * height);
    for channel in 0..3 {
        let plane: Vec<f32> = image
            .data
            .chunks_exact(4)
            .map(|px| px[channel] as f32 / 255.0)
            .collect();
        out.extend(resample(&plane, sw, sh, width, height));
    }
    out
}

/// How a mask's pixel values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Foreground where the value is ≥ 128 — or, for masks whose largest value is 1, where it is 1;
    /// a largest value of 2 to 127 is an error (it would read as no lesion at all).
    Binary,
    /// Each value is a class index `0..classes`.
    Labels {
        /// Number of classes (values must be below it).
        classes: usize,
    },
}

impl MaskKind {
    /// How the masks of a model with `classes` outputs are read: binary for one, else labels.
    pub fn for_classes(classes: usize) -> Self {
        if classes == 1 {
            MaskKind::Binary
        } else {
            MaskKind::Labels { classes }
        }
    }
}

/// A single-channel mask from RGBA (or grey) pixels: the value is the brightest of R, G and B; a
/// transparent pixel (alpha < 128) counts as background. A mask drawn only in the alpha channel
/// (black everywhere, opaque on the lesion) has no bright pixel at all: then the alpha is the
/// mask, rather than reading it as silently empty. Checks values against `kind` and names `what`
/// in errors.
pub fn mask_from_rgba(image: &RgbaImage, kind: MaskKind, what: &str) -> Result<Vec<u8>> {
    let pixels = || image.data.chunks_exact(4);
    let values: Vec<u8> = pixels()
        .map(|px| {
            if px[3] < 128 {
                0
            } else {
                px[0].max(px[1]).max(px[2])
            }
        })
        .collect();
    let alpha_drawn = values.iter().all(|&v| v == 0)
        && pixels().any(|px| px[3] >= 128)
        && pixels().any(|px| px[3] < 128);
    if alpha_drawn {
        let from_alpha = pixels().map(|px| if px[3] >= 128 { 255 } else { 0 });
        return labels_from_values(from_alpha.collect(), kind, what);
    }
    labels_from_values(values, kind, what)
}

/// Turns raw mask values into 0/1 (binary) or checked class indices (labels).
pub fn labels_from_values(values: Vec<u8>, kind: MaskKind, what: &str) -> Result<Vec<u8>> {
    match kind {
        MaskKind::Binary => {
            let max = values.iter().copied().max().unwrap_or(0);
            // A largest value of 2..=127 would be read as no lesion at all: most likely class
            // indices (a multi-class mask, e.g. a CT slice's 0/1/2) or a mask saved too faint.
            // An empty mask (all 0, also after JPEG compression) and 0/1 or 0/255 masks pass.
            if (2..128).contains(&max) {
                return Err(Error::input(format!(
                    "{what}: the mask's largest value is {max}, so a one-class model would read it \
                     as empty (lesion is 255, or 1 in a 0/1 mask); is it a multi-class mask of \
                     class indices? Save the lesion as white (255)"
                )));
            }
            let threshold = if max == 1 { 1 } else { 128 };
            Ok(values.into_iter().map(|v| (v >= threshold) as u8).collect())
        }
        MaskKind::Labels { classes } => {
            if let Some(bad) = values.iter().find(|&&v| v as usize >= classes) {
                return Err(Error::input(format!(
                    "{what}: mask value {bad} is not a class index (the model has {classes} classes: 0..{})",
                    classes - 1
                )));
            }
            Ok(values)
        }
    }
}

/// Resizes a mask to `w×h`: binary masks through the antialiased filter and a 0.5 threshold
/// (smooth edges), label maps by nearest neighbour (labels cannot be averaged).
pub fn resize_mask(
    mask: &[u8],
    sw: usize,
    sh: usize,
    w: usize,
    h: usize,
    kind: MaskKind,
) -> Vec<u8> {
    match kind {
        MaskKind::Binary => {
            let plane: Vec<f32> = mask.iter().map(|&v| v as f32).collect();
            resample(&plane, sw, sh, w, h)
                .into_iter()
                .map(|v| (v >= 0.5) as u8)
                .collect()
        }
        MaskKind::Labels { .. } => {
            let mut out = Vec::with_capacity(w * h);
            for y in 0..h {
                let sy = ((y as f64 + 0.5) * sh as f64 / h as f64) as usize;
                for x in 0..w {
                    let sx = ((x as f64 + 0.5) * sw as f64 / w as f64) as usize;
                    out.push(mask[sy.min(sh - 1) * sw + sx.min(sw - 1)]);
                }
            }
            out
        }
    }
}

/// Resamples one float plane from `sw×sh` to `dw×dh` with a triangle (bilinear) filter and
/// half-pixel centres, widened when shrinking so that every source pixel contributes
/// (antialiasing, as PIL's bilinear resize does). Borders are clamped.
pub fn resample(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    if sw == dw && sh == dh {
        return src.to_vec();
    }
    let horizontal = Taps::new(sw, dw);
    let vertical = Taps::new(sh, dh);
    // Rows first (sh × dw), then columns (dh × dw).
    let mut rows = vec![0.0f32; sh * dw];
    for y in 0..sh {
        let line = &src[y * sw..(y + 1) * sw];
        let out = &mut rows[y * dw..(y + 1) * dw];
        for (x, value) in out.iter_mut().enumerate() {
            *value = horizontal.apply(x, |i| line[i]);
        }
    }
    let mut out = vec![0.0f32; dh * dw];
    for y in 0..dh {
        for x in 0..dw {
            out[y * dw + x] = vertical.apply(y, |i| rows[i * dw + x]);
        }
    }
    out
}

/// Precomputed filter taps for resampling one axis.
struct Taps {
    /// For each output index: first source index and its weights.
    spans: Vec<(usize, Vec<f32>)>,
}

impl Taps {
    fn new(src: usize, dst: usize) -> Self {
        let scale = src as f64 / dst as f64;
        let support = scale.max(1.0);
        let spans = (0..dst)
            .map(|i| {
                let centre = (i as f64 + 0.5) * scale;
                let lo = ((centre - support).floor().max(0.0)) as usize;
                let hi = ((centre + support).ceil() as usize).min(src);
                let mut weights: Vec<f64> = (lo..hi)
                    .map(|j| {
                        let d = ((j as f64 + 0.5) - centre).abs() / support;
                        (1.0 - d).max(0.0)
                    })
                    .collect();
                let total: f64 = weights.iter().sum();
                if total <= 0.0 {
                    // Degenerate span at a border: take the nearest pixel.
                    return ((centre as usize).min(src - 1), vec![1.0f32]);
                }
                weights.iter_mut().for_each(|w| *w /= total);
                (lo, weights.into_iter().map(|w| w as f32).collect())
            })
            .collect();
        Self { spans }
    }

    fn apply(&self, i: usize, sample: impl Fn(usize) -> f32) -> f32 {
        let (start, weights) = &self.spans[i];
        weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * sample(start + k))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes_with_clear_messages() {
        let e = RgbaImage::new(2, 2, vec![0; 15], "a.png")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.png") && e.contains("16 bytes"), "{e}");
        let e = check_dimensions(10_000, 10, "big.jpg")
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.jpg") && e.contains("too large"), "{e}");
        assert!(check_dimensions(0, 5, "x").is_err());
        assert!(check_dimensions(8192, 4096, "x").is_ok());
    }

    #[test]
    fn resample_preserves_constants_and_means() {
        let plane = vec![0.25f32; 37 * 23];
        for v in resample(&plane, 37, 23, 16, 16) {
            assert!((v - 0.25).abs() < 1e-6);
        }
        // Downscaling a checkerboard by 2 averages it away (exactly, away from the clamped border).
        let checker: Vec<f32> = (0..64).map(|i| ((i % 8 + i / 8) % 2) as f32).collect();
        let small = resample(&checker, 8, 8, 4, 4);
        for y in 1..3 {
            for x in 1..3 {
                assert!((small[y * 4 + x] - 0.5).abs() < 1e-6, "{small:?}");
            }
        }
        assert!(small.iter().all(|v| (v - 0.5).abs() < 0.02), "{small:?}");
        // Identity size is a copy.
        assert_eq!(resample(&checker, 8, 8, 8, 8), checker);
    }

    #[test]
    fn upsampling_is_bilinear_with_half_pixel_centres() {
        // [0, 1] to 4 samples at source positions -0.25, 0.25, 0.75, 1.25 → clamp, 0.25, 0.75, clamp.
        let out = resample(&[0.0, 1.0], 2, 1, 4, 1);
        let expected = [0.0, 0.25, 0.75, 1.0];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn a_mask_drawn_only_in_alpha_is_read_from_alpha() {
        // Black everywhere; opaque on the lesion (the left half), transparent elsewhere.
        let data = (0..4)
            .flat_map(|i| [0, 0, 0, if i % 2 == 0 { 255 } else { 0 }])
            .collect();
        let mask = RgbaImage::new(2, 2, data, "m").unwrap();
        assert_eq!(
            mask_from_rgba(&mask, MaskKind::Binary, "m").unwrap(),
            vec![1, 0, 1, 0]
        );
        // An opaque all-black mask is empty, as drawn.
        let black = RgbaImage::new(2, 1, vec![0, 0, 0, 255, 0, 0, 0, 255], "b").unwrap();
        assert_eq!(
            mask_from_rgba(&black, MaskKind::Binary, "b").unwrap(),
            vec![0, 0]
        );
    }

    #[test]
    fn masks_binary_and_labels() {
        let img = RgbaImage::new(
            3,
            1,
            vec![0, 0, 0, 255, 255, 255, 255, 255, 200, 0, 0, 0],
            "m",
        )
        .unwrap();
        // The transparent third pixel is background.
        assert_eq!(
            mask_from_rgba(&img, MaskKind::Binary, "m").unwrap(),
            vec![0, 1, 0]
        );
        assert_eq!(
            labels_from_values(vec![0, 1, 1], MaskKind::Binary, "m").unwrap(),
            vec![0, 1, 1]
        );
        // A one-class mask whose largest value is 2..=127 would read as no lesion at all: a
        // class-index mask (a CT slice's 0/1/2) or one saved too faint is refused by name.
        for max in [2, 127] {
            let e = labels_from_values(vec![0, max, 1], MaskKind::Binary, "ct.png")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("ct.png") && e.contains(&format!("largest value is {max}")),
                "{e}"
            );
        }
        assert_eq!(
            labels_from_values(vec![0, 128, 0], MaskKind::Binary, "m").unwrap(),
            vec![0, 1, 0]
        );
        assert_eq!(
            labels_from_values(vec![0, 0], MaskKind::Binary, "empty").unwrap(),
            vec![0, 0]
        );
        let e = labels_from_values(vec![0, 3], MaskKind::Labels { classes: 3 }, "lbl.png")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lbl.png") && e.contains("value 3"), "{e}");
        let labels = vec![0, 1, 2, 2];
        assert_eq!(
            resize_mask(&labels, 2, 2, 4, 4, MaskKind::Labels { classes: 3 }),
            vec![0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
        );
    }

    #[test]
    fn image_to_chw_scales_to_unit_range_in_planar_order() {
        let img = RgbaImage::new(1, 1, vec![255, 0, 51, 7], "p").unwrap();
        assert_eq!(image_to_chw(&img, 1, 1), vec![1.0, 0.0, 0.2]);
    }
}
