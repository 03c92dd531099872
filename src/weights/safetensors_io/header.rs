//! The safetensors header: the file split into header and data, and the header's JSON turned into
//! one checked record per tensor plus the `__metadata__` pairs.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::weights::dtype::ElementType;

use super::json;
use super::{MAX_HEADER_BYTES, METADATA_KEY};

/// One tensor's header record.
#[derive(Debug)]
pub(super) struct HeaderEntry {
    pub(super) name: String,
    pub(super) dtype: ElementType,
    pub(super) shape: Vec<usize>,
    /// Byte range within the data section (after the header). u64, not usize: on wasm32 an
    /// offset past 4 GiB must read as "outside the data", not as a malformed number.
    pub(super) start: u64,
    pub(super) end: u64,
}

/// The header's tensor records and `__metadata__` pairs.
pub(super) type Header = (Vec<HeaderEntry>, Vec<(String, String)>);

/// Splits the file into its header text and data section.
pub(super) fn split_file(bytes: &[u8]) -> Result<(&str, &[u8])> {
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::weights(format!(
            "safetensors file is truncated: {} bytes, shorter than the 8-byte header length",
            bytes.len()
        )));
    };
    let declared = u64::from_le_bytes(*len_bytes);
    let header_len = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| {
            Error::weights(format!(
                "safetensors header length {declared} exceeds the {} bytes that follow it: \
                 the file is truncated or not a safetensors file",
                rest.len()
            ))
        })?;
    if header_len > MAX_HEADER_BYTES {
        return Err(Error::weights(format!(
            "safetensors header is {header_len} bytes, above the format's 100 MB limit"
        )));
    }
    let (header, data) = rest.split_at(header_len);
    let text = std::str::from_utf8(header)
        .map_err(|e| Error::weights(format!("safetensors header is not UTF-8: {e}")))?;
    Ok((text, data))
}

/// Turns the header JSON into tensor records and metadata pairs.
pub(super) fn parse_header(json: json::Value) -> Result<Header> {
    let json::Value::Object(fields) = json else {
        return Err(Error::weights("safetensors header is not a JSON object"));
    };
    let mut seen = BTreeSet::new();
    let mut entries = Vec::with_capacity(fields.len());
    let mut metadata = Vec::new();
    for (name, value) in fields {
        if !seen.insert(name.clone()) {
            return Err(Error::weights(format!(
                "safetensors header names `{name}` twice"
            )));
        }
        if name == METADATA_KEY {
            metadata = parse_metadata(value)?;
        } else {
            entries.push(parse_entry(name, value)?);
        }
    }
    metadata.sort();
    Ok((entries, metadata))
}

/// Parses `__metadata__`: an object of string values.
fn parse_metadata(value: json::Value) -> Result<Vec<(String, String)>> {
    let json::Value::Object(fields) = value else {
        return Err(Error::weights(
            "safetensors `__metadata__` is not a JSON object",
        ));
    };
    fields
        .into_iter()
        .map(|(key, value)| match value {
            json::Value::String(s) => Ok((key, s)),
            _ => Err(Error::weights(format!(
                "safetensors `__metadata__` value for `{key}` is not a string"
            ))),
        })
        .collect()
}

/// Parses one tensor record `{"dtype": .., "shape": [..], "data_offsets": [start, end]}`.
fn parse_entry(name: String, value: json::Value) -> Result<HeaderEntry> {
    let json::Value::Object(fields) = value else {
        return Err(Error::weights(format!(
            "tensor `{name}`: header entry is not a JSON object"
        )));
    };
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| Error::weights(format!("tensor `{name}`: header entry has no `{key}`")))
    };
    let dtype = match field("dtype")? {
        json::Value::String(s) => ElementType::from_name(s).ok_or_else(|| {
            let supported: Vec<&str> = ElementType::ALL.iter().map(|t| t.name()).collect();
            Error::weights(format!(
                "tensor `{name}` has unsupported dtype `{s}` (supported: {})",
                supported.join(", ")
            ))
        })?,
        _ => {
            return Err(Error::weights(format!(
                "tensor `{name}`: `dtype` is not a string"
            )));
        }
    };
    let shape = number_array::<usize>(field("shape")?, &name, "shape")?;
    let offsets = number_array::<u64>(field("data_offsets")?, &name, "data_offsets")?;
    let [start, end] = offsets[..] else {
        return Err(Error::weights(format!(
            "tensor `{name}`: `data_offsets` has {} numbers, expected [start, end]",
            offsets.len()
        )));
    };
    Ok(HeaderEntry {
        name,
        dtype,
        shape,
        start,
        end,
    })
}

/// Reads a JSON array of non-negative integers, each of which must fit in `T`.
fn number_array<T: TryFrom<u64>>(value: &json::Value, tensor: &str, key: &str) -> Result<Vec<T>> {
    let bad = || {
        Error::weights(format!(
            "tensor `{tensor}`: `{key}` is not an array of non-negative integers"
        ))
    };
    let json::Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| match item {
            json::Value::Number(Some(n)) => T::try_from(*n).map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect()
}
