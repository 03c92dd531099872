//! Cosine annealing of the learning rate (PyTorch's `CosineAnnealingLR`, closed form).

/// Learning rate that falls from `initial` to `minimum` along half a cosine over `total_steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineSchedule {
    /// Learning rate at step 0 (paper: 1e-4).
    pub initial: f64,
    /// Learning rate reached at `total_steps` (paper: 1e-6).
    pub minimum: f64,
    /// Planned number of optimiser steps.
    pub total_steps: usize,
}

impl CosineSchedule {
    /// The learning rate for the optimiser step with index `step` (0-based); it stays at
    /// `minimum` past the end instead of rising again.
    pub fn lr(&self, step: usize) -> f64 {
        if self.total_steps == 0 {
            return self.initial;
        }
        let progress = step.min(self.total_steps) as f64 / self.total_steps as f64;
        self.minimum
            + (self.initial - self.minimum) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_high_ends_low_and_matches_pytorch_midpoint() {
        let s = CosineSchedule {
            initial: 1e-4,
            minimum: 1e-6,
            total_steps: 100,
        };
        assert!((s.lr(0) - 1e-4).abs() < 1e-15);
        assert!((s.lr(100) - 1e-6).abs() < 1e-15);
        assert!((s.lr(500) - 1e-6).abs() < 1e-15);
        // Halfway the cosine term is zero: the mean of the two rates.
        assert!((s.lr(50) - (1e-4 + 1e-6) / 2.0).abs() < 1e-15);
        // PyTorch CosineAnnealingLR(T_max=100, eta_min=1e-6) after 25 steps.
        let torch_25 = 1e-6 + (1e-4 - 1e-6) * (1.0 + (std::f64::consts::PI * 0.25).cos()) / 2.0;
        assert!((s.lr(25) - torch_25).abs() < 1e-15);
        assert!((1..100).all(|i| s.lr(i) < s.lr(i - 1)));
    }
}
