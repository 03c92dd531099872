//! The data section: checks that the header's byte ranges tile it, and decodes each tensor's bytes.

use crate::error::{Error, Result};
use crate::weights::dtype::decode_le;
use crate::weights::tensor_set::NamedTensor;

use super::header::HeaderEntry;

/// Checks that the tensors tile the data section exactly (as the reference reader requires) and that
/// each byte range matches its shape and dtype.
pub(super) fn check_layout(entries: &[HeaderEntry], data_len: usize) -> Result<()> {
    let data_len = data_len as u64;
    let mut order: Vec<&HeaderEntry> = entries.iter().collect();
    order.sort_by_key(|e| (e.start, e.end));
    let mut expected_start = 0;
    for entry in order {
        let name = &entry.name;
        if entry.end < entry.start || entry.end > data_len {
            return Err(Error::weights(format!(
                "tensor `{name}`: data_offsets [{}, {}] lie outside the {data_len}-byte data section \
                 (truncated file?)",
                entry.start, entry.end
            )));
        }
        if entry.start != expected_start {
            return Err(Error::weights(format!(
                "tensor `{name}`: data_offsets [{}, {}] do not start where the previous tensor ends \
                 (byte {expected_start}); tensors must tile the data section",
                entry.start, entry.end
            )));
        }
        check_byte_len(entry)?;
        expected_start = entry.end;
    }
    if expected_start != data_len {
        return Err(Error::weights(format!(
            "safetensors data section has {data_len} bytes but the tensors cover {expected_start}"
        )));
    }
    Ok(())
}

/// Element count × element size must equal the byte range.
fn check_byte_len(entry: &HeaderEntry) -> Result<()> {
    let needed = entry
        .shape
        .iter()
        .try_fold(entry.dtype.size(), |acc, &d| acc.checked_mul(d));
    let have = entry.end - entry.start;
    if needed.map(|n| n as u64) == Some(have) {
        return Ok(());
    }
    let needed = needed.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
    Err(Error::weights(format!(
        "tensor `{}`: shape {:?} of {} needs {needed} bytes but data_offsets [{}, {}] hold {have}",
        entry.name,
        entry.shape,
        entry.dtype.name(),
        entry.start,
        entry.end
    )))
}

/// Decodes one checked entry.
pub(super) fn decode_entry(entry: &HeaderEntry, data: &[u8]) -> Result<NamedTensor> {
    // Checked against the data section's length (a usize) before: the casts cannot truncate.
    let bytes = data
        .get(entry.start as usize..entry.end as usize)
        .ok_or_else(|| {
            Error::weights(format!(
                "tensor `{}`: data_offsets out of range",
                entry.name
            ))
        })?;
    Ok(NamedTensor {
        shape: entry.shape.clone(),
        values: decode_le(entry.dtype, bytes, &entry.name)?,
    })
}
