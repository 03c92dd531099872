//! Reads and writes `.safetensors` weights files from and to bytes.
//!
//! Reading checks the header itself rather than through `safetensors::SafeTensors`, because the
//! crate's validation errors (e.g. "invalid shape, data type, or offset for tensor") do not say which
//! tensor is wrong, and a user fixing a converted checkpoint needs that name. Writing goes through
//! `safetensors::serialize`, so the files we produce are laid out exactly as the reference writer does.
//!
//! This file holds the public entry points; `json` reads the header's JSON, `header` turns it into
//! tensor records, `read` checks and decodes the data section, and `write` encodes tensors.

mod header;
mod json;
mod read;
#[cfg(test)]
mod tests;
mod write;

use crate::error::{Error, Result};
use crate::weights::tensor_set::TensorSet;

/// The safetensors format refuses headers above 100 MB; so do we, so a hostile length cannot make us
/// scan or allocate more than the reference reader would.
const MAX_HEADER_BYTES: usize = 100_000_000;

/// The header key that holds free-form string metadata instead of a tensor.
const METADATA_KEY: &str = "__metadata__";

/// How [`write_safetensors_as`] stores [`TensorValues::Float`] tensors ([`TensorValues::Int`] is
/// always stored as I64).
///
/// [`TensorValues::Float`]: crate::weights::tensor_set::TensorValues::Float
/// [`TensorValues::Int`]: crate::weights::tensor_set::TensorValues::Int
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FloatStorage {
    /// 32-bit floats: exact.
    #[default]
    F32,
    /// 16-bit IEEE floats: half the size, for compact demo weights; rounds to about 3 significant
    /// digits and refuses values beyond ±65504.
    F16,
    /// 16-bit floats for convolution kernels, 32-bit for one-dimensional tensors (biases and
    /// BatchNorm parameters and statistics). Almost as small as [`FloatStorage::F16`], but a
    /// small running variance keeps its precision, which it needs next to eps = 1e-3.
    F16Kernels,
}

/// Decodes a `.safetensors` file into named tensors.
///
/// Floating-point dtypes (F32, F16, BF16, F64) become [`TensorValues::Float`] (F64 is rounded to f32);
/// integer and boolean dtypes (I64, I32, I16, I8, U64, U32, U16, U8, BOOL) become
/// [`TensorValues::Int`]. NaN and infinity are passed through unchecked: the caller decides what to
/// do with them. The header's `__metadata__` is ignored; see [`read_safetensors_with_metadata`].
///
/// [`TensorValues::Float`]: crate::weights::tensor_set::TensorValues::Float
/// [`TensorValues::Int`]: crate::weights::tensor_set::TensorValues::Int
pub fn read_safetensors(bytes: &[u8]) -> Result<TensorSet> {
    read_safetensors_with_metadata(bytes).map(|(set, _)| set)
}

/// Like [`read_safetensors`], and also returns the header's `__metadata__` string pairs, sorted by key.
pub fn read_safetensors_with_metadata(bytes: &[u8]) -> Result<(TensorSet, Vec<(String, String)>)> {
    let (header_text, data) = header::split_file(bytes)?;
    let json = json::parse(header_text)
        .map_err(|e| Error::weights(format!("safetensors header is not valid JSON: {e}")))?;
    let (entries, metadata) = header::parse_header(json)?;
    read::check_layout(&entries, data.len())?;
    let mut set = TensorSet::new();
    for entry in entries {
        let tensor = read::decode_entry(&entry, data)?;
        set.insert(entry.name, tensor);
    }
    Ok((set, metadata))
}

/// Encodes named tensors as a `.safetensors` file, floats as F32 and integers as I64.
///
/// `metadata` becomes the header's `__metadata__` (omitted when empty); keys must be unique.
pub fn write_safetensors(set: &TensorSet, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    write_safetensors_as(set, metadata, FloatStorage::F32)
}

/// Encodes named tensors as a `.safetensors` file with floats stored as F16 (integers as I64).
///
/// Fails, naming the tensor, when a finite value is too large for f16.
pub fn write_safetensors_f16(set: &TensorSet, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    write_safetensors_as(set, metadata, FloatStorage::F16)
}

/// Encodes named tensors as a `.safetensors` file, storing floats as `float_storage` says and
/// integers as I64.
///
/// Fails when a tensor's value count differs from its shape's product, when a tensor is named
/// `__metadata__`, when a metadata key repeats, or (F16) when a finite value overflows f16.
pub fn write_safetensors_as(
    set: &TensorSet,
    metadata: &[(String, String)],
    float_storage: FloatStorage,
) -> Result<Vec<u8>> {
    let mut encoded = Vec::with_capacity(set.len());
    for (name, tensor) in set {
        encoded.push((
            name.as_str(),
            write::encode_tensor(name, tensor, float_storage)?,
        ));
    }
    let file = safetensors::serialize(encoded, None)
        .map_err(|e| Error::weights(format!("could not encode safetensors: {e}")))?;
    write::with_metadata(file, metadata)
}
