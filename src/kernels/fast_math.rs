//! Branch-free `f32` erf and exp for the CPU kernels. libm's are scalar calls with branches,
//! so an elementwise loop over them never vectorises: exact GELU spent a fifth of a wasm
//! inference in `erff`. These are straight-line polynomials that the compiler turns into
//! SIMD (wasm `simd128` in the browser), accurate to a few units in the last place (the tests
//! below hold them to it against f64).

/// `e^x`, relative error below 2e-7 (Cephes' `expf`: range reduction by ln 2, then a degree-6
/// polynomial). Inputs are clamped to where `f32` has a normal result.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    let n = (x * core::f32::consts::LOG2_E).round_ties_even();
    // ln 2 in two parts, so that `x − n·ln 2` is exact.
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // 2ⁿ built from its exponent bits (n is in [−126, 128] after the clamp).
    e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `erf(x)`, absolute error below 5e-7 (a few units in the last place of values near 1): a
/// rational fit on [−4, 4] (the one Eigen and XLA use for `f32`); beyond that `erf` is ±1 to
/// `f32` precision.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 + -2.101_024e-6;
    let p = p * x2 + -5.692_506_4e-5;
    let p = p * x2 + -7.349_906_3e-4;
    let p = p * x2 + -2.954_6e-3;
    let p = p * x2 + -1.609_603_3e-2;
    let q = -1.456_607_2e-5;
    let q = q * x2 + -2.133_740_6e-4;
    let q = q * x2 + -1.682_827e-3;
    let q = q * x2 + -7.373_329e-3;
    let q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// Exact (erf) GELU: `x·Φ(x)`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// The derivative of exact GELU: `Φ(x) + x·φ(x)`.
#[inline(always)]
pub fn gelu_slope(x: f32) -> f32 {
    // 1/√(2π)
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2));
    cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count + 1` evenly spaced points of [lo, hi].
    fn grid(lo: f32, hi: f32, count: usize) -> impl Iterator<Item = f32> {
        (0..=count).map(move |i| lo + (hi - lo) * i as f32 / count as f32)
    }

    #[test]
    fn exp_is_accurate_to_2e7_relative() {
        let worst = grid(-87.0, 88.0, 2_000_000)
            .map(|x| {
                let exact = (x as f64).exp();
                ((exp(x) as f64 - exact) / exact).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 2e-7, "exp: worst relative error {worst}");
        assert_eq!(exp(-200.0), exp(-87.3));
        assert!(exp(0.0) == 1.0);
    }

    #[test]
    fn erf_and_gelu_are_accurate() {
        let mut worst = [0f64; 3];
        for x in grid(-10.0, 10.0, 2_000_000) {
            let xd = x as f64;
            let erf_exact = libm::erf(xd);
            let cdf = 0.5 * (1.0 + libm::erf(xd / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let errors = [
                (erf(x) as f64 - erf_exact).abs(),
                // GELU's error scales with |x|; relative to max(1, |x|).
                (gelu(x) as f64 - xd * cdf).abs() / xd.abs().max(1.0),
                (gelu_slope(x) as f64 - (cdf + xd * pdf)).abs(),
            ];
            for (w, e) in worst.iter_mut().zip(errors) {
                *w = w.max(e);
            }
        }
        assert!(worst[0] < 5e-7, "erf: worst absolute error {}", worst[0]);
        assert!(worst[1] < 3e-7, "gelu: worst scaled error {}", worst[1]);
        assert!(
            worst[2] < 3e-7,
            "gelu slope: worst absolute error {}",
            worst[2]
        );
    }
}
