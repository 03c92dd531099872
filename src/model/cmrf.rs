//! The Cascaded Multi-Receptive-Field block (CMRF), TinyU-Net's core.

use burn::prelude::*;

use super::batch_norm::BatchNorm2d;
use super::conv_bn::ConvBn;
use super::init::WeightInit;

/// Fraction of the output width that the cascade works on (the reference's `e`).
pub const EXPANSION: f64 = 0.5;

/// CMRF(c1 → c2) with a cascade of `n` receptive fields:
/// `y = pwconv1(x)` (2c channels, c = ⌊c2·e/n⌋); `a, b` = even and odd channels of `y`;
/// `d1 = m.0(b)`, `dᵢ = m.{i-1}(dᵢ₋₁)`; output `pwconv2(cat[a + b, d1, …, d(n-1)])`.
#[derive(Module, Debug)]
pub struct Cmrf {
    /// 1×1 ConvBN + GELU, c1 → 2c.
    pub pwconv1: ConvBn,
    /// n-1 depthwise 3×3 ConvBN, c → c, no activation.
    pub m: Vec<ConvBn>,
    /// 1×1 ConvBN + GELU, n·c → c2.
    pub pwconv2: ConvBn,
}

/// Channels of one cascade branch for a block of output width `c2` and cascade depth `n`.
pub fn branch_channels(c2: usize, n: usize) -> usize {
    (c2 as f64 * EXPANSION / n as f64) as usize
}

impl Cmrf {
    /// A freshly initialised block.
    pub fn new(c1: usize, c2: usize, n: usize, init: &mut WeightInit) -> Self {
        let c = branch_channels(c2, n);
        Self {
            pwconv1: ConvBn::new(c1, 2 * c, 1, 1, true, init),
            m: (0..n - 1)
                .map(|_| ConvBn::new(c, c, 3, c, false, init))
                .collect(),
            pwconv2: ConvBn::new(n * c, c2, 1, 1, true, init),
        }
    }

    /// The block's BatchNorm layers.
    pub fn batch_norms_mut(&mut self) -> impl Iterator<Item = &mut BatchNorm2d> {
        std::iter::once(&mut self.pwconv1.bn)
            .chain(self.m.iter_mut().map(|block| &mut block.bn))
            .chain(std::iter::once(&mut self.pwconv2.bn))
    }

    /// Applies the block to `[N, c1, H, W]`, giving `[N, c2, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.pwconv1.forward(x);
        let [n, two_c, h, w] = y.dims();
        let c = two_c / 2;
        // Channel 2j+p of y is (j, p) of [N, c, 2, H, W]: p = 0 gives y[:, 0::2], p = 1 y[:, 1::2].
        let pairs = y.reshape([n, c, 2, h, w]);
        let even = pairs.clone().narrow(2, 0, 1).reshape([n, c, h, w]);
        let odd = pairs.narrow(2, 1, 1).reshape([n, c, h, w]);
        let mut branches = Vec::with_capacity(self.m.len() + 1);
        branches.push(even + odd.clone());
        let mut d = odd;
        for block in &self.m {
            d = block.forward(d);
            branches.push(d.clone());
        }
        self.pwconv2.forward(Tensor::cat(branches, 1))
    }
}
