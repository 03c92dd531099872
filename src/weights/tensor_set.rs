//! A backend-free, named collection of tensors: what every weights file decodes to and encodes from.

use std::collections::BTreeMap;

/// The element values of one stored tensor, kept in the widest type that holds them exactly.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorValues {
    /// Floating-point values (stored as f16, bf16, f32 or f64 in the file).
    Float(Vec<f32>),
    /// Integer values (e.g. BatchNorm's `num_batches_tracked`, stored as int64).
    Int(Vec<i64>),
}

impl TensorValues {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorValues::Float(v) => v.len(),
            TensorValues::Int(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One named tensor as read from or written to a weights file.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// Shape, outermost dimension first (row-major, like PyTorch's contiguous layout).
    pub shape: Vec<usize>,
    /// Values in row-major order; `values.len()` equals the product of `shape`.
    pub values: TensorValues,
}

/// Tensors by name (e.g. `encoder1.cmrf.pwconv1.conv.weight`), sorted for stable output.
pub type TensorSet = BTreeMap<String, NamedTensor>;
