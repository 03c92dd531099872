//! Deterministic parameter initialisation drawn on the host, so a seed gives the same network on
//! every backend and platform.

use burn::module::Param;
use burn::prelude::*;

use crate::rng::Rng;

/// Hands out freshly initialised parameters on one device from one seeded stream.
pub struct WeightInit {
    rng: Rng,
    device: Device,
}

impl WeightInit {
    /// Starts a stream for `device` from `seed`.
    pub fn new(seed: u64, device: &Device) -> Self {
        Self {
            rng: Rng::new(seed),
            device: device.clone(),
        }
    }

    /// The device parameters are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// PyTorch's default for convolutions: uniform in ±1/√fan_in (Kaiming-uniform with a = √5).
    pub fn uniform_fan_in<const D: usize>(
        &mut self,
        shape: [usize; D],
        fan_in: usize,
    ) -> Param<Tensor<D>> {
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| self.rng.uniform(-bound, bound) as f32)
            .collect();
        Param::from_data(TensorData::new(values, shape), &self.device)
    }
}
