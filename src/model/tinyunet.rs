//! The TinyU-Net network: four CMRF encoders with 2×2 max-pooling, four decoders with ×2 bicubic
//! upsampling and skip concatenation, and a 1×1 classifier. Field names mirror the PyTorch
//! reference's `state_dict`, so a path like `decoder2.cmrf.m.3.bn.running_var` means the same here.

use burn::prelude::*;

use super::batch_norm::BatchNorm2d;
use super::cmrf::{Cmrf, branch_channels};
use super::conv_bn::Conv2d;
use super::init::WeightInit;
use crate::error::{Error, Result};
use crate::kernels::bicubic_up2_cat;
use crate::limits::MAX_CLASSES;

/// The shape of a TinyU-Net. The default is the paper's network for one class on RGB input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TinyUNetConfig {
    /// Image channels (3 for RGB photographs, 1 for CT slices).
    pub in_channels: usize,
    /// Output classes: 1 for binary segmentation (sigmoid), ≥ 2 for multi-class (softmax).
    pub classes: usize,
    /// Widths of the four encoder stages (paper: 64, 128, 256, 512).
    pub widths: [usize; 4],
    /// Cascade depth N of every CMRF block (paper: 8).
    pub cascade: usize,
}

impl Default for TinyUNetConfig {
    fn default() -> Self {
        Self {
            in_channels: 3,
            classes: 1,
            widths: [64, 128, 256, 512],
            cascade: 8,
        }
    }
}

pub use crate::limits::SIZE_MULTIPLE;

impl TinyUNetConfig {
    /// The paper's network with `classes` outputs.
    pub fn with_classes(classes: usize) -> Self {
        Self {
            classes,
            ..Self::default()
        }
    }

    /// Checks that every block gets at least one channel per cascade branch.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 || self.in_channels > 16 {
            return Err(Error::config(format!(
                "in_channels must be 1..=16, got {}",
                self.in_channels
            )));
        }
        if self.classes == 0 || self.classes > MAX_CLASSES {
            return Err(Error::config(format!(
                "classes must be 1..={MAX_CLASSES}, got {}",
                self.classes
            )));
        }
        if self.cascade == 0 || self.cascade > 64 {
            return Err(Error::config(format!(
                "cascade depth must be 1..=64, got {}",
                self.cascade
            )));
        }
        for &w in &self.widths {
            if w == 0 || w > 4096 || branch_channels(w, self.cascade) == 0 {
                return Err(Error::config(format!(
                    "width {w} is too small for cascade depth {} (needs at least {} channels)",
                    self.cascade,
                    2 * self.cascade
                )));
            }
        }
        Ok(())
    }

    /// Builds a freshly initialised network on `device`; the same seed gives the same weights
    /// on every backend.
    pub fn init(&self, device: &Device, seed: u64) -> Result<TinyUNet> {
        self.validate()?;
        let mut init = WeightInit::new(seed, device);
        let [w1, w2, w3, w4] = self.widths;
        let n = self.cascade;
        let model = TinyUNet {
            encoder1: Encoder::new(self.in_channels, w1, n, &mut init),
            encoder2: Encoder::new(w1, w2, n, &mut init),
            encoder3: Encoder::new(w2, w3, n, &mut init),
            encoder4: Encoder::new(w3, w4, n, &mut init),
            decoder4: Decoder::new(w4 + w4, w4, n, &mut init),
            decoder3: Decoder::new(w4 + w3, w3, n, &mut init),
            decoder2: Decoder::new(w3 + w2, w2, n, &mut init),
            decoder1: Decoder::new(w2 + w1, w1, n, &mut init),
            final_conv: Conv2d::new(w1, self.classes, 1, 1, true, &mut init),
            config: self.clone(),
            num_batches_tracked: 0,
        };
        Ok(super::param_paths::assign_path_ids(model))
    }
}

/// CMRF then 2×2 max-pooling; the pre-pooling map is the skip connection.
#[derive(Module, Debug)]
pub struct Encoder {
    /// The block.
    pub cmrf: Cmrf,
}

impl Encoder {
    fn new(c1: usize, c2: usize, n: usize, init: &mut WeightInit) -> Self {
        Self {
            cmrf: Cmrf::new(c1, c2, n, init),
        }
    }

    /// Returns `(pooled, skip)`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let skip = self.cmrf.forward(x);
        (crate::kernels::max_pool2x2(skip.clone()), skip)
    }
}

/// ×2 bicubic upsampling, concatenation with the skip, then CMRF.
#[derive(Module, Debug)]
pub struct Decoder {
    /// The block.
    pub cmrf: Cmrf,
}

impl Decoder {
    fn new(c1: usize, c2: usize, n: usize, init: &mut WeightInit) -> Self {
        Self {
            cmrf: Cmrf::new(c1, c2, n, init),
        }
    }

    /// Upsamples `x`, joins `skip` and applies the block.
    pub fn forward(&self, x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
        self.cmrf.forward(bicubic_up2_cat(x, skip))
    }
}

/// TinyU-Net (Chen et al., MICCAI 2024), as the public PyTorch reference defines it.
#[derive(Module, Debug)]
pub struct TinyUNet {
    /// Encoder stage 1 (full resolution).
    pub encoder1: Encoder,
    /// Encoder stage 2 (1/2).
    pub encoder2: Encoder,
    /// Encoder stage 3 (1/4).
    pub encoder3: Encoder,
    /// Encoder stage 4 (1/8); its pooled output (1/16) feeds the decoder.
    pub encoder4: Encoder,
    /// Decoder stage 4 (back to 1/8).
    pub decoder4: Decoder,
    /// Decoder stage 3 (1/4).
    pub decoder3: Decoder,
    /// Decoder stage 2 (1/2).
    pub decoder2: Decoder,
    /// Decoder stage 1 (full resolution).
    pub decoder1: Decoder,
    /// 1×1 classifier with bias; outputs raw logits.
    pub final_conv: Conv2d,
    /// The shape this network was built with.
    #[module(skip)]
    pub config: TinyUNetConfig,
    /// Training-mode forward passes seen, as PyTorch's BatchNorm counts them (saved with weights).
    #[module(skip)]
    pub num_batches_tracked: u64,
}

impl TinyUNet {
    /// Logits `[N, classes, H, W]` for images `[N, in_channels, H, W]` with H, W multiples of 16.
    ///
    /// Callers must check the input shape first (see [`TinyUNet::check_input`]); the layers
    /// themselves do not.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (x, s1) = self.encoder1.forward(x);
        let (x, s2) = self.encoder2.forward(x);
        let (x, s3) = self.encoder3.forward(x);
        let (x, s4) = self.encoder4.forward(x);
        let x = self.decoder4.forward(x, s4);
        let x = self.decoder3.forward(x, s3);
        let x = self.decoder2.forward(x, s2);
        let x = self.decoder1.forward(x, s1);
        self.final_conv.forward(x)
    }

    /// Every BatchNorm layer of the network.
    pub fn batch_norms_mut(&mut self) -> impl Iterator<Item = &mut BatchNorm2d> {
        [
            &mut self.encoder1.cmrf,
            &mut self.encoder2.cmrf,
            &mut self.encoder3.cmrf,
            &mut self.encoder4.cmrf,
            &mut self.decoder4.cmrf,
            &mut self.decoder3.cmrf,
            &mut self.decoder2.cmrf,
            &mut self.decoder1.cmrf,
        ]
        .into_iter()
        .flat_map(Cmrf::batch_norms_mut)
    }

    /// The same network with every BatchNorm [frozen](BatchNorm2d::frozen) or not: frozen, a
    /// training forward normalises with the running statistics, as inference does.
    pub fn with_frozen_batch_norm(mut self, frozen: bool) -> Self {
        for bn in self.batch_norms_mut() {
            bn.frozen = frozen;
        }
        self
    }

    /// Explains what is wrong with an input shape, if anything.
    pub fn check_input(&self, dims: [usize; 4]) -> Result<()> {
        let [n, c, h, w] = dims;
        if n == 0 {
            return Err(Error::input("the batch is empty"));
        }
        if c != self.config.in_channels {
            return Err(Error::input(format!(
                "the model takes {} input channels, got {c}",
                self.config.in_channels
            )));
        }
        if h == 0 || w == 0 || h % SIZE_MULTIPLE != 0 || w % SIZE_MULTIPLE != 0 {
            return Err(Error::input(format!(
                "input height and width must be positive multiples of {SIZE_MULTIPLE}, got {h}×{w}"
            )));
        }
        Ok(())
    }

    /// Number of trainable parameters (BatchNorm running statistics excluded).
    pub fn trainable_params(&self) -> usize {
        super::param_paths::parameter_shapes(self)
            .iter()
            .filter(|(_, entry)| entry.trainable)
            .map(|(_, entry)| entry.shape.iter().product::<usize>())
            .sum()
    }
}
