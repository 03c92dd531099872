//! TinyU-Net's training losses (DESIGN §2): BCE-with-logits + (1 − soft Dice) for one class,
//! cross-entropy + (1 − mean soft Dice over classes) for several; Dice smoothing 1e-5.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, sigmoid, softmax};

/// Added to numerator and denominator of the soft Dice, as the reference does.
pub const DICE_SMOOTH: f64 = 1e-5;

/// The parts of a loss value, kept apart so progress reports can show them.
pub struct LossParts {
    /// The total: `cross_entropy + (1 − dice)`; differentiable.
    pub total: Tensor<1>,
    /// Mean soft Dice of the batch (detached), in `[0, 1]`.
    pub soft_dice: Tensor<1>,
}

/// The segmentation loss for `logits` `[N, C, H, W]` and `target` of the same shape: 0/1 masks for
/// C = 1, one-hot masks for C ≥ 2.
pub fn segmentation_loss(logits: Tensor<4>, target: Tensor<4>) -> LossParts {
    if logits.dims()[1] == 1 {
        binary_loss(logits, target)
    } else {
        multiclass_loss(logits, target)
    }
}

/// `BCEWithLogits(mean) + (1 − mean_n Dice_n)` with Dice over all pixels of each sample.
pub fn binary_loss(logits: Tensor<4>, target: Tensor<4>) -> LossParts {
    let [n, ..] = logits.dims();
    // Numerically stable BCE: max(z, 0) − z·t + log(1 + e^(−|z|)).
    let bce = logits.clone().clamp_min(0.0) - logits.clone() * target.clone()
        + logits.clone().abs().neg().exp().log1p();
    let bce = bce.mean();
    let p = sigmoid(logits).reshape([n as i64, -1]);
    let t = target.reshape([n as i64, -1]);
    let dice = soft_dice(p, t);
    LossParts {
        total: bce + (dice.clone().neg() + 1.0),
        soft_dice: dice.detach(),
    }
}

/// `CrossEntropy(mean over pixels) + (1 − mean_{n,c} Dice_{n,c})` with softmax over classes.
pub fn multiclass_loss(logits: Tensor<4>, target: Tensor<4>) -> LossParts {
    let [n, c, ..] = logits.dims();
    let ce = (log_softmax(logits.clone(), 1) * target.clone())
        .sum_dim(1)
        .mean()
        .neg();
    let p = softmax(logits, 1).reshape([(n * c) as i64, -1]);
    let t = target.reshape([(n * c) as i64, -1]);
    let dice = soft_dice(p, t);
    LossParts {
        total: ce + (dice.clone().neg() + 1.0),
        soft_dice: dice.detach(),
    }
}

/// Mean over rows of `(2 Σ p·t + s) / (Σ p + Σ t + s)` for `[rows, pixels]` inputs.
fn soft_dice(p: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let intersection = (p.clone() * t.clone()).sum_dim(1);
    let denominator = p.sum_dim(1) + t.sum_dim(1);
    ((intersection * 2.0 + DICE_SMOOTH) / (denominator + DICE_SMOOTH)).mean()
}
