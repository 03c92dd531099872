//! How a lesion is coloured inside its outline: the lesion kinds with their palettes and habits,
//! and the variegation, blotches, networks, dots and globules drawn from them.

use std::f32::consts::{PI, TAU};

use super::math::{cos, lerp, lerp3, mul3, sin, smoothstep};
use super::noise::{cell_wall_distance, fbm, floor_i32, gradient_noise};
use super::shape::Shape;
use crate::rng::Rng;

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
pub(super) enum LesionKind {
    Naevus,
    DarkNaevus,
    Melanoma,
    BlueNaevus,
    Vascular,
    Keratosis,
    Faint,
}

/// Per-kind ranges from which a lesion's look is drawn.
pub(super) struct KindTraits {
    palettes: &'static [&'static [[f32; 3]]],
    pub(super) irregularity: (f32, f32),
    pub(super) warp: (f32, f32),
    soft_border: f32,
    contrast: (f32, f32),
    network: f32,
    dots: f32,
    globules: u32,
    variegation: (f32, f32),
}

impl LesionKind {
    pub(super) fn random(rng: &mut Rng) -> Self {
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
        let mut u = rng.next_f32() * total;
        for (kind, weight) in WEIGHTS {
            if u < weight {
                return kind;
            }
            u -= weight;
        }
        LesionKind::Naevus
    }

    pub(super) fn traits(self) -> KindTraits {
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
pub(super) struct Globule {
    pub(super) local: (f32, f32),
    /// Radius relative to the lesion size.
    pub(super) radius: f32,
    pub(super) tint: [f32; 3],
    pub(super) strength: f32,
}

/// How a lesion is coloured inside its outline.
pub(super) struct Look {
    palette: Vec<[f32; 3]>,
    pub(super) contrast: f32,
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
    pub(super) globules: Vec<Globule>,
    /// Half-width of the border blend in normalised units (0 = as sharp as anti-aliasing).
    pub(super) border_width: f32,
    /// Strength of the reddish inflammatory halo around the lesion (not part of the mask).
    pub(super) halo: f32,
    seed: u32,
}

impl Look {
    pub(super) fn random(
        rng: &mut Rng,
        kind: LesionKind,
        traits: &KindTraits,
        shape: &Shape,
    ) -> Self {
        let mut palette = rng
            .choose(traits.palettes)
            .copied()
            .unwrap_or(&[pigment::TAN])
            .to_vec();
        if rng.chance_f32(0.2) {
            // A light core in a dark rim happens too (regression, targetoid naevi).
            palette.reverse();
        }
        // Normalised half-widths: about 0.6 to 1.5 px (crisp) or 1.5 to 10 px (fading) at 256 px.
        let border_width = if rng.chance_f32(traits.soft_border) {
            rng.uniform_f32(0.006, 0.04)
        } else {
            rng.uniform_f32(0.0, 0.006)
        };
        Self {
            palette,
            contrast: rng.uniform_f32(traits.contrast.0, traits.contrast.1),
            // Pigment thins towards the outline, but not so far that the outline itself (the
            // mask's 50% blend contour) stops being visible.
            edge_density: if border_width > 0.006 {
                rng.uniform_f32(0.6, 0.95)
            } else {
                rng.uniform_f32(0.8, 1.0)
            },
            core: rng.uniform_f32(0.3, 0.85),
            variegation_freq: rng.uniform_f32(0.8, 2.5),
            variegation_amp: rng.uniform_f32(traits.variegation.0, traits.variegation.1),
            mottle_freq: rng.uniform_f32(4.0, 12.0),
            mottle_amp: rng.uniform_f32(0.05, 0.35),
            centre_bias: rng.uniform_f32(-0.2, 0.6),
            sharpness: rng.uniform_f32(1.0, 2.0),
            blotch: random_blotch(rng, shape),
            network: random_network(rng, kind, traits),
            dots: random_dots(rng, kind, traits),
            globules: random_globules(rng, kind, traits, shape),
            border_width,
            halo: if rng.chance_f32(0.15) {
                rng.uniform_f32(0.3, 1.0)
            } else {
                0.0
            },
            seed: rng.next_u32(),
        }
    }

    /// Per-channel factor on the skin colour at a point inside (or near) the lesion.
    pub(super) fn transmittance(&self, p: (f32, f32), local: (f32, f32), f: f32) -> [f32; 3] {
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

fn random_blotch(rng: &mut Rng, shape: &Shape) -> Option<Blotch> {
    let angle = rng.uniform_f32(0.0, TAU);
    let distance = rng.uniform_f32(0.0, 0.6) * shape.r_mean;
    let blotch = Blotch {
        centre: (cos(angle) * distance, sin(angle) * distance),
        radius: rng.uniform_f32(0.25, 0.7) * shape.r_mean,
        strength: rng.uniform_f32(-0.3, 0.6),
    };
    rng.chance_f32(0.45).then_some(blotch)
}

fn random_network(rng: &mut Rng, kind: LesionKind, traits: &KindTraits) -> Option<Pattern> {
    let keratosis = kind == LesionKind::Keratosis;
    let pattern = Pattern {
        fissures: keratosis,
        freq: if keratosis {
            rng.uniform_f32(8.0, 16.0)
        } else {
            rng.uniform_f32(30.0, 60.0)
        },
        width: if keratosis {
            rng.uniform_f32(0.08, 0.2)
        } else {
            rng.uniform_f32(0.15, 0.35)
        },
        strength: rng.uniform_f32(0.2, 0.6),
        tint: [0.45, 0.38, 0.36],
        seed: rng.next_u32(),
    };
    rng.chance_f32(traits.network).then_some(pattern)
}

fn random_dots(rng: &mut Rng, kind: LesionKind, traits: &KindTraits) -> Option<Pattern> {
    let tint = match kind {
        LesionKind::Vascular => [0.6, 0.25, 0.3],
        // Milia-like cysts: bright dots.
        LesionKind::Keratosis if rng.chance_f32(0.5) => [1.35, 1.35, 1.3],
        _ => [0.35, 0.3, 0.3],
    };
    let pattern = Pattern {
        fissures: false,
        freq: rng.uniform_f32(35.0, 70.0),
        width: rng.uniform_f32(0.2, 0.45),
        strength: rng.uniform_f32(0.4, 0.9),
        tint,
        seed: rng.next_u32(),
    };
    rng.chance_f32(traits.dots).then_some(pattern)
}

fn random_globules(
    rng: &mut Rng,
    kind: LesionKind,
    traits: &KindTraits,
    shape: &Shape,
) -> Vec<Globule> {
    if traits.globules == 0 || !rng.chance_f32(0.5) {
        return Vec::new();
    }
    let count = rng.between(3, traits.globules);
    // Peripheral rims of globules are a classic growth pattern; otherwise scatter them.
    let peripheral = rng.chance_f32(0.3);
    let tint = match kind {
        LesionKind::Vascular => pigment::DARK_RED,
        _ => rng
            .choose(&[pigment::DARK_BROWN, pigment::BLACK, pigment::MID_BROWN])
            .copied()
            .unwrap_or(pigment::DARK_BROWN),
    };
    (0..count)
        .map(|_| {
            let theta = rng.uniform_f32(-PI, PI);
            let rho = if peripheral {
                rng.uniform_f32(0.7, 0.88)
            } else {
                0.85 * rng.next_f32().sqrt()
            };
            let r = shape.radius_at(theta) * rho;
            Globule {
                local: (cos(theta) * r, sin(theta) * r),
                radius: rng.uniform_f32(0.02, 0.06),
                tint,
                strength: rng.uniform_f32(0.5, 1.0),
            }
        })
        .collect()
}
