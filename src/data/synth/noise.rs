//! Lattice hashes and the procedural noises built on them: gradient noise, its fractal sum and
//! the Voronoi cell walls that draw pigment networks.

use std::f32::consts::FRAC_1_SQRT_2;

use super::math::lerp;

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
pub(super) fn floor_i32(x: f32) -> i32 {
    let i = x as i32;
    if (i as f32) > x { i - 1 } else { i }
}

/// Uniform in `[0, 1)` from a lattice hash, for per-pixel noise.
pub(super) fn hash_unit(x: i32, y: i32, seed: u32) -> f32 {
    (hash2(x, y, seed) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// 2-D gradient noise in about `[-1, 1]`, zero at lattice points, one feature per unit.
pub(super) fn gradient_noise(x: f32, y: f32, seed: u32) -> f32 {
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
pub(super) fn fbm(x: f32, y: f32, seed: u32, octaves: u32) -> f32 {
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
pub(super) fn cell_wall_distance(x: f32, y: f32, seed: u32) -> f32 {
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
