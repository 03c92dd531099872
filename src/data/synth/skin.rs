//! The background: skin tone, mottling, redness, pores, furrows and the dermatoscope's lighting.

use std::f32::consts::{PI, TAU};

use super::math::{cos, lerp3, mul3, scale3, sin, smoothstep};
use super::noise::{fbm, gradient_noise};
use crate::rng::Rng;

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
    fn random(rng: &mut Rng, angle: f32) -> Self {
        Self {
            cos: cos(angle),
            sin: sin(angle),
            freq: rng.uniform_f32(8.0, 18.0),
            depth: rng.uniform_f32(0.005, 0.045),
            seed: rng.next_u32(),
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
pub(super) struct Lighting {
    tilt: (f32, f32),
    falloff: f32,
    unevenness: f32,
    freq: f32,
    seed: u32,
}

impl Lighting {
    fn random(rng: &mut Rng) -> Self {
        let angle = rng.uniform_f32(0.0, TAU);
        let tilt = rng.uniform_f32(0.0, 0.22);
        Self {
            tilt: (cos(angle) * tilt, sin(angle) * tilt),
            falloff: rng.uniform_f32(0.0, 0.35),
            unevenness: rng.uniform_f32(0.0, 0.08),
            freq: rng.uniform_f32(0.8, 2.0),
            seed: rng.next_u32(),
        }
    }

    pub(super) fn at(&self, p: (f32, f32)) -> f32 {
        let tilt = self.tilt.0 * p.0 + self.tilt.1 * p.1;
        let radial = -self.falloff * (p.0 * p.0 + p.1 * p.1);
        let slow = self.unevenness * fbm(p.0 * self.freq, p.1 * self.freq, self.seed, 2);
        (1.0 + tilt + radial + slow).max(0.35)
    }
}

/// Everything that makes the background look like skin.
pub(super) struct Skin {
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
    pub(super) lighting: Lighting,
}

impl Skin {
    pub(super) fn random(rng: &mut Rng) -> Self {
        let tone = random_skin_tone(rng);
        let furrow_angle = rng.uniform_f32(0.0, PI);
        let crossing = furrow_angle + rng.uniform_f32(0.9, 2.2);
        Self {
            tone,
            mottle_freq: rng.uniform_f32(3.0, 8.0),
            mottle_amp: rng.uniform_f32(0.02, 0.07),
            mottle_seed: rng.next_u32(),
            redness_freq: rng.uniform_f32(1.5, 5.0),
            redness_amp: rng.uniform_f32(0.0, 0.10),
            redness_seed: rng.next_u32(),
            grain_freq: rng.uniform_f32(70.0, 130.0),
            grain_amp: rng.uniform_f32(0.01, 0.035),
            grain_seed: rng.next_u32(),
            pore_freq: rng.uniform_f32(25.0, 45.0),
            pore_amp: rng.uniform_f32(0.0, 0.08),
            pore_seed: rng.next_u32(),
            furrows: [
                Furrows::random(rng, furrow_angle),
                Furrows::random(rng, crossing),
            ],
            lighting: Lighting::random(rng),
        }
    }

    /// Erythema in `[0, redness_amp]`: patches where green and blue drop while red holds.
    pub(super) fn redness(&self, p: (f32, f32)) -> f32 {
        let f = self.redness_freq;
        self.redness_amp * (0.5 + 0.5 * fbm(p.0 * f, p.1 * f, self.redness_seed, 2))
    }

    /// Skin colour at `p` before lighting, given the (slowly varying) redness there.
    pub(super) fn colour(&self, p: (f32, f32), redness: f32) -> [f32; 3] {
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

fn random_skin_tone(rng: &mut Rng) -> [f32; 3] {
    // Slightly favour lighter skin, as in public dermoscopy archives, but keep every type common.
    let u = rng.next_f32();
    let t = (0.7 * u + 0.3 * u * u) * (SKIN_TONES.len() - 1) as f32;
    let index = (t.floor() as usize).min(SKIN_TONES.len() - 2);
    let base = lerp3(SKIN_TONES[index], SKIN_TONES[index + 1], t - index as f32);
    let brightness = rng.uniform_f32(0.9, 1.06);
    // White balance of the camera: real archives range from pink to yellowish casts.
    let cast = [
        1.0 + 0.03 * rng.normal_f32(),
        1.0 + 0.025 * rng.normal_f32(),
        1.0 + 0.04 * rng.normal_f32(),
    ];
    scale3(mul3(base, cast), brightness)
}
