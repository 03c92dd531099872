//! Procedural dermoscopy-like images with exact lesion masks.
//!
//! No skin-lesion dataset can be downloaded, so the demo weights, the tests and the benchmarks
//! train and measure on images drawn here. A sample is skin (tone from Fitzpatrick I to VI,
//! uneven lighting, furrows, pores, mottling), one or two pigmented lesions (irregular outline,
//! variegated colour, pigment network, dots and globules, sharp or fading border), and the
//! nuisances of real dermoscopy: hairs, rulers, air bubbles, gel glare, a black dermatoscope
//! vignette and sensor noise.
//!
//! The mask is the threshold `f < 1` of the same shape field `f` whose smooth step blends the
//! lesion colour in, so it is exact: with a soft border it is the 50% blend contour. Hairs,
//! rulers, bubbles and glare are painted afterwards and never change it. The vignette does clip
//! it, because lesion hidden under the black ring is not visible in the image either.
//!
//! Output depends only on the seed and the options: every layer draws from its own SplitMix64
//! stream (so switching hairs off leaves everything else unchanged), and the arithmetic is
//! limited to IEEE-exact operations (`+ - * /`, `sqrt`, `floor`, casts) with local polynomials
//! for sine and arctangent, so no platform libm can change a pixel: native x86-64 and wasm32
//! produce the same bytes.

use std::f32::consts::{FRAC_1_SQRT_2, FRAC_PI_2, PI, TAU};

/// One generated sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSample {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Row-major RGBA8 pixels, `width * height * 4` bytes; alpha is always 255.
    pub rgba: Vec<u8>,
    /// Row-major lesion mask, `width * height` bytes: 1 = lesion, 0 = not lesion.
    pub mask: Vec<u8>,
    /// Fraction of mask pixels that are lesion (the mean of `mask`).
    pub lesion_fraction: f32,
}

/// What [`generate`] draws.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Smallest total lesion area to aim for, as a fraction of the image.
    pub min_lesion_fraction: f32,
    /// Largest total lesion area to aim for, as a fraction of the image. Targets are drawn
    /// uniformly between the two; the achieved fraction lands close to the target.
    pub max_lesion_fraction: f32,
    /// Draw hairs (never part of the mask).
    pub hairs: bool,
    /// Allow the black dermatoscope vignette (in about 40% of images).
    pub vignette: bool,
    /// Allow rulers, air bubbles and gel glare (never part of the mask).
    pub artifacts: bool,
    /// Add per-pixel sensor noise.
    pub sensor_noise: bool,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self::with_size(256, 256)
    }
}

impl SynthOptions {
    /// Default options (everything enabled, lesions from 3% to 60%) at the given size.
    pub fn with_size(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            min_lesion_fraction: 0.03,
            max_lesion_fraction: 0.60,
            hairs: true,
            vignette: true,
            artifacts: true,
            sensor_noise: true,
        }
    }
}

/// Generates the sample for `seed`; the same seed and options always give the same bytes.
pub fn generate(seed: u64, options: &SynthOptions) -> SynthSample {
    let frame = Frame::new(options.width, options.height);
    if frame.pixel_count() == 0 {
        return SynthSample {
            width: options.width,
            height: options.height,
            rgba: Vec::new(),
            mask: Vec::new(),
            lesion_fraction: 0.0,
        };
    }
    let skin = Skin::random(&mut SplitMix::new(seed, Stream::Skin));
    let mut lesion_rng = SplitMix::new(seed, Stream::Lesion);
    let target = target_fraction(&mut lesion_rng, options);
    let lesions = random_lesions(&mut lesion_rng, &frame, target);
    let vignette = if options.vignette {
        Vignette::random(&mut SplitMix::new(seed, Stream::Vignette), &frame, target)
    } else {
        None
    };
    let scale = calibrate_scale(&lesions, &frame, vignette.as_ref(), target);
    let placed: Vec<PlacedLesion<'_>> = lesions
        .lesions
        .iter()
        .map(|lesion| lesion.place(lesions.anchor, scale, frame.pixel))
        .collect();

    let mut canvas = Canvas::new(&frame);
    paint_base(&mut canvas, &frame, &skin, &placed, vignette.as_ref());
    for lesion in &placed {
        paint_globules(&mut canvas, &frame, lesion);
    }
    if options.artifacts {
        paint_artifacts(
            &mut canvas,
            &frame,
            &mut SplitMix::new(seed, Stream::Artifacts),
        );
    }
    if options.hairs {
        paint_hairs(&mut canvas, &frame, &mut SplitMix::new(seed, Stream::Hairs));
    }
    if let Some(vignette) = &vignette {
        vignette.paint(&mut canvas, &frame);
    }
    // Dermatoscope optics are never perfectly sharp; the blur is symmetric, so the mask's 50%
    // contour stays where it was.
    let softness = SplitMix::new(seed, Stream::Optics).range(0.0, 1.0);
    canvas.soften(softness);
    let noise = if options.sensor_noise {
        SensorNoise::random(&mut SplitMix::new(seed, Stream::Sensor))
    } else {
        SensorNoise::NONE
    };
    canvas.finish(noise)
}

// ---------------------------------------------------------------------------------------------
// Randomness and exact math
// ---------------------------------------------------------------------------------------------

/// Independent random streams, one per layer, so that toggling one layer (hairs, artifacts)
/// cannot shift the random numbers of another.
#[derive(Clone, Copy)]
enum Stream {
    Skin = 1,
    Lesion = 2,
    Vignette = 3,
    Artifacts = 4,
    Hairs = 5,
    Sensor = 6,
    Optics = 7,
}

/// SplitMix64: tiny, fast, and good enough for picking shapes and colours.
struct SplitMix {
    state: u64,
}

impl SplitMix {
    fn new(seed: u64, stream: Stream) -> Self {
        let mut rng = Self {
            state: seed ^ (stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        // Burn one output so that neighbouring seeds start from unrelated states.
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 bits, exactly representable in f32.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        lo + (self.next_u64() % span) as u32
    }

    /// Roughly standard normal (Irwin–Hall of four uniforms): no log or cos needed, and the
    /// tails are bounded, which keeps shapes from going wild.
    fn normal(&mut self) -> f32 {
        let sum = self.unit() + self.unit() + self.unit() + self.unit();
        (sum - 2.0) * 1.732_050_8
    }

    fn noise_seed(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        if items.is_empty() {
            return fallback;
        }
        let index = (self.next_u64() % items.len() as u64) as usize;
        items.get(index).copied().unwrap_or(fallback)
    }
}

/// Sine by range reduction and a degree-9 Taylor polynomial (error below 4e-6); local so that
/// results do not depend on the platform's libm.
fn sin(x: f32) -> f32 {
    let turns = (x / TAU + 0.5).floor();
    let mut r = x - turns * TAU;
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    r * (1.0
        + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362_880.0)))))
}

fn cos(x: f32) -> f32 {
    sin(x + FRAC_PI_2)
}

/// Four-quadrant arctangent from Hastings' degree-9 odd polynomial (error below 2e-5 rad).
fn atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let big = ax.max(ay);
    if big == 0.0 {
        return 0.0;
    }
    let a = ax.min(ay) / big;
    let s = a * a;
    let mut r =
        a * (0.999_866 + s * (-0.330_299_5 + s * (0.180_141 + s * (-0.085_133 + s * 0.020_835_1))));
    if ay > ax {
        r = FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 { -r } else { r }
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

fn mul3(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

fn scale3(a: [f32; 3], k: f32) -> [f32; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// Hermite step from 0 at `edge0` to 1 at `edge1`; `edge0 > edge1` gives a falling step.
fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

// ---------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------

/// Sixteen unit gradients; more directions than Perlin's eight hide the lattice.
const GRADIENTS: [(f32, f32); 16] = [
    (1.0, 0.0),
    (0.923_879_5, 0.382_683_43),
    (FRAC_1_SQRT_2, FRAC_1_SQRT_2),
    (0.382_683_43, 0.923_879_5),
    (0.0, 1.0),
    (-0.382_683_43, 0.923_879_5),
    (-FRAC_1_SQRT_2, FRAC_1_SQRT_2),
    (-0.923_879_5, 0.382_683_43),
    (-1.0, 0.0),
    (-0.923_879_5, -0.382_683_43),
    (-FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
    (-0.382_683_43, -0.923_879_5),
    (0.0, -1.0),
    (0.382_683_43, -0.923_879_5),
    (FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
    (0.923_879_5, -0.382_683_43),
];

/// Scales 2-D gradient noise (peak `1/sqrt 2`) to just under ±1.
const NOISE_GAIN: f32 = 1.41;

fn hash2(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = (x as u32)
        .wrapping_mul(0x27D4_EB2D)
        .wrapping_add((y as u32).wrapping_mul(0x1656_67B1))
        ^ seed;
    h = (h ^ (h >> 16)).wrapping_mul(0x7FEB_352D);
    h = (h ^ (h >> 15)).wrapping_mul(0x846C_A68B);
    h ^ (h >> 16)
}

/// Floor as an integer. `f32::floor` is a libm call on baseline x86-64, and this sits in the
/// innermost loop; the truncating cast is exact for the coordinate range used here.
fn floor_i32(x: f32) -> i32 {
    let i = x as i32;
    if (i as f32) > x { i - 1 } else { i }
}

/// Uniform in `[0, 1)` from a lattice hash, for per-pixel noise.
fn hash_unit(x: i32, y: i32, seed: u32) -> f32 {
    (hash2(x, y, seed) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// 2-D gradient noise in about `[-1, 1]`, zero at lattice points, one feature per unit.
fn gradient_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (floor_i32(x), floor_i32(y));
    let (dx, dy) = (x - ix as f32, y - iy as f32);
    let corner = |i: i32, j: i32, ox: f32, oy: f32| {
        let h = hash2(ix.wrapping_add(i), iy.wrapping_add(j), seed);
        let (gx, gy) = GRADIENTS[(h >> 28) as usize];
        gx * ox + gy * oy
    };
    let n00 = corner(0, 0, dx, dy);
    let n10 = corner(1, 0, dx - 1.0, dy);
    let n01 = corner(0, 1, dx, dy - 1.0);
    let n11 = corner(1, 1, dx - 1.0, dy - 1.0);
    let u = dx * dx * dx * (dx * (dx * 6.0 - 15.0) + 10.0);
    let v = dy * dy * dy * (dy * (dy * 6.0 - 15.0) + 10.0);
    lerp(lerp(n00, n10, u), lerp(n01, n11, u), v) * NOISE_GAIN
}

/// Fractal sum of `octaves` gradient noises, normalised so it stays in about `[-1, 1]`.
/// Each octave is rotated so the lattices of different octaves do not line up.
fn fbm(x: f32, y: f32, seed: u32, octaves: u32) -> f32 {
    const ROT_COS: f32 = 0.877_582_6;
    const ROT_SIN: f32 = 0.479_425_55;
    let (mut x, mut y) = (x, y);
    let (mut sum, mut norm, mut amp) = (0.0, 0.0, 1.0);
    for octave in 0..octaves {
        sum += amp * gradient_noise(x, y, seed.wrapping_add(octave.wrapping_mul(0x9E37_79B9)));
        norm += amp;
        amp *= 0.5;
        let rx = ROT_COS * x - ROT_SIN * y;
        let ry = ROT_SIN * x + ROT_COS * y;
        x = rx * 2.0 + 17.31;
        y = ry * 2.0 + 5.13;
    }
    if norm > 0.0 { sum / norm } else { 0.0 }
}

/// Distance from the nearest cell wall of a jittered-grid Voronoi diagram (`F2 - F1`, in cell
/// units): small along the walls, so thresholding it draws a honeycomb like a pigment network.
fn cell_wall_distance(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (floor_i32(x), floor_i32(y));
    let (fx, fy) = (ix as f32, iy as f32);
    let (mut f1, mut f2) = (f32::MAX, f32::MAX);
    for j in -1..=1 {
        for i in -1..=1 {
            let h = hash2(ix.wrapping_add(i), iy.wrapping_add(j), seed);
            let jx = (h & 0xFFFF) as f32 * (1.0 / 65_536.0);
            let jy = (h >> 16) as f32 * (1.0 / 65_536.0);
            let dx = i as f32 + 0.1 + 0.8 * jx - (x - fx);
            let dy = j as f32 + 0.1 + 0.8 * jy - (y - fy);
            let d = dx * dx + dy * dy;
            if d < f1 {
                f2 = f1;
                f1 = d;
            } else if d < f2 {
                f2 = d;
            }
        }
    }
    f2.sqrt() - f1.sqrt()
}

// ---------------------------------------------------------------------------------------------
// Geometry and canvas
// ---------------------------------------------------------------------------------------------

/// Maps pixels to normalised coordinates: origin at the image centre, short side spanning 1,
/// so shapes keep their look at any resolution and aspect ratio.
struct Frame {
    width: usize,
    height: usize,
    /// Pixels per normalised unit.
    unit: f32,
    /// One pixel in normalised units.
    pixel: f32,
    /// Half the image width and height in normalised units.
    half: (f32, f32),
}

impl Frame {
    fn new(width: u32, height: u32) -> Self {
        let unit = width.min(height).max(1) as f32;
        Self {
            width: width as usize,
            height: height as usize,
            unit,
            pixel: 1.0 / unit,
            half: (width as f32 / unit * 0.5, height as f32 / unit * 0.5),
        }
    }

    fn pixel_count(&self) -> usize {
        self.width * self.height
    }

    /// Normalised position of the centre of pixel `(x, y)`.
    fn point(&self, x: usize, y: usize) -> (f32, f32) {
        self.to_norm(x as f32 + 0.5, y as f32 + 0.5)
    }

    fn to_norm(&self, px: f32, py: f32) -> (f32, f32) {
        (px / self.unit - self.half.0, py / self.unit - self.half.1)
    }

    fn to_pixel(&self, p: (f32, f32)) -> (f32, f32) {
        (
            (p.0 + self.half.0) * self.unit,
            (p.1 + self.half.1) * self.unit,
        )
    }

    /// Pixel rows and columns whose centres may lie within `radius` (normalised) of `centre`,
    /// clipped to the image; empty ranges when the disc is off-image.
    fn pixel_box(
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
struct CoarseField {
    columns: usize,
    rows: usize,
    values: Vec<f32>,
}

/// Pixel spacing of [`CoarseField`] samples.
const COARSE_STEP: usize = 8;

impl CoarseField {
    fn new(frame: &Frame, field: impl Fn((f32, f32)) -> f32) -> Self {
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
    fn at(&self, x: usize, y: usize) -> f32 {
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
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<[f32; 3]>,
    lesion_alpha: Vec<f32>,
    mask: Vec<u8>,
}

impl Canvas {
    fn new(frame: &Frame) -> Self {
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
    fn soften(&mut self, amount: f32) {
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

    fn finish(self, noise: SensorNoise) -> SynthSample {
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

// ---------------------------------------------------------------------------------------------
// Skin
// ---------------------------------------------------------------------------------------------

/// Skin colours under a polarised dermatoscope, Fitzpatrick I to VI (sRGB 0..255).
const SKIN_TONES: [[f32; 3]; 6] = [
    [240.0, 206.0, 196.0],
    [228.0, 180.0, 160.0],
    [206.0, 152.0, 124.0],
    [172.0, 120.0, 90.0],
    [126.0, 86.0, 62.0],
    [82.0, 57.0, 44.0],
];

/// An oriented family of skin furrows: stretched noise whose zero lines read as creases.
struct Furrows {
    cos: f32,
    sin: f32,
    freq: f32,
    depth: f32,
    seed: u32,
}

impl Furrows {
    fn random(rng: &mut SplitMix, angle: f32) -> Self {
        Self {
            cos: cos(angle),
            sin: sin(angle),
            freq: rng.range(8.0, 18.0),
            depth: rng.range(0.005, 0.045),
            seed: rng.noise_seed(),
        }
    }

    fn darkening(&self, p: (f32, f32)) -> f32 {
        let along = p.0 * self.cos + p.1 * self.sin;
        let across = -p.0 * self.sin + p.1 * self.cos;
        // Stretch along the furrow so zero crossings become long thin lines.
        let n = gradient_noise(across * self.freq, along * self.freq * 0.12, self.seed);
        self.depth * smoothstep(0.12, 0.0, n.abs())
    }
}

/// Lighting of the dermatoscope: a tilt, a central hot spot and slow unevenness.
struct Lighting {
    tilt: (f32, f32),
    falloff: f32,
    unevenness: f32,
    freq: f32,
    seed: u32,
}

impl Lighting {
    fn random(rng: &mut SplitMix) -> Self {
        let angle = rng.range(0.0, TAU);
        let tilt = rng.range(0.0, 0.22);
        Self {
            tilt: (cos(angle) * tilt, sin(angle) * tilt),
            falloff: rng.range(0.0, 0.35),
            unevenness: rng.range(0.0, 0.08),
            freq: rng.range(0.8, 2.0),
            seed: rng.noise_seed(),
        }
    }

    fn at(&self, p: (f32, f32)) -> f32 {
        let tilt = self.tilt.0 * p.0 + self.tilt.1 * p.1;
        let radial = -self.falloff * (p.0 * p.0 + p.1 * p.1);
        let slow = self.unevenness * fbm(p.0 * self.freq, p.1 * self.freq, self.seed, 2);
        (1.0 + tilt + radial + slow).max(0.35)
    }
}

/// Everything that makes the background look like skin.
struct Skin {
    tone: [f32; 3],
    mottle_freq: f32,
    mottle_amp: f32,
    mottle_seed: u32,
    redness_freq: f32,
    redness_amp: f32,
    redness_seed: u32,
    grain_freq: f32,
    grain_amp: f32,
    grain_seed: u32,
    pore_freq: f32,
    pore_amp: f32,
    pore_seed: u32,
    furrows: [Furrows; 2],
    lighting: Lighting,
}

impl Skin {
    fn random(rng: &mut SplitMix) -> Self {
        let tone = random_skin_tone(rng);
        let furrow_angle = rng.range(0.0, PI);
        let crossing = furrow_angle + rng.range(0.9, 2.2);
        Self {
            tone,
            mottle_freq: rng.range(3.0, 8.0),
            mottle_amp: rng.range(0.02, 0.07),
            mottle_seed: rng.noise_seed(),
            redness_freq: rng.range(1.5, 5.0),
            redness_amp: rng.range(0.0, 0.10),
            redness_seed: rng.noise_seed(),
            grain_freq: rng.range(70.0, 130.0),
            grain_amp: rng.range(0.01, 0.035),
            grain_seed: rng.noise_seed(),
            pore_freq: rng.range(25.0, 45.0),
            pore_amp: rng.range(0.0, 0.08),
            pore_seed: rng.noise_seed(),
            furrows: [
                Furrows::random(rng, furrow_angle),
                Furrows::random(rng, crossing),
            ],
            lighting: Lighting::random(rng),
        }
    }

    /// Erythema in `[0, redness_amp]`: patches where green and blue drop while red holds.
    fn redness(&self, p: (f32, f32)) -> f32 {
        let f = self.redness_freq;
        self.redness_amp * (0.5 + 0.5 * fbm(p.0 * f, p.1 * f, self.redness_seed, 2))
    }

    /// Skin colour at `p` before lighting, given the (slowly varying) redness there.
    fn colour(&self, p: (f32, f32), redness: f32) -> [f32; 3] {
        let mottle = fbm(
            p.0 * self.mottle_freq,
            p.1 * self.mottle_freq,
            self.mottle_seed,
            3,
        );
        let grain = gradient_noise(
            p.0 * self.grain_freq,
            p.1 * self.grain_freq,
            self.grain_seed,
        );
        let pores = smoothstep(
            0.45,
            0.75,
            gradient_noise(p.0 * self.pore_freq, p.1 * self.pore_freq, self.pore_seed),
        );
        let furrows = self.furrows[0].darkening(p) + self.furrows[1].darkening(p);
        let shade = 1.0 + self.mottle_amp * mottle + self.grain_amp * grain
            - self.pore_amp * pores
            - furrows;
        [
            self.tone[0] * shade,
            self.tone[1] * shade * (1.0 - redness),
            self.tone[2] * shade * (1.0 - 0.7 * redness),
        ]
    }
}

fn random_skin_tone(rng: &mut SplitMix) -> [f32; 3] {
    // Slightly favour lighter skin, as in public dermoscopy archives, but keep every type common.
    let u = rng.unit();
    let t = (0.7 * u + 0.3 * u * u) * (SKIN_TONES.len() - 1) as f32;
    let index = (t.floor() as usize).min(SKIN_TONES.len() - 2);
    let base = lerp3(SKIN_TONES[index], SKIN_TONES[index + 1], t - index as f32);
    let brightness = rng.range(0.9, 1.06);
    // White balance of the camera: real archives range from pink to yellowish casts.
    let cast = [
        1.0 + 0.03 * rng.normal(),
        1.0 + 0.025 * rng.normal(),
        1.0 + 0.04 * rng.normal(),
    ];
    scale3(mul3(base, cast), brightness)
}

// ---------------------------------------------------------------------------------------------
// Lesions
// ---------------------------------------------------------------------------------------------

/// Pigment colours as factors on the local skin colour, so that a lesion on dark skin is
/// darker skin rather than a pasted-on brown.
mod pigment {
    pub const WHITE: [f32; 3] = [1.12, 1.16, 1.16];
    pub const TAN: [f32; 3] = [0.90, 0.80, 0.72];
    pub const LIGHT_BROWN: [f32; 3] = [0.78, 0.64, 0.54];
    pub const MID_BROWN: [f32; 3] = [0.60, 0.45, 0.36];
    pub const DARK_BROWN: [f32; 3] = [0.40, 0.27, 0.20];
    pub const BLACK: [f32; 3] = [0.17, 0.14, 0.13];
    pub const GREY_BROWN: [f32; 3] = [0.62, 0.55, 0.52];
    pub const BLUE_GREY: [f32; 3] = [0.46, 0.56, 0.76];
    pub const LIGHT_BLUE_GREY: [f32; 3] = [0.66, 0.72, 0.86];
    pub const DEEP_BLUE: [f32; 3] = [0.26, 0.30, 0.44];
    pub const PINK: [f32; 3] = [1.0, 0.80, 0.84];
    pub const RED: [f32; 3] = [0.92, 0.52, 0.56];
    pub const DARK_RED: [f32; 3] = [0.62, 0.26, 0.30];
    pub const PURPLE: [f32; 3] = [0.55, 0.30, 0.44];
}

/// Broad families of lesions, each with its own palette and texture habits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LesionKind {
    Naevus,
    DarkNaevus,
    Melanoma,
    BlueNaevus,
    Vascular,
    Keratosis,
    Faint,
}

/// Per-kind ranges from which a lesion's look is drawn.
struct KindTraits {
    palettes: &'static [&'static [[f32; 3]]],
    irregularity: (f32, f32),
    warp: (f32, f32),
    soft_border: f32,
    contrast: (f32, f32),
    network: f32,
    dots: f32,
    globules: u32,
    variegation: (f32, f32),
}

impl LesionKind {
    fn random(rng: &mut SplitMix) -> Self {
        const WEIGHTS: [(LesionKind, f32); 7] = [
            (LesionKind::Naevus, 25.0),
            (LesionKind::DarkNaevus, 16.0),
            (LesionKind::Melanoma, 22.0),
            (LesionKind::BlueNaevus, 6.0),
            (LesionKind::Vascular, 8.0),
            (LesionKind::Keratosis, 13.0),
            (LesionKind::Faint, 10.0),
        ];
        let total: f32 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut u = rng.unit() * total;
        for (kind, weight) in WEIGHTS {
            if u < weight {
                return kind;
            }
            u -= weight;
        }
        LesionKind::Naevus
    }

    fn traits(self) -> KindTraits {
        use pigment::*;
        match self {
            LesionKind::Naevus => KindTraits {
                palettes: &[
                    &[TAN, LIGHT_BROWN, MID_BROWN],
                    &[LIGHT_BROWN, MID_BROWN],
                    &[TAN, LIGHT_BROWN],
                ],
                irregularity: (0.03, 0.14),
                warp: (0.02, 0.07),
                soft_border: 0.6,
                contrast: (0.6, 1.0),
                network: 0.7,
                dots: 0.3,
                globules: 12,
                variegation: (0.2, 0.6),
            },
            LesionKind::DarkNaevus => KindTraits {
                palettes: &[
                    &[MID_BROWN, DARK_BROWN],
                    &[LIGHT_BROWN, DARK_BROWN, BLACK],
                    &[MID_BROWN, DARK_BROWN, BLACK],
                ],
                irregularity: (0.04, 0.18),
                warp: (0.03, 0.09),
                soft_border: 0.4,
                contrast: (0.7, 1.0),
                network: 0.6,
                dots: 0.5,
                globules: 25,
                variegation: (0.3, 0.8),
            },
            LesionKind::Melanoma => KindTraits {
                palettes: &[
                    &[WHITE, LIGHT_BROWN, DARK_BROWN, BLACK],
                    &[LIGHT_BROWN, MID_BROWN, BLUE_GREY, BLACK],
                    &[PINK, LIGHT_BROWN, DARK_BROWN, BLUE_GREY],
                    &[TAN, MID_BROWN, BLACK],
                    &[LIGHT_BLUE_GREY, MID_BROWN, DARK_BROWN],
                ],
                irregularity: (0.12, 0.35),
                warp: (0.06, 0.18),
                soft_border: 0.5,
                contrast: (0.6, 1.0),
                network: 0.5,
                dots: 0.6,
                globules: 30,
                variegation: (0.5, 1.0),
            },
            LesionKind::BlueNaevus => KindTraits {
                palettes: &[
                    &[BLUE_GREY, DEEP_BLUE],
                    &[LIGHT_BLUE_GREY, BLUE_GREY, DEEP_BLUE],
                ],
                irregularity: (0.03, 0.12),
                warp: (0.02, 0.06),
                soft_border: 0.7,
                contrast: (0.6, 1.0),
                network: 0.0,
                dots: 0.1,
                globules: 0,
                variegation: (0.2, 0.5),
            },
            LesionKind::Vascular => KindTraits {
                palettes: &[&[PINK, RED, DARK_RED], &[RED, PURPLE], &[PINK, RED]],
                irregularity: (0.03, 0.15),
                warp: (0.02, 0.08),
                soft_border: 0.5,
                contrast: (0.5, 1.0),
                network: 0.0,
                dots: 0.5,
                globules: 20,
                variegation: (0.3, 0.8),
            },
            LesionKind::Keratosis => KindTraits {
                palettes: &[
                    &[TAN, LIGHT_BROWN, MID_BROWN],
                    &[LIGHT_BROWN, MID_BROWN, DARK_BROWN],
                    &[GREY_BROWN, MID_BROWN],
                ],
                irregularity: (0.05, 0.2),
                warp: (0.04, 0.12),
                soft_border: 0.15,
                contrast: (0.6, 1.0),
                network: 0.8,
                dots: 0.7,
                globules: 15,
                variegation: (0.3, 0.8),
            },
            LesionKind::Faint => KindTraits {
                palettes: &[
                    &[LIGHT_BROWN],
                    &[PINK, LIGHT_BROWN],
                    &[TAN, LIGHT_BROWN],
                    &[GREY_BROWN, MID_BROWN],
                ],
                irregularity: (0.05, 0.25),
                warp: (0.03, 0.12),
                soft_border: 0.7,
                contrast: (0.4, 0.7),
                network: 0.4,
                dots: 0.2,
                globules: 5,
                variegation: (0.2, 0.6),
            },
        }
    }
}

/// Angular resolution of the radius table.
const RADIAL_STEPS: usize = 256;

/// The outline of one lesion in its own frame: `f = rho / r(theta) + noise`, inside where
/// `f < 1`. Everything is relative to a unit size, so scaling the lesion scales the shape
/// exactly, which is what lets [`calibrate_scale`] hit an area target.
struct Shape {
    /// Centre offset from the anchor, in units of the global scale (satellites only).
    offset: (f32, f32),
    /// Size relative to the global scale.
    rel_size: f32,
    cos_rot: f32,
    sin_rot: f32,
    /// Minor/major axis ratio, at most 1.
    aspect: f32,
    radii: Vec<f32>,
    r_max: f32,
    r_mean: f32,
    warp_amp: f32,
    warp_freq: f32,
    fine_amp: f32,
    fine_freq: f32,
    seed: u32,
}

impl Shape {
    fn random(rng: &mut SplitMix, traits: &KindTraits) -> Self {
        let irregularity = rng.range(traits.irregularity.0, traits.irregularity.1);
        let radii = random_radii(rng, irregularity);
        let r_max = radii.iter().copied().fold(0.0, f32::max);
        let r_mean = radii.iter().sum::<f32>() / radii.len().max(1) as f32;
        let angle = rng.range(0.0, TAU);
        Self {
            offset: (0.0, 0.0),
            rel_size: 1.0,
            cos_rot: cos(angle),
            sin_rot: sin(angle),
            aspect: rng.range(0.6, 1.0),
            radii,
            r_max,
            r_mean,
            warp_amp: rng.range(traits.warp.0, traits.warp.1),
            warp_freq: rng.range(1.5, 4.0),
            fine_amp: rng.range(0.0, 0.035),
            fine_freq: rng.range(5.0, 11.0),
            seed: rng.noise_seed(),
        }
    }

    /// Shape coordinates of an offset `(dx, dy)` already divided by the lesion size.
    fn offset_to_local(&self, dx: f32, dy: f32) -> (f32, f32) {
        let u = dx * self.cos_rot + dy * self.sin_rot;
        let v = (-dx * self.sin_rot + dy * self.cos_rot) / self.aspect;
        (u, v)
    }

    /// Inverse of [`Shape::offset_to_local`].
    fn local_to_offset(&self, u: f32, v: f32) -> (f32, f32) {
        let v = v * self.aspect;
        (
            u * self.cos_rot - v * self.sin_rot,
            u * self.sin_rot + v * self.cos_rot,
        )
    }

    fn radius_at(&self, theta: f32) -> f32 {
        let pos = (theta + PI) / TAU * RADIAL_STEPS as f32;
        let floor = floor_i32(pos).max(0);
        let i0 = floor as usize % RADIAL_STEPS;
        let i1 = (i0 + 1) % RADIAL_STEPS;
        let r0 = self.radii.get(i0).copied().unwrap_or(1.0);
        let r1 = self.radii.get(i1).copied().unwrap_or(1.0);
        lerp(r0, r1, pos - floor as f32)
    }

    /// The shape field: below 1 inside, 1 on the outline, growing outwards.
    fn field(&self, u: f32, v: f32) -> f32 {
        let rho = (u * u + v * v).sqrt();
        let r = self.radius_at(atan2(v, u));
        let wx = u * self.warp_freq;
        let wy = v * self.warp_freq;
        let warp = fbm(wx, wy, self.seed, 2);
        let fine = gradient_noise(u * self.fine_freq, v * self.fine_freq, self.seed ^ 0xA5A5);
        rho / r + self.warp_amp * warp + self.fine_amp * fine
    }

    /// Largest `rho` (shape units) at which the field can still be below `f_max`.
    fn reach(&self, f_max: f32) -> f32 {
        // Noise is bounded by 1 (times a little slack for rounding), so this is a true bound.
        (f_max + (self.warp_amp + self.fine_amp) * 1.02) * self.r_max
    }
}

/// Radius as a function of angle: a few low harmonics for the overall outline, weaker high
/// ones for the ragged edge that melanomas and keratoses show.
fn random_radii(rng: &mut SplitMix, irregularity: f32) -> Vec<f32> {
    let mut harmonics = Vec::new();
    for k in 2..=6u32 {
        let amp = irregularity * rng.range(0.2, 1.0) / (0.5 * k as f32);
        harmonics.push((k as f32, amp, rng.range(0.0, TAU)));
    }
    for k in 7..=16u32 {
        let amp = irregularity * rng.range(0.0, 0.3) / k as f32;
        harmonics.push((k as f32, amp, rng.range(0.0, TAU)));
    }
    (0..RADIAL_STEPS)
        .map(|i| {
            let theta = i as f32 / RADIAL_STEPS as f32 * TAU - PI;
            let wobble: f32 = harmonics
                .iter()
                .map(|&(k, amp, phase)| amp * cos(k * theta + phase))
                .sum();
            (1.0 + wobble).max(0.35)
        })
        .collect()
}

/// A darker (or lighter) off-centre patch inside the lesion, as in asymmetric lesions.
struct Blotch {
    centre: (f32, f32),
    radius: f32,
    strength: f32,
}

/// Noise-based line or dot pattern that multiplies the pigment colour by `tint`.
struct Pattern {
    /// Network lines: meandering fissures (keratoses) instead of a honeycomb.
    fissures: bool,
    freq: f32,
    width: f32,
    strength: f32,
    tint: [f32; 3],
    seed: u32,
}

impl Pattern {
    /// Pigment network: the walls of a warped Voronoi honeycomb, or for keratoses the zero
    /// lines of gradient noise, whose meanders look like cerebriform fissures.
    fn network(&self, p: (f32, f32)) -> f32 {
        let (x, y) = (p.0 * self.freq, p.1 * self.freq);
        if self.fissures {
            return smoothstep(self.width, 0.0, gradient_noise(x, y, self.seed).abs());
        }
        // The warp bends the straight cell walls into the wavy lines of real networks.
        let wx = x + 0.6 * gradient_noise(x * 0.5, y * 0.5, self.seed ^ 0x77);
        let wy = y + 0.6 * gradient_noise(x * 0.5 + 9.7, y * 0.5, self.seed ^ 0x77);
        let line = smoothstep(self.width, 0.0, cell_wall_distance(wx, wy, self.seed));
        // Real network lines vary in darkness and break up here and there.
        let broken = smoothstep(
            -0.8,
            0.4,
            gradient_noise(x * 0.5, y * 0.5, self.seed ^ 0x99),
        );
        line * broken
    }

    /// Dots: isolated peaks of high-frequency noise.
    fn dots(&self, p: (f32, f32)) -> f32 {
        let n = gradient_noise(p.0 * self.freq, p.1 * self.freq, self.seed);
        smoothstep(1.0 - self.width, 1.0 - self.width * 0.5, n)
    }
}

/// A round pigment clump (globule) at a fixed place inside the lesion.
struct Globule {
    local: (f32, f32),
    /// Radius relative to the lesion size.
    radius: f32,
    tint: [f32; 3],
    strength: f32,
}

/// How a lesion is coloured inside its outline.
struct Look {
    palette: Vec<[f32; 3]>,
    contrast: f32,
    /// Pigment density at the outline relative to the core (fading borders are lower).
    edge_density: f32,
    /// Field value inside which pigment is at full density.
    core: f32,
    variegation_freq: f32,
    variegation_amp: f32,
    /// Structureless blotchiness of pigment density.
    mottle_freq: f32,
    mottle_amp: f32,
    centre_bias: f32,
    sharpness: f32,
    blotch: Option<Blotch>,
    network: Option<Pattern>,
    dots: Option<Pattern>,
    globules: Vec<Globule>,
    /// Half-width of the border blend in normalised units (0 = as sharp as anti-aliasing).
    border_width: f32,
    /// Strength of the reddish inflammatory halo around the lesion (not part of the mask).
    halo: f32,
    seed: u32,
}

impl Look {
    fn random(rng: &mut SplitMix, kind: LesionKind, traits: &KindTraits, shape: &Shape) -> Self {
        let mut palette = rng.pick(traits.palettes, &[pigment::TAN]).to_vec();
        if rng.chance(0.2) {
            // A light core in a dark rim happens too (regression, targetoid naevi).
            palette.reverse();
        }
        // Normalised half-widths: about 0.6 to 1.5 px (crisp) or 1.5 to 10 px (fading) at 256 px.
        let border_width = if rng.chance(traits.soft_border) {
            rng.range(0.006, 0.04)
        } else {
            rng.range(0.0, 0.006)
        };
        Self {
            palette,
            contrast: rng.range(traits.contrast.0, traits.contrast.1),
            // Pigment thins towards the outline, but not so far that the outline itself (the
            // mask's 50% blend contour) stops being visible.
            edge_density: if border_width > 0.006 {
                rng.range(0.6, 0.95)
            } else {
                rng.range(0.8, 1.0)
            },
            core: rng.range(0.3, 0.85),
            variegation_freq: rng.range(0.8, 2.5),
            variegation_amp: rng.range(traits.variegation.0, traits.variegation.1),
            mottle_freq: rng.range(4.0, 12.0),
            mottle_amp: rng.range(0.05, 0.35),
            centre_bias: rng.range(-0.2, 0.6),
            sharpness: rng.range(1.0, 2.0),
            blotch: random_blotch(rng, shape),
            network: random_network(rng, kind, traits),
            dots: random_dots(rng, kind, traits),
            globules: random_globules(rng, kind, traits, shape),
            border_width,
            halo: if rng.chance(0.15) {
                rng.range(0.3, 1.0)
            } else {
                0.0
            },
            seed: rng.noise_seed(),
        }
    }

    /// Per-channel factor on the skin colour at a point inside (or near) the lesion.
    fn transmittance(&self, p: (f32, f32), local: (f32, f32), f: f32) -> [f32; 3] {
        let freq = self.variegation_freq;
        let mut t = 0.5
            + 0.5 * self.variegation_amp * fbm(local.0 * freq, local.1 * freq, self.seed, 3)
            + self.centre_bias * (0.6 - f.min(1.0));
        if let Some(blotch) = &self.blotch {
            let dx = local.0 - blotch.centre.0;
            let dy = local.1 - blotch.centre.1;
            let d = (dx * dx + dy * dy).sqrt() / blotch.radius;
            t += blotch.strength * smoothstep(1.0, 0.3, d);
        }
        let t = (0.5 + (t - 0.5) * self.sharpness).clamp(0.0, 1.0);
        let mut colour = palette_at(&self.palette, t);
        if self.network.is_some() || self.dots.is_some() {
            // One patchiness field serves both: dots tend to fill where the network thins out,
            // as in real lesions, and it saves a noise evaluation per pixel.
            let patch = fbm(local.0 * 1.8, local.1 * 1.8, self.seed ^ 0x5EED, 2);
            if let Some(network) = &self.network {
                let k = network.strength * network.network(p) * smoothstep(-0.25, 0.2, patch);
                colour = mul3(colour, lerp3([1.0; 3], network.tint, k));
            }
            if let Some(dots) = &self.dots {
                let k = dots.strength * dots.dots(p) * smoothstep(0.25, -0.2, patch);
                colour = mul3(colour, lerp3([1.0; 3], dots.tint, k));
            }
        }
        let mf = self.mottle_freq;
        let mottle = 1.0 + self.mottle_amp * fbm(local.0 * mf, local.1 * mf, self.seed ^ 0x3C3C, 2);
        let density = lerp(self.edge_density, 1.0, smoothstep(1.0, self.core, f)) * self.contrast;
        let mixed = lerp3([1.0; 3], colour, (density * mottle).min(1.1));
        [mixed[0].max(0.03), mixed[1].max(0.03), mixed[2].max(0.03)]
    }
}

fn palette_at(palette: &[[f32; 3]], t: f32) -> [f32; 3] {
    let Some(&last) = palette.last() else {
        return [1.0; 3];
    };
    if palette.len() == 1 {
        return last;
    }
    let pos = t.clamp(0.0, 1.0) * (palette.len() - 1) as f32;
    let index = (floor_i32(pos).max(0) as usize).min(palette.len() - 2);
    match (palette.get(index), palette.get(index + 1)) {
        (Some(&a), Some(&b)) => lerp3(a, b, pos - index as f32),
        _ => last,
    }
}

fn random_blotch(rng: &mut SplitMix, shape: &Shape) -> Option<Blotch> {
    let angle = rng.range(0.0, TAU);
    let distance = rng.range(0.0, 0.6) * shape.r_mean;
    let blotch = Blotch {
        centre: (cos(angle) * distance, sin(angle) * distance),
        radius: rng.range(0.25, 0.7) * shape.r_mean,
        strength: rng.range(-0.3, 0.6),
    };
    rng.chance(0.45).then_some(blotch)
}

fn random_network(rng: &mut SplitMix, kind: LesionKind, traits: &KindTraits) -> Option<Pattern> {
    let keratosis = kind == LesionKind::Keratosis;
    let pattern = Pattern {
        fissures: keratosis,
        freq: if keratosis {
            rng.range(8.0, 16.0)
        } else {
            rng.range(30.0, 60.0)
        },
        width: if keratosis {
            rng.range(0.08, 0.2)
        } else {
            rng.range(0.15, 0.35)
        },
        strength: rng.range(0.2, 0.6),
        tint: [0.45, 0.38, 0.36],
        seed: rng.noise_seed(),
    };
    rng.chance(traits.network).then_some(pattern)
}

fn random_dots(rng: &mut SplitMix, kind: LesionKind, traits: &KindTraits) -> Option<Pattern> {
    let tint = match kind {
        LesionKind::Vascular => [0.6, 0.25, 0.3],
        // Milia-like cysts: bright dots.
        LesionKind::Keratosis if rng.chance(0.5) => [1.35, 1.35, 1.3],
        _ => [0.35, 0.3, 0.3],
    };
    let pattern = Pattern {
        fissures: false,
        freq: rng.range(35.0, 70.0),
        width: rng.range(0.2, 0.45),
        strength: rng.range(0.4, 0.9),
        tint,
        seed: rng.noise_seed(),
    };
    rng.chance(traits.dots).then_some(pattern)
}

fn random_globules(
    rng: &mut SplitMix,
    kind: LesionKind,
    traits: &KindTraits,
    shape: &Shape,
) -> Vec<Globule> {
    if traits.globules == 0 || !rng.chance(0.5) {
        return Vec::new();
    }
    let count = rng.int(3, traits.globules);
    // Peripheral rims of globules are a classic growth pattern; otherwise scatter them.
    let peripheral = rng.chance(0.3);
    let tint = match kind {
        LesionKind::Vascular => pigment::DARK_RED,
        _ => rng.pick(
            &[pigment::DARK_BROWN, pigment::BLACK, pigment::MID_BROWN],
            pigment::DARK_BROWN,
        ),
    };
    (0..count)
        .map(|_| {
            let theta = rng.range(-PI, PI);
            let rho = if peripheral {
                rng.range(0.7, 0.88)
            } else {
                0.85 * rng.unit().sqrt()
            };
            let r = shape.radius_at(theta) * rho;
            Globule {
                local: (cos(theta) * r, sin(theta) * r),
                radius: rng.range(0.02, 0.06),
                tint,
                strength: rng.range(0.5, 1.0),
            }
        })
        .collect()
}

/// One lesion: outline plus colouring.
struct Lesion {
    shape: Shape,
    look: Look,
}

impl Lesion {
    fn random(rng: &mut SplitMix) -> Self {
        let kind = LesionKind::random(rng);
        let traits = kind.traits();
        let shape = Shape::random(rng, &traits);
        let look = Look::random(rng, kind, &traits, &shape);
        Self { shape, look }
    }

    fn place(&self, anchor: (f32, f32), scale: f32, pixel: f32) -> PlacedLesion<'_> {
        let size = (scale * self.shape.rel_size).max(1e-6);
        let centre = (
            anchor.0 + scale * self.shape.offset.0,
            anchor.1 + scale * self.shape.offset.1,
        );
        // Half a pixel of blend at least, which is plain anti-aliasing for sharp borders.
        let edge = self.look.border_width.max(0.6 * pixel) / (size * self.shape.r_mean);
        let f_max = if self.look.halo > 0.0 {
            (1.0 + edge).max(HALO_REACH)
        } else {
            1.0 + edge
        };
        let reach = size * self.shape.reach(f_max);
        PlacedLesion {
            lesion: self,
            centre,
            size,
            edge,
            reach_sq: reach * reach,
        }
    }
}

/// Field value out to which the inflammatory halo extends.
const HALO_REACH: f32 = 1.7;

/// All lesions of an image; satellites sit relative to the anchor of the first one.
struct LesionSet {
    anchor: (f32, f32),
    lesions: Vec<Lesion>,
}

fn target_fraction(rng: &mut SplitMix, options: &SynthOptions) -> f32 {
    let lo = options.min_lesion_fraction.clamp(0.001, 0.95);
    let hi = options.max_lesion_fraction.clamp(0.001, 0.95);
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    rng.range(lo, hi)
}

fn random_lesions(rng: &mut SplitMix, frame: &Frame, target: f32) -> LesionSet {
    // Dermoscopy centres the lesion, but small lesions wander more.
    let spread = 0.32 - 0.3 * target;
    let anchor = (
        rng.range(-spread, spread) * frame.half.0,
        rng.range(-spread, spread) * frame.half.1,
    );
    let mut lesions = vec![Lesion::random(rng)];
    if rng.chance(0.12) {
        let mut satellite = Lesion::random(rng);
        let rel_size = rng.range(0.3, 0.6);
        let angle = rng.range(0.0, TAU);
        let distance = rng.range(0.9, 1.5) * (1.0 + rel_size);
        satellite.shape.rel_size = rel_size;
        satellite.shape.offset = (cos(angle) * distance, sin(angle) * distance);
        lesions.push(satellite);
    }
    LesionSet { anchor, lesions }
}

/// A lesion at its final position and size.
struct PlacedLesion<'a> {
    lesion: &'a Lesion,
    centre: (f32, f32),
    size: f32,
    /// Half-width of the border blend in field units.
    edge: f32,
    /// Squared distance beyond which the lesion cannot affect a pixel.
    reach_sq: f32,
}

/// What a pixel sees of the nearest lesion.
struct LesionHit<'a> {
    placed: &'a PlacedLesion<'a>,
    f: f32,
    local: (f32, f32),
}

impl PlacedLesion<'_> {
    fn hit(&self, p: (f32, f32)) -> Option<LesionHit<'_>> {
        let dx = p.0 - self.centre.0;
        let dy = p.1 - self.centre.1;
        if dx * dx + dy * dy > self.reach_sq {
            return None;
        }
        let shape = &self.lesion.shape;
        let local = shape.offset_to_local(dx / self.size, dy / self.size);
        Some(LesionHit {
            placed: self,
            f: shape.field(local.0, local.1),
            local,
        })
    }

    /// Normalised image position of a point given in shape coordinates.
    fn to_world(&self, local: (f32, f32)) -> (f32, f32) {
        let (dx, dy) = self.lesion.shape.local_to_offset(local.0, local.1);
        (
            self.centre.0 + dx * self.size,
            self.centre.1 + dy * self.size,
        )
    }
}

/// The lesion with the lowest field value at `p`: overlapping lesions merge into one region
/// whose mask is the union, and the colour comes from whichever lesion is "deeper".
fn nearest_lesion<'a>(placed: &'a [PlacedLesion<'a>], p: (f32, f32)) -> Option<LesionHit<'a>> {
    placed
        .iter()
        .filter_map(|lesion| lesion.hit(p))
        .min_by(|a, b| a.f.total_cmp(&b.f))
}

// ---------------------------------------------------------------------------------------------
// Area calibration
// ---------------------------------------------------------------------------------------------

/// Calibration samples per image side (fewer for tiny images).
const CALIBRATION_GRID: usize = 48;
const CALIBRATION_STEPS: usize = 16;

/// Finds the global lesion scale whose visible area matches `target`, by bisection on a coarse
/// grid. The shape is defined relative to its size, so the area grows (all but
/// monotonically) with scale and bisection converges.
fn calibrate_scale(
    lesions: &LesionSet,
    frame: &Frame,
    vignette: Option<&Vignette>,
    target: f32,
) -> f32 {
    let points = calibration_points(frame, vignette);
    let total = (CALIBRATION_GRID.min(frame.width) * CALIBRATION_GRID.min(frame.height)).max(1);
    let (mut lo, mut hi) = (0.005_f32, 2.5_f32);
    for _ in 0..CALIBRATION_STEPS {
        let mid = 0.5 * (lo + hi);
        let placed: Vec<PlacedLesion<'_>> = lesions
            .lesions
            .iter()
            .map(|lesion| lesion.place_for_mask(lesions.anchor, mid))
            .collect();
        let inside = points
            .iter()
            .filter(|&&p| placed.iter().any(|l| l.hit(p).is_some_and(|h| h.f < 1.0)))
            .count();
        if (inside as f32) < target * total as f32 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl Lesion {
    /// Placement used only to evaluate the mask, with the tightest reach.
    fn place_for_mask(&self, anchor: (f32, f32), scale: f32) -> PlacedLesion<'_> {
        let size = (scale * self.shape.rel_size).max(1e-6);
        let reach = size * self.shape.reach(1.0);
        PlacedLesion {
            lesion: self,
            centre: (
                anchor.0 + scale * self.shape.offset.0,
                anchor.1 + scale * self.shape.offset.1,
            ),
            size,
            edge: 0.0,
            reach_sq: reach * reach,
        }
    }
}

/// Grid points visible through the vignette (hidden ones can never be lesion, but still count
/// in the denominator so the fraction is of the whole image).
fn calibration_points(frame: &Frame, vignette: Option<&Vignette>) -> Vec<(f32, f32)> {
    let gx = CALIBRATION_GRID.min(frame.width).max(1);
    let gy = CALIBRATION_GRID.min(frame.height).max(1);
    let mut points = Vec::with_capacity(gx * gy);
    for j in 0..gy {
        for i in 0..gx {
            let px = (i as f32 + 0.5) * frame.width as f32 / gx as f32;
            let py = (j as f32 + 0.5) * frame.height as f32 / gy as f32;
            let p = frame.to_norm(px, py);
            if vignette.is_none_or(|v| v.visible(p)) {
                points.push(p);
            }
        }
    }
    points
}

// ---------------------------------------------------------------------------------------------
// Base pass: skin, lesions, lighting, mask
// ---------------------------------------------------------------------------------------------

fn paint_base(
    canvas: &mut Canvas,
    frame: &Frame,
    skin: &Skin,
    placed: &[PlacedLesion<'_>],
    vignette: Option<&Vignette>,
) {
    let redness = CoarseField::new(frame, |p| skin.redness(p));
    let lighting = CoarseField::new(frame, |p| skin.lighting.at(p));
    for y in 0..frame.height {
        for x in 0..frame.width {
            let i = y * frame.width + x;
            let p = frame.point(x, y);
            let mut colour = skin.colour(p, redness.at(x, y));
            if let Some(hit) = nearest_lesion(placed, p) {
                let edge = hit.placed.edge;
                let alpha = 1.0 - smoothstep(1.0 - edge, 1.0 + edge, hit.f);
                let look = &hit.placed.lesion.look;
                if look.halo > 0.0 {
                    let halo = look.halo * smoothstep(HALO_REACH, 1.0, hit.f) * (1.0 - alpha);
                    colour = mul3(colour, [1.0, 1.0 - 0.16 * halo, 1.0 - 0.12 * halo]);
                }
                if alpha > 0.0 {
                    let tr = look.transmittance(p, hit.local, hit.f);
                    colour = mul3(colour, lerp3([1.0; 3], tr, alpha));
                }
                let visible = vignette.is_none_or(|v| v.visible(p));
                // The mask is the 50% contour of the blend: f < 1 exactly.
                canvas.mask[i] = u8::from(hit.f < 1.0 && visible);
                canvas.lesion_alpha[i] = alpha;
            }
            canvas.rgb[i] = scale3(colour, lighting.at(x, y));
        }
    }
}

fn paint_globules(canvas: &mut Canvas, frame: &Frame, placed: &PlacedLesion<'_>) {
    let look = &placed.lesion.look;
    for globule in &look.globules {
        let centre = placed.to_world(globule.local);
        let radius = (globule.radius * placed.size).max(0.8 * frame.pixel);
        let (xs, ys) = frame.pixel_box(centre, radius);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - centre.0, p.1 - centre.1);
                let d = (dx * dx + dy * dy).sqrt();
                // Soft-edged blob; only where the lesion is, so globules never leak onto skin.
                let k = smoothstep(radius, 0.0, d)
                    * globule.strength
                    * look.contrast
                    * canvas.lesion_alpha[i];
                if k > 0.0 {
                    canvas.rgb[i] = mul3(canvas.rgb[i], lerp3([1.0; 3], globule.tint, k));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hairs
// ---------------------------------------------------------------------------------------------

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

fn random_hair_count(rng: &mut SplitMix) -> u32 {
    let u = rng.unit();
    if u < 0.4 {
        0
    } else if u < 0.72 {
        rng.int(1, 5)
    } else if u < 0.9 {
        rng.int(6, 20)
    } else {
        rng.int(21, 70)
    }
}

fn random_hairs(rng: &mut SplitMix, frame: &Frame) -> Vec<Hair> {
    let count = random_hair_count(rng);
    // Hair grows in a flow: directions cluster around one angle, more or less tightly.
    let flow = rng.range(0.0, TAU);
    let spread = rng.range(0.15, 1.4);
    let base_colour = if rng.chance(0.85) {
        rng.pick(&HAIR_COLOURS[..3], HAIR_COLOURS[0])
    } else {
        rng.pick(&HAIR_COLOURS[3..], HAIR_COLOURS[3])
    };
    let base_width = rng.range(0.0016, 0.005);
    (0..count)
        .map(|_| {
            let start = (
                rng.range(-1.2, 1.2) * frame.half.0,
                rng.range(-1.2, 1.2) * frame.half.1,
            );
            let angle = flow + spread * rng.normal();
            let length = rng.range(0.25, 1.5);
            let points = hair_path(rng, frame, start, angle, length);
            let half_width = (base_width * rng.range(0.6, 1.5) * frame.unit).max(0.35);
            Hair {
                points,
                half_width,
                colour: scale3(base_colour, rng.range(0.8, 1.2)),
                opacity: rng.range(0.7, 1.0),
            }
        })
        .collect()
}

/// A gently curving path whose curvature itself drifts, like a real hair lying on skin.
fn hair_path(
    rng: &mut SplitMix,
    frame: &Frame,
    start: (f32, f32),
    angle: f32,
    length: f32,
) -> Vec<(f32, f32)> {
    let step = 1.5 * frame.pixel;
    let steps = ((length / step) as usize).clamp(2, 4000);
    let mut curvature = 0.8 * rng.normal();
    let drift = rng.range(0.3, 1.5);
    let (mut p, mut angle) = (start, angle);
    let mut points = Vec::with_capacity(steps + 1);
    points.push(frame.to_pixel(p));
    for _ in 0..steps {
        angle += curvature * step;
        curvature += drift * rng.normal() * step.sqrt();
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

fn paint_hairs(canvas: &mut Canvas, frame: &Frame, rng: &mut SplitMix) {
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

// ---------------------------------------------------------------------------------------------
// Rulers, bubbles, glare
// ---------------------------------------------------------------------------------------------

fn paint_artifacts(canvas: &mut Canvas, frame: &Frame, rng: &mut SplitMix) {
    // Draw every parameter whether or not it is used, so each artifact's look is independent
    // of whether the others appear.
    let ruler = Ruler::random(rng, frame);
    let bubbles = random_bubbles(rng, frame);
    let glare = Glare::random(rng);
    if rng.chance(0.12) {
        ruler.paint(canvas, frame);
    }
    if rng.chance(0.15) {
        for bubble in &bubbles {
            bubble.paint(canvas, frame);
        }
    }
    if rng.chance(0.12) {
        glare.paint(canvas, frame);
    }
}

/// A millimetre scale along one image edge: a translucent strip with tick marks.
struct Ruler {
    origin: (f32, f32),
    dir: (f32, f32),
    /// Unit normal pointing into the image.
    normal: (f32, f32),
    band: f32,
    band_colour: [f32; 3],
    band_opacity: f32,
    spacing: f32,
    tick_colour: [f32; 3],
}

impl Ruler {
    fn random(rng: &mut SplitMix, frame: &Frame) -> Self {
        let side = rng.int(0, 3);
        let tilt = rng.range(-0.06, 0.06);
        let inset = rng.range(-0.02, 0.03);
        let (hw, hh) = frame.half;
        // Base direction along the edge and inward normal for each side.
        let (origin, base_angle) = match side {
            0 => ((-hw, -hh + inset), 0.0),
            1 => ((hw, hh - inset), PI),
            2 => ((-hw + inset, hh), -FRAC_PI_2),
            _ => ((hw - inset, -hh), FRAC_PI_2),
        };
        let angle = base_angle + tilt;
        let dir = (cos(angle), sin(angle));
        Self {
            origin,
            dir,
            normal: (-dir.1, dir.0),
            band: rng.range(0.05, 0.11),
            band_colour: rng.pick(
                &[
                    [236.0, 236.0, 230.0],
                    [240.0, 226.0, 160.0],
                    [205.0, 215.0, 225.0],
                ],
                [236.0, 236.0, 230.0],
            ),
            band_opacity: rng.range(0.15, 0.85),
            spacing: rng.range(0.015, 0.035),
            tick_colour: rng.pick(
                &[[20.0, 20.0, 22.0], [40.0, 40.0, 90.0]],
                [20.0, 20.0, 22.0],
            ),
        }
    }

    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let half_tick = 0.55 * frame.pixel;
        for y in 0..frame.height {
            for x in 0..frame.width {
                let p = frame.point(x, y);
                let (rx, ry) = (p.0 - self.origin.0, p.1 - self.origin.1);
                let s = rx * self.normal.0 + ry * self.normal.1;
                if s > self.band + frame.pixel {
                    continue;
                }
                let t = rx * self.dir.0 + ry * self.dir.1;
                let i = y * frame.width + x;
                let inside = smoothstep(self.band + frame.pixel, self.band - frame.pixel, s);
                let mut colour = lerp3(canvas.rgb[i], self.band_colour, self.band_opacity * inside);
                let tick = self.tick_coverage(t, s, half_tick, frame.pixel);
                colour = lerp3(colour, self.tick_colour, tick);
                canvas.rgb[i] = colour;
            }
        }
    }

    /// Ticks every `spacing`, longer every 5th and 10th, hanging from the inner band edge.
    fn tick_coverage(&self, t: f32, s: f32, half: f32, pixel: f32) -> f32 {
        let pos = t / self.spacing;
        let nearest = pos.round();
        let distance = (pos - nearest).abs() * self.spacing;
        let index = nearest as i64;
        let length = if index % 10 == 0 {
            0.8
        } else if index % 5 == 0 {
            0.6
        } else {
            0.38
        } * self.band;
        let across = smoothstep(half + pixel * 0.5, half - pixel * 0.5, distance);
        let along = smoothstep(self.band - length - pixel, self.band - length, s)
            * smoothstep(self.band + pixel, self.band, s);
        across * along
    }
}

/// An air bubble in the immersion gel: dark rim, brighter inside, specular highlight.
struct Bubble {
    centre: (f32, f32),
    radius: f32,
}

fn random_bubbles(rng: &mut SplitMix, frame: &Frame) -> Vec<Bubble> {
    let cluster = (
        rng.range(-0.8, 0.8) * frame.half.0,
        rng.range(-0.8, 0.8) * frame.half.1,
    );
    let count = rng.int(1, 12);
    let spread = rng.range(0.04, 0.2);
    (0..count)
        .map(|_| Bubble {
            centre: (
                cluster.0 + spread * rng.normal(),
                cluster.1 + spread * rng.normal(),
            ),
            radius: rng.range(0.008, 0.05),
        })
        .collect()
}

impl Bubble {
    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let r = self.radius.max(2.0 * frame.pixel);
        let rim = 1.2 * frame.pixel;
        let highlight = (self.centre.0 - 0.38 * r, self.centre.1 - 0.38 * r);
        let (xs, ys) = frame.pixel_box(self.centre, r + rim);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
                let d = (dx * dx + dy * dy).sqrt();
                if d > r + rim {
                    continue;
                }
                let inside = smoothstep(r, r - frame.pixel, d);
                let ring = smoothstep(rim, 0.0, (d - r + 0.5 * rim).abs());
                let (hx, hy) = (p.0 - highlight.0, p.1 - highlight.1);
                let hd = (hx * hx + hy * hy).sqrt();
                let spot = smoothstep(0.24 * r + frame.pixel, 0.08 * r, hd);
                let mut colour = scale3(canvas.rgb[i], 1.0 + 0.08 * inside);
                colour = scale3(colour, 1.0 - 0.45 * ring);
                colour = lerp3(colour, [252.0, 252.0, 250.0], 0.9 * spot);
                canvas.rgb[i] = colour;
            }
        }
    }
}

/// A soft specular reflection off the gel or glass plate.
struct Glare {
    centre: (f32, f32),
    radii: (f32, f32),
    cos: f32,
    sin: f32,
    strength: f32,
}

impl Glare {
    fn random(rng: &mut SplitMix) -> Self {
        let angle = rng.range(0.0, PI);
        let long = rng.range(0.05, 0.3);
        Self {
            centre: (rng.range(-0.4, 0.4), rng.range(-0.4, 0.4)),
            radii: (long, long * rng.range(0.15, 0.8)),
            cos: cos(angle),
            sin: sin(angle),
            strength: rng.range(0.3, 0.8),
        }
    }

    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        let (xs, ys) = frame.pixel_box(self.centre, self.radii.0);
        for y in ys {
            for x in xs.clone() {
                let i = y * frame.width + x;
                let p = frame.point(x, y);
                let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
                let u = (dx * self.cos + dy * self.sin) / self.radii.0;
                let v = (-dx * self.sin + dy * self.cos) / self.radii.1;
                let g = (1.0 - (u * u + v * v)).max(0.0);
                let k = self.strength * g * g;
                canvas.rgb[i] = lerp3(canvas.rgb[i], [250.0, 250.0, 248.0], k);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vignette and sensor noise
// ---------------------------------------------------------------------------------------------

/// The black ring of a contact dermatoscope's round field of view.
struct Vignette {
    centre: (f32, f32),
    radius: f32,
    softness: f32,
    inner_falloff: f32,
    outside: [f32; 3],
}

impl Vignette {
    fn random(rng: &mut SplitMix, frame: &Frame, target: f32) -> Option<Self> {
        let present = rng.chance(0.4);
        let (hw, hh) = frame.half;
        let diagonal = (hw * hw + hh * hh).sqrt();
        // Leave room for the lesion area target plus skin around it.
        let needed = ((target + 0.2) * 4.0 * hw * hh / PI).sqrt();
        let lo = (0.92 * hw.min(hh)).max(needed);
        let hi = 0.97 * diagonal;
        let radius = lerp(lo, hi, rng.unit());
        let grey = rng.range(3.0, 22.0);
        let vignette = Self {
            centre: (rng.range(-0.04, 0.04), rng.range(-0.04, 0.04)),
            radius,
            softness: rng.range(0.6, 3.0) * frame.pixel,
            inner_falloff: rng.range(0.0, 0.4),
            outside: [
                grey,
                grey * rng.range(0.9, 1.05),
                grey * rng.range(0.9, 1.15),
            ],
        };
        (present && lo < hi).then_some(vignette)
    }

    fn distance(&self, p: (f32, f32)) -> f32 {
        let (dx, dy) = (p.0 - self.centre.0, p.1 - self.centre.1);
        (dx * dx + dy * dy).sqrt()
    }

    /// Whether `p` is inside the field of view (the 50% contour of the ring's blend).
    fn visible(&self, p: (f32, f32)) -> bool {
        self.distance(p) < self.radius
    }

    fn paint(&self, canvas: &mut Canvas, frame: &Frame) {
        for y in 0..frame.height {
            for x in 0..frame.width {
                let i = y * frame.width + x;
                let d = self.distance(frame.point(x, y));
                let dark = smoothstep(0.75 * self.radius, self.radius, d) * self.inner_falloff;
                let cover = smoothstep(self.radius - self.softness, self.radius + self.softness, d);
                let lit = scale3(canvas.rgb[i], 1.0 - dark);
                canvas.rgb[i] = lerp3(lit, self.outside, cover);
            }
        }
    }
}

/// Per-pixel sensor noise: a luminance part and a weaker chroma part.
#[derive(Clone, Copy)]
struct SensorNoise {
    luma: f32,
    chroma: f32,
    seed: u32,
}

impl SensorNoise {
    const NONE: Self = Self {
        luma: 0.0,
        chroma: 0.0,
        seed: 0,
    };

    fn random(rng: &mut SplitMix) -> Self {
        let luma = rng.range(1.0, 5.0);
        Self {
            luma,
            chroma: luma * rng.range(0.2, 0.6),
            seed: rng.noise_seed(),
        }
    }

    fn at(&self, x: i32, y: i32) -> [f32; 3] {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(width: u32, height: u32) -> SynthOptions {
        SynthOptions::with_size(width, height)
    }

    #[test]
    fn same_seed_gives_identical_bytes() {
        let options = sized(96, 80);
        for seed in [0, 1, 42, u64::MAX] {
            let a = generate(seed, &options);
            let b = generate(seed, &options);
            assert_eq!(a, b, "seed {seed}");
        }
    }

    #[test]
    fn different_seeds_differ() {
        let options = sized(64, 64);
        let a = generate(1, &options);
        let b = generate(2, &options);
        assert_ne!(a.rgba, b.rgba);
        assert_ne!(a.mask, b.mask);
    }

    #[test]
    fn buffers_have_the_documented_layout() {
        let sample = generate(7, &sized(40, 30));
        assert_eq!((sample.width, sample.height), (40, 30));
        assert_eq!(sample.rgba.len(), 40 * 30 * 4);
        assert_eq!(sample.mask.len(), 40 * 30);
        assert!(sample.rgba.chunks(4).all(|px| px[3] == 255));
        assert!(sample.mask.iter().all(|&m| m <= 1));
    }

    #[test]
    fn lesion_fraction_is_the_mask_mean() {
        for seed in 0..20 {
            let sample = generate(seed, &sized(128, 128));
            let ones = sample.mask.iter().filter(|&&m| m == 1).count();
            let mean = ones as f32 / sample.mask.len() as f32;
            assert!((sample.lesion_fraction - mean).abs() < 1e-6, "seed {seed}");
        }
    }

    #[test]
    fn fractions_cover_the_range() {
        let options = sized(128, 128);
        let fractions: Vec<f32> = (0..200)
            .map(|seed| generate(seed, &options).lesion_fraction)
            .collect();
        for (seed, &f) in fractions.iter().enumerate() {
            assert!((0.02..=0.65).contains(&f), "seed {seed}: fraction {f}");
        }
        let small = fractions.iter().filter(|&&f| f < 0.10).count();
        let large = fractions.iter().filter(|&&f| f > 0.40).count();
        assert!(small >= 10, "only {small} small lesions");
        assert!(large >= 40, "only {large} large lesions");
    }

    #[test]
    fn hairs_and_artifacts_never_touch_the_mask() {
        let with = sized(128, 128);
        let without = SynthOptions {
            hairs: false,
            artifacts: false,
            ..with.clone()
        };
        let mut images_differ = 0;
        for seed in 0..40 {
            let a = generate(seed, &with);
            let b = generate(seed, &without);
            assert_eq!(a.mask, b.mask, "seed {seed}");
            if a.rgba != b.rgba {
                images_differ += 1;
            }
        }
        // Proves hairs/artifacts were actually drawn over some of those masks.
        assert!(
            images_differ >= 20,
            "only {images_differ} images had hairs or artifacts"
        );
    }

    #[test]
    fn hairs_darken_lesion_pixels_without_masking_them() {
        let with = sized(128, 128);
        let without = SynthOptions {
            hairs: false,
            ..with.clone()
        };
        let found = (0..60).any(|seed| {
            let a = generate(seed, &with);
            let b = generate(seed, &without);
            // Some pixel inside the lesion changed because a hair crosses it.
            a.mask
                .iter()
                .enumerate()
                .any(|(i, &m)| m == 1 && a.rgba[i * 4..i * 4 + 3] != b.rgba[i * 4..i * 4 + 3])
        });
        assert!(found, "no hair crossed a lesion in 60 seeds");
    }

    #[test]
    fn odd_and_tiny_sizes_work() {
        for (w, h) in [(301, 177), (177, 301), (16, 16), (1, 1), (3, 50), (0, 10)] {
            let sample = generate(5, &sized(w, h));
            assert_eq!(sample.rgba.len(), (w * h * 4) as usize);
            assert_eq!(sample.mask.len(), (w * h) as usize);
            assert!((0.0..=1.0).contains(&sample.lesion_fraction));
        }
        let wide = generate(11, &sized(301, 177));
        assert!(wide.lesion_fraction > 0.02);
    }

    #[test]
    fn options_narrow_the_fraction_range() {
        let options = SynthOptions {
            min_lesion_fraction: 0.2,
            max_lesion_fraction: 0.25,
            ..sized(96, 96)
        };
        for seed in 0..20 {
            let f = generate(seed, &options).lesion_fraction;
            assert!((0.15..=0.30).contains(&f), "seed {seed}: fraction {f}");
        }
    }

    #[test]
    fn polynomial_trig_is_accurate() {
        for i in -100..=100 {
            let x = i as f32 * 0.173;
            assert!((sin(x) - x.sin()).abs() < 1e-4, "sin({x})");
            assert!((cos(x) - x.cos()).abs() < 1e-4, "cos({x})");
            let (y, z) = (x.sin() * 3.0, (x * 1.7).cos());
            assert!((atan2(y, z) - y.atan2(z)).abs() < 1e-4, "atan2({y}, {z})");
        }
    }
}
