//! A small, seedable, platform-independent random number generator.
//!
//! Weight initialisation, data augmentation and shuffling must give the same numbers natively and
//! in wasm for a given seed, independent of the compute backend, so they draw from this rather than
//! from a backend's RNG.

/// SplitMix64: tiny, fast, and good enough for initialisation and augmentation.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift keeps the bias negligible for the small `n` used here.
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// The next 32 random bits (the high half of [`Rng::next_u64`]).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `[0, 1)` with 24 random bits: exactly representable in f32, so code that works
    /// in f32 gets the same numbers natively and in wasm without rounding up to 1.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[low, high)`, in f32.
    pub fn uniform_f32(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next_f32()
    }

    /// True with probability `p`, decided on an f32 draw.
    pub fn chance_f32(&mut self, p: f32) -> bool {
        self.next_f32() < p
    }

    /// Uniform integer in `low..=high` (`low` when `high < low`). Reduces the full 64 bits modulo
    /// the span, unlike [`Rng::below`]; the synthetic data was generated that way, so it stays.
    pub fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high.saturating_sub(low)) + 1;
        low + (self.next_u64() % span) as u32
    }

    /// Roughly standard normal in f32 (Irwin–Hall sum of four uniforms): no log or cos needed,
    /// and the tails are bounded at about ±3.5, which keeps random shapes from going wild.
    pub fn normal_f32(&mut self) -> f32 {
        let sum = self.next_f32() + self.next_f32() + self.next_f32() + self.next_f32();
        (sum - 2.0) * 1.732_050_8
    }

    /// A uniformly chosen element; `None`, drawing nothing, when `items` is empty.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get((self.next_u64() % items.len() as u64) as usize)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_ranges_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.uniform(-2.0, 3.0);
            b.uniform(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&x));
            let k = a.below(5);
            b.below(5);
            assert!(k < 5);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn f32_and_u32_draws_stay_in_range() {
        let mut rng = Rng::new(11);
        for _ in 0..1000 {
            assert!((0.0..1.0).contains(&rng.next_f32()));
            assert!((-2.0..3.0).contains(&rng.uniform_f32(-2.0, 3.0)));
            assert!((3..=7).contains(&rng.between(3, 7)));
            assert!(rng.normal_f32().abs() <= 3.5);
            assert!([1, 2, 3].contains(rng.choose(&[1, 2, 3]).unwrap_or(&0)));
        }
        assert_eq!(rng.between(5, 5), 5);
        assert!(!rng.chance_f32(0.0) && rng.chance_f32(1.0));
        // An empty slice yields nothing and leaves the sequence where it was.
        let mut other = rng.clone();
        assert_eq!(rng.choose::<u8>(&[]), None);
        assert_eq!(rng.next_u32(), other.next_u32());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..50).collect();
        Rng::new(3).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
