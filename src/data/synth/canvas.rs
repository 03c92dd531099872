//! Where pixels live: the normalised [`Frame`] coordinates, slowly varying [`CoarseField`]s and
//! the [`Canvas`] that is painted, softened and finished (with [`SensorNoise`]) into a [`SynthSample`].

use super::SynthSample;
use super::math::{lerp, lerp3};
use super::noise::hash_unit;
use crate::rng::Rng;

/// Maps pixels to normalised coordinates: origin at the image centre, short side spanning 1,
/// so shapes keep their look at any resolution and aspect ratio.
pub(super) struct Frame {
    pub(super) width: usize,
    pub(super) height: usize,
    /// Pixels per normalised unit.
    pub(super) unit: f32,
    /// One pixel in normalised units.
    pub(super) pixel: f32,
    /// Half the image width and height in normalised units.
    pub(super) half: (f32, f32),
}

impl Frame {
    pub(super) fn new(width: u32, height: u32) -> Self {
        let unit = width.min(height).max(1) as f32;
        Self {
            width: width as usize,
            height: height as usize,
            unit,
            pixel: 1.0 / unit,
            half: (width as f32 / unit * 0.5, height as f32 / unit * 0.5),
        }
    }

    pub(super) fn pixel_count(&self) -> usize {
        self.width * self.height
    }

    /// Normalised position of the centre of pixel `(x, y)`.
    pub(super) fn point(&self, x: usize, y: usize) -> (f32, f32) {
        self.to_norm(x as f32 + 0.5, y as f32 + 0.5)
    }

    pub(super) fn to_norm(&self, px: f32, py: f32) -> (f32, f32) {
        (px / self.unit - self.half.0, py / self.unit - self.half.1)
    }

    pub(super) fn to_pixel(&self, p: (f32, f32)) -> (f32, f32) {
        (
            (p.0 + self.half.0) * self.unit,
            (p.1 + self.half.1) * self.unit,
        )
    }

    /// Pixel rows and columns whose centres may lie within `radius` (normalised) of `centre`,
    /// clipped to the image; empty ranges when the disc is off-image.
    pub(super) fn pixel_box(
        &self,
        centre: (f32, f32),
        radius: f32,
    ) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let (cx, cy) = self.to_pixel(centre);
        let r = radius * self.unit + 1.0;
        let span = |c: f32, limit: usize| {
            let lo = (c - r).floor().max(0.0) as usize;
            let hi = ((c + r).ceil().max(0.0) as usize).min(limit);
            lo.min(hi)..hi
        };
        (span(cx, self.width), span(cy, self.height))
    }
}

/// A slowly varying field sampled every few pixels and interpolated bilinearly: lighting and
/// redness change over tens of pixels, so evaluating their noise per pixel is wasted time.
pub(super) struct CoarseField {
    columns: usize,
    rows: usize,
    values: Vec<f32>,
}

/// Pixel spacing of [`CoarseField`] samples.
const COARSE_STEP: usize = 8;

impl CoarseField {
    pub(super) fn new(frame: &Frame, field: impl Fn((f32, f32)) -> f32) -> Self {
        let columns = frame.width.div_ceil(COARSE_STEP) + 1;
        let rows = frame.height.div_ceil(COARSE_STEP) + 1;
        let mut values = Vec::with_capacity(columns * rows);
        for j in 0..rows {
            for i in 0..columns {
                let px = (i * COARSE_STEP) as f32;
                let py = (j * COARSE_STEP) as f32;
                values.push(field(frame.to_norm(px, py)));
            }
        }
        Self {
            columns,
            rows,
            values,
        }
    }

    /// The field at the centre of pixel `(x, y)`.
    pub(super) fn at(&self, x: usize, y: usize) -> f32 {
        let gx = (x as f32 + 0.5) / COARSE_STEP as f32;
        let gy = (y as f32 + 0.5) / COARSE_STEP as f32;
        let (i, j) = (
            (gx as usize).min(self.columns - 2),
            (gy as usize).min(self.rows - 2),
        );
        let (tx, ty) = (gx - i as f32, gy - j as f32);
        let value = |i: usize, j: usize| {
            self.values
                .get(j * self.columns + i)
                .copied()
                .unwrap_or(0.0)
        };
        lerp(
            lerp(value(i, j), value(i + 1, j), tx),
            lerp(value(i, j + 1), value(i + 1, j + 1), tx),
            ty,
        )
    }
}

/// The image being painted: sRGB values as 0..255 floats, plus the per-pixel lesion blend
/// weight (for pigment details painted later) and the exact mask.
pub(super) struct Canvas {
    width: usize,
    height: usize,
    pub(super) rgb: Vec<[f32; 3]>,
    pub(super) lesion_alpha: Vec<f32>,
    pub(super) mask: Vec<u8>,
}

impl Canvas {
    pub(super) fn new(frame: &Frame) -> Self {
        let n = frame.pixel_count();
        Self {
            width: frame.width,
            height: frame.height,
            rgb: vec![[0.0; 3]; n],
            lesion_alpha: vec![0.0; n],
            mask: vec![0; n],
        }
    }

    /// Blends the image towards its 3x3 binomial blur by `amount` in `[0, 1]`.
    pub(super) fn soften(&mut self, amount: f32) {
        if amount <= 0.0 || self.width < 3 || self.height < 3 {
            return;
        }
        let (w, h) = (self.width, self.height);
        // Separable [1 2 1] / 4, edges clamped.
        let mut rows = vec![[0.0f32; 3]; w * h];
        for y in 0..h {
            for x in 0..w {
                let left = self.rgb[y * w + x.saturating_sub(1)];
                let right = self.rgb[y * w + (x + 1).min(w - 1)];
                let centre = self.rgb[y * w + x];
                rows[y * w + x] = binomial(left, centre, right);
            }
        }
        for y in 0..h {
            for x in 0..w {
                let up = rows[y.saturating_sub(1) * w + x];
                let down = rows[(y + 1).min(h - 1) * w + x];
                let blurred = binomial(up, rows[y * w + x], down);
                let i = y * w + x;
                self.rgb[i] = lerp3(self.rgb[i], blurred, amount);
            }
        }
    }

    pub(super) fn finish(self, noise: SensorNoise) -> SynthSample {
        let mut rgba = Vec::with_capacity(self.rgb.len() * 4);
        for (i, colour) in self.rgb.iter().enumerate() {
            let (x, y) = ((i % self.width) as i32, (i / self.width) as i32);
            let jitter = noise.at(x, y);
            for (c, value) in colour.iter().enumerate() {
                // Adding 0.5 then truncating rounds non-negative values (and avoids libm).
                let v = (value + jitter[c]).clamp(0.0, 255.0) + 0.5;
                rgba.push(v as u8);
            }
            rgba.push(255);
        }
        let lesion_pixels: u64 = self.mask.iter().map(|&m| u64::from(m)).sum();
        let lesion_fraction = (lesion_pixels as f64 / self.mask.len().max(1) as f64) as f32;
        SynthSample {
            width: self.width as u32,
            height: self.height as u32,
            rgba,
            mask: self.mask,
            lesion_fraction,
        }
    }
}

fn binomial(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> [f32; 3] {
    [
        0.25 * (a[0] + c[0]) + 0.5 * b[0],
        0.25 * (a[1] + c[1]) + 0.5 * b[1],
        0.25 * (a[2] + c[2]) + 0.5 * b[2],
    ]
}

/// Per-pixel sensor noise: a luminance part and a weaker chroma part.
#[derive(Clone, Copy)]
pub(super) struct SensorNoise {
    luma: f32,
    chroma: f32,
    seed: u32,
}

impl SensorNoise {
    pub(super) const NONE: Self = Self {
        luma: 0.0,
        chroma: 0.0,
        seed: 0,
    };

    pub(super) fn random(rng: &mut Rng) -> Self {
        let luma = rng.uniform_f32(1.0, 5.0);
        Self {
            luma,
            chroma: luma * rng.uniform_f32(0.2, 0.6),
            seed: rng.next_u32(),
        }
    }

    pub(super) fn at(&self, x: i32, y: i32) -> [f32; 3] {
        if self.luma == 0.0 {
            return [0.0; 3];
        }
        // Triangular noise (sum of two uniforms) is close enough to Gaussian for grain.
        let tri = |salt: u32| {
            hash_unit(x, y, self.seed ^ salt) + hash_unit(x, y, self.seed ^ salt ^ 0x9E37) - 1.0
        };
        let luma = self.luma * tri(0x1111);
        [
            luma + self.chroma * tri(0x2222),
            luma + self.chroma * tri(0x3333),
            luma + self.chroma * tri(0x4444),
        ]
    }
}
