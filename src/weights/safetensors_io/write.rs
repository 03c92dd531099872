//! Writing: each tensor checked and converted to its stored bytes, for `safetensors::serialize`.

use std::borrow::Cow;
use std::collections::HashMap;

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

/// Builds the `__metadata__` map, refusing repeated keys rather than silently keeping one.
pub(super) fn metadata_map(
    metadata: &[(String, String)],
) -> Result<Option<HashMap<String, String>>> {
    if metadata.is_empty() {
        return Ok(None);
    }
    let mut map = HashMap::with_capacity(metadata.len());
    for (key, value) in metadata {
        if map.insert(key.clone(), value.clone()).is_some() {
            return Err(Error::weights(format!(
                "safetensors metadata key `{key}` is given twice"
            )));
        }
    }
    Ok(Some(map))
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
