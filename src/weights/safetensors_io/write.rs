//! Writing: each tensor checked and converted to its stored bytes, for `safetensors::serialize`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use safetensors::{Dtype, View};

use crate::error::{Error, Result};
use crate::weights::tensor_set::{NamedTensor, TensorValues};

use super::{FloatStorage, METADATA_KEY};

/// A tensor already converted to its stored bytes.
pub(super) struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Puts `metadata` as the `__metadata__` entry at the head of `file`'s header (a safetensors file
/// written without one), keys sorted, and pads the header to 8 bytes again. `safetensors`
/// serialises its metadata from a `HashMap`, whose order changes from run to run: the same
/// weights would give different bytes whenever a file carries two keys (the format and the model
/// card). Repeated keys are refused rather than one of them silently kept.
pub(super) fn with_metadata(file: Vec<u8>, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    if metadata.is_empty() {
        return Ok(file);
    }
    let mut sorted = BTreeMap::new();
    for (key, value) in metadata {
        if sorted.insert(key.as_str(), value.as_str()).is_some() {
            return Err(Error::weights(format!(
                "safetensors metadata key `{key}` is given twice"
            )));
        }
    }
    let broken = || Error::weights("could not encode safetensors: unexpected header".to_string());
    let length = u64::from_le_bytes(
        file.get(..8)
            .ok_or_else(broken)?
            .try_into()
            .map_err(|_| broken())?,
    );
    let header_end = 8 + usize::try_from(length).map_err(|_| broken())?;
    let header = std::str::from_utf8(file.get(8..header_end).ok_or_else(broken)?)
        .map_err(|_| broken())?
        .trim_end();
    let rest = header.strip_prefix('{').ok_or_else(broken)?;
    let entry = serde_json::to_string(&sorted).map_err(|_| broken())?;
    let separator = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    let mut new_header = format!("{{\"{METADATA_KEY}\":{entry}{separator}{rest}").into_bytes();
    new_header.resize(new_header.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + new_header.len() + file.len() - header_end);
    out.extend((new_header.len() as u64).to_le_bytes());
    out.extend(new_header);
    out.extend(&file[header_end..]);
    Ok(out)
}

/// Checks one tensor and converts it to stored bytes.
pub(super) fn encode_tensor(
    name: &str,
    tensor: &NamedTensor,
    float_storage: FloatStorage,
) -> Result<Encoded> {
    if name == METADATA_KEY {
        return Err(Error::weights(format!(
            "a tensor cannot be named `{METADATA_KEY}`: safetensors reserves that key"
        )));
    }
    let numel = tensor
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if numel != Some(tensor.values.len()) {
        return Err(Error::weights(format!(
            "tensor `{name}`: shape {:?} does not match its {} values",
            tensor.shape,
            tensor.values.len()
        )));
    }
    let (dtype, data) = match (&tensor.values, float_storage) {
        (TensorValues::Float(v), FloatStorage::F32) => {
            (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        (TensorValues::Float(v), FloatStorage::F16) => (Dtype::F16, encode_f16(name, v)?),
        (TensorValues::Float(v), FloatStorage::F16Kernels) if tensor.shape.len() > 1 => {
            (Dtype::F16, encode_f16(name, v)?)
        }
        (TensorValues::Float(v), FloatStorage::F16Kernels) => {
            (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
        (TensorValues::Int(v), _) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    Ok(Encoded {
        dtype,
        shape: tensor.shape.clone(),
        data,
    })
}

/// Rounds to f16, refusing finite values that would become infinite (a silent corruption otherwise).
fn encode_f16(name: &str, values: &[f32]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(values.len() * 2);
    for &v in values {
        let h = half::f16::from_f32(v);
        if v.is_finite() && h.is_infinite() {
            return Err(Error::weights(format!(
                "tensor `{name}`: value {v} is beyond f16's range (±65504); store it as F32"
            )));
        }
        out.extend_from_slice(&h.to_le_bytes());
    }
    Ok(out)
}
