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
//! Output depends only on the seed and the options: every layer draws from its own stream of
//! the crate's SplitMix64 [`Rng`] (so switching hairs off leaves everything else unchanged),
//! and the arithmetic is limited to IEEE-exact operations (`+ - * /`, `sqrt`, `floor`, casts)
//! with local polynomials for sine and arctangent, so no platform libm can change a pixel:
//! native x86-64 and wasm32 produce the same bytes.

mod artifacts;
mod calibrate;
mod camera;
mod canvas;
mod hairs;
mod lesion;
mod look;
mod math;
mod noise;
mod paint;
mod shape;
mod skin;
#[cfg(test)]
mod tests;

use crate::rng::Rng;
use artifacts::paint_artifacts;
use calibrate::calibrate_scale;
use camera::Vignette;
use canvas::SensorNoise;
use canvas::{Canvas, Frame};
use hairs::paint_hairs;
use lesion::{PlacedLesion, random_lesions, target_fraction};
use paint::{paint_base, paint_globules};
use skin::Skin;

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
    let skin = Skin::random(&mut Stream::Skin.rng(seed));
    let mut lesion_rng = Stream::Lesion.rng(seed);
    let target = target_fraction(&mut lesion_rng, options);
    let lesions = random_lesions(&mut lesion_rng, &frame, target);
    let vignette = if options.vignette {
        Vignette::random(&mut Stream::Vignette.rng(seed), &frame, target)
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
        paint_artifacts(&mut canvas, &frame, &mut Stream::Artifacts.rng(seed));
    }
    if options.hairs {
        paint_hairs(&mut canvas, &frame, &mut Stream::Hairs.rng(seed));
    }
    if let Some(vignette) = &vignette {
        vignette.paint(&mut canvas, &frame);
    }
    // Dermatoscope optics are never perfectly sharp; the blur is symmetric, so the mask's 50%
    // contour stays where it was.
    let softness = Stream::Optics.rng(seed).uniform_f32(0.0, 1.0);
    canvas.soften(softness);
    let noise = if options.sensor_noise {
        SensorNoise::random(&mut Stream::Sensor.rng(seed))
    } else {
        SensorNoise::NONE
    };
    canvas.finish(noise)
}

/// Independent random streams, one per layer, so that toggling one layer (hairs, artifacts)
/// cannot shift the random numbers of another. The numbers seed the streams, so they are part
/// of the data: renumbering one changes every image.
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

impl Stream {
    /// The layer's generator for `seed`: the stream number is mixed into the seed, and one
    /// output is burnt so that neighbouring seeds start from unrelated states.
    fn rng(self, seed: u64) -> Rng {
        let mut rng = Rng::new(seed ^ (self as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }
}
