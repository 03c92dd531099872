//! The element types both weights readers decode, and their little-endian decoding into
//! [`TensorValues`]: the one piece the safetensors and `.pth` readers share.

use crate::error::{Error, Result};
use crate::weights::tensor_set::TensorValues;

/// Element types that both weights readers decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElementType {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the top half of an f32).
    BF16,
    /// Signed 64-bit integer.
    I64,
    /// Signed 32-bit integer.
    I32,
    /// Signed 16-bit integer.
    I16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 64-bit integer (values above `i64::MAX` are refused).
    U64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 8-bit integer.
    U8,
    /// One byte per value, 0 = false and anything else = true (as PyTorch reads it).
    Bool,
}

impl ElementType {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 | Self::U64 => 8,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::F16 | Self::BF16 | Self::I16 | Self::U16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    /// The safetensors spelling, also used in error messages of both readers.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::F64 => "F64",
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::I64 => "I64",
            Self::I32 => "I32",
            Self::I16 => "I16",
            Self::I8 => "I8",
            Self::U64 => "U64",
            Self::U32 => "U32",
            Self::U16 => "U16",
            Self::U8 => "U8",
            Self::Bool => "BOOL",
        }
    }

    /// Every supported type, for lookups and for listing them in errors.
    pub(crate) const ALL: [ElementType; 13] = [
        Self::F32,
        Self::F16,
        Self::BF16,
        Self::F64,
        Self::I64,
        Self::I32,
        Self::I16,
        Self::I8,
        Self::U64,
        Self::U32,
        Self::U16,
        Self::U8,
        Self::Bool,
    ];

    /// Parses a safetensors dtype string (`"F32"`, `"BOOL"`, ...).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Decodes little-endian elements of type `ty` for the tensor called `tensor` (named in errors).
///
/// `bytes.len()` must be a multiple of `ty.size()`.
pub(crate) fn decode_le(ty: ElementType, bytes: &[u8], tensor: &str) -> Result<TensorValues> {
    if !bytes.len().is_multiple_of(ty.size()) {
        return Err(Error::weights(format!(
            "tensor `{tensor}`: {} bytes is not a whole number of {} elements",
            bytes.len(),
            ty.name()
        )));
    }
    let values = match ty {
        ElementType::F32 => TensorValues::Float(le::<4, _>(bytes, f32::from_le_bytes)),
        ElementType::F64 => {
            TensorValues::Float(le::<8, _>(bytes, |b| f64::from_le_bytes(b) as f32))
        }
        ElementType::F16 => {
            TensorValues::Float(le::<2, _>(bytes, |b| half::f16::from_le_bytes(b).to_f32()))
        }
        ElementType::BF16 => {
            TensorValues::Float(le::<2, _>(bytes, |b| half::bf16::from_le_bytes(b).to_f32()))
        }
        ElementType::I64 => TensorValues::Int(le::<8, _>(bytes, i64::from_le_bytes)),
        ElementType::I32 => TensorValues::Int(le::<4, _>(bytes, |b| i32::from_le_bytes(b).into())),
        ElementType::I16 => TensorValues::Int(le::<2, _>(bytes, |b| i16::from_le_bytes(b).into())),
        ElementType::I8 => TensorValues::Int(le::<1, _>(bytes, |b| i8::from_le_bytes(b).into())),
        ElementType::U64 => TensorValues::Int(decode_u64(bytes, tensor)?),
        ElementType::U32 => TensorValues::Int(le::<4, _>(bytes, |b| u32::from_le_bytes(b).into())),
        ElementType::U16 => TensorValues::Int(le::<2, _>(bytes, |b| u16::from_le_bytes(b).into())),
        ElementType::U8 => TensorValues::Int(bytes.iter().map(|&b| i64::from(b)).collect()),
        ElementType::Bool => TensorValues::Int(bytes.iter().map(|&b| i64::from(b != 0)).collect()),
    };
    Ok(values)
}

/// Maps each `N`-byte chunk through `f`; a partial trailing chunk (ruled out by the caller) is dropped.
fn le<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    let (chunks, _) = bytes.as_chunks::<N>();
    chunks.iter().map(|&c| f(c)).collect()
}

/// U64 has no lossless home in [`TensorValues::Int`] above `i64::MAX`, so such values are refused.
fn decode_u64(bytes: &[u8], tensor: &str) -> Result<Vec<i64>> {
    le::<8, _>(bytes, u64::from_le_bytes)
        .into_iter()
        .map(|v| {
            i64::try_from(v).map_err(|_| {
                Error::weights(format!(
                    "tensor `{tensor}`: U64 value {v} does not fit in int64"
                ))
            })
        })
        .collect()
}
