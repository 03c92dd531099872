//! Reads PyTorch `torch.save(model.state_dict())` files (`.pth` / `.pt`) from bytes, without ever
//! executing pickle code.
//!
//! Since PyTorch 1.6 such a file is a ZIP archive of stored (uncompressed) entries under one top
//! folder whose name varies (`archive/`, or the file's stem):
//!
//! - `<top>/data.pkl`: a pickle of the state_dict, where each tensor is a call to
//!   `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and each storage is a
//!   persistent id `('storage', torch.FloatStorage, key, location, numel)`;
//! - `<top>/data/<key>`: the raw little-endian bytes of each storage;
//! - `<top>/byteorder`, `<top>/version`, ...: small records.
//!
//! The pickle is interpreted by a small stack machine that knows only the opcodes `torch.save`
//! emits and only the handful of globals a state_dict needs; anything else (e.g. `os.system`) is
//! an error, so a hostile file cannot run code. Every size read from the file is checked against
//! the file's length before it is used.
//!
//! This file holds the entry point, which walks the state_dict and finds each tensor's storage;
//! `zip` reads the archive, `pickle` the state_dict, and `layout` gathers a tensor's elements.

mod layout;
mod pickle;
#[cfg(test)]
mod tests;
mod zip;

use crate::error::{Error, Result};
use crate::weights::dtype::{ElementType, decode_le};
use crate::weights::tensor_set::{NamedTensor, TensorSet};

use layout::{Layout, gather};
use pickle::{Dtype, Key, StorageKind, StorageRef, TensorRef, Value};

/// Decodes a PyTorch state_dict file (the ZIP format `torch.save` has written since PyTorch 1.6).
///
/// Returns one [`NamedTensor`] per state_dict entry, in row-major order whatever the saved strides
/// were. Float dtypes (f32, f16, bf16, f64) become [`TensorValues::Float`]; integer and bool dtypes
/// (e.g. BatchNorm's int64 `num_batches_tracked`) become [`TensorValues::Int`]. The state_dict's
/// `_metadata` (per-module version numbers) is ignored. NaN and infinity are not checked here.
///
/// Fails with a message naming the problem (and the tensor, where there is one) for: legacy
/// non-ZIP files, truncated or corrupt archives, compressed entries, a missing `data.pkl` or
/// storage, big-endian data, any pickle global other than the state_dict ones, unknown opcodes,
/// a top-level object that is not a dict, dict values that are not tensors, unsupported dtypes,
/// and sizes/strides/offsets that reach outside their storage.
///
/// [`TensorValues::Float`]: crate::weights::tensor_set::TensorValues::Float
/// [`TensorValues::Int`]: crate::weights::tensor_set::TensorValues::Int
pub fn read_pth(bytes: &[u8]) -> Result<TensorSet> {
    let archive = zip::Archive::parse(bytes)?;
    let top = top_folder(&archive)?;
    check_byteorder(&archive, &top)?;
    let pickle_path = format!("{top}/data.pkl");
    let pickle = archive
        .get(&pickle_path)?
        .ok_or_else(|| Error::weights(format!("missing `{pickle_path}` in the .pth archive")))?;
    let dict = pickle::load_dict(pickle)?;
    // Decoded tensors may not outnumber the file's bytes: a legitimate state_dict stores at least
    // one byte per element, while hostile sizes with zero strides could otherwise ask for terabytes.
    let mut budget = bytes.len();
    let mut set = TensorSet::new();
    for (key, value) in dict {
        let name = entry_name(key)?;
        let tensor = match value {
            Value::Tensor(t) => t,
            other => return Err(not_a_tensor(&name, &other)),
        };
        let decoded = decode_tensor(&name, &tensor, &archive, &top, &mut budget)?;
        set.insert(name, decoded);
    }
    Ok(set)
}

/// Finds the one `<top>/data.pkl` entry and returns `<top>`.
fn top_folder(archive: &zip::Archive<'_>) -> Result<String> {
    let mut found = archive
        .names()
        .filter_map(|name| name.strip_suffix("/data.pkl"))
        .filter(|top| !top.contains('/'));
    match (found.next(), found.next()) {
        (Some(top), None) => Ok(top.to_string()),
        (None, _) => Err(Error::weights(
            "missing data.pkl: the ZIP archive has no `<folder>/data.pkl` entry, so it is not a \
             PyTorch .pth file",
        )),
        (Some(a), Some(b)) => Err(Error::weights(format!(
            "the .pth archive holds several data.pkl entries (`{a}/`, `{b}/`, ...)"
        ))),
    }
}

/// Storages are raw machine-order bytes; the `byteorder` record (absent before PyTorch 1.10, which
/// only wrote little-endian files in practice) says which order.
fn check_byteorder(archive: &zip::Archive<'_>, top: &str) -> Result<()> {
    match archive.get(&format!("{top}/byteorder"))? {
        None | Some(b"little") => Ok(()),
        Some(b"big") => Err(Error::weights(
            "the .pth file was saved on a big-endian machine (byteorder `big`); only \
             little-endian files are supported",
        )),
        Some(other) => Err(Error::weights(format!(
            "unrecognised byteorder record {:?} in the .pth archive",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// State_dict keys are parameter names.
fn entry_name(key: Key) -> Result<String> {
    match key {
        Key::Str(s) => Ok(s.to_string()),
        Key::Int(i) => Err(Error::weights(format!(
            "state_dict key {i} is an integer, not a parameter name"
        ))),
    }
}

/// Explains a dict value that is not a tensor; a nested dict is most likely a training checkpoint.
fn not_a_tensor(name: &str, value: &Value) -> Error {
    let hint = if matches!(value, Value::Dict(_)) {
        " (a training checkpoint? save its model state_dict on its own with torch.save)"
    } else {
        ""
    };
    Error::weights(format!(
        "state_dict entry `{name}` is {}, not a tensor; only plain state_dicts (name → tensor) are \
         accepted{hint}",
        value.kind()
    ))
}

/// Reads one tensor's elements from its storage entry.
fn decode_tensor(
    name: &str,
    t: &TensorRef,
    archive: &zip::Archive<'_>,
    top: &str,
    budget: &mut usize,
) -> Result<NamedTensor> {
    let ty = known_dtype(name, &t.dtype)?;
    if t.lazy_bits {
        return Err(Error::weights(format!(
            "tensor `{name}` was saved with a lazy negation/conjugation bit; call .resolve_neg() / \
             .resolve_conj() before torch.save"
        )));
    }
    let layout = Layout::new(name, t)?;
    *budget = budget.checked_sub(layout.numel).ok_or_else(|| {
        Error::weights(format!(
            "tensor `{name}`: size {:?} asks for more elements than the whole file could hold",
            layout.shape
        ))
    })?;
    let (path, storage) = storage_bytes(name, &t.storage, archive, top)?;
    let bytes = gather(name, &path, storage, ty, &layout)?;
    Ok(NamedTensor {
        shape: layout.shape,
        values: decode_le(ty, &bytes, name)?,
    })
}

/// Only element types we can decode get this far.
fn known_dtype(name: &str, dtype: &Dtype) -> Result<ElementType> {
    match dtype {
        Dtype::Known(ty) => Ok(*ty),
        Dtype::Unsupported(what) => Err(Error::weights(format!(
            "tensor `{name}` has unsupported dtype `{what}`; supported are float32/16/64, \
             bfloat16, int64/32/16/8, uint8/16/32/64 and bool"
        ))),
    }
}

/// The storage entry's bytes, cut to the length the pickle declares.
fn storage_bytes<'a>(
    name: &str,
    storage: &StorageRef,
    archive: &zip::Archive<'a>,
    top: &str,
) -> Result<(String, &'a [u8])> {
    let path = format!("{top}/data/{}", storage.key);
    let entry = archive.get(&path)?.ok_or_else(|| {
        Error::weights(format!(
            "tensor `{name}`: storage entry `{path}` is missing from the archive"
        ))
    })?;
    // Typed storages count elements, untyped ones (torch >= 2 for newer dtypes) count bytes.
    let (unit, declared) = match &storage.kind {
        StorageKind::Untyped => (1, format!("{} bytes", storage.numel)),
        StorageKind::Typed(dtype) => {
            let ty = known_dtype(name, dtype)?;
            (
                ty.size(),
                format!("{} {} elements", storage.numel, ty.name()),
            )
        }
    };
    let needed = usize::try_from(storage.numel)
        .ok()
        .and_then(|n| n.checked_mul(unit));
    match needed.and_then(|n| entry.get(..n)) {
        Some(bytes) => Ok((path, bytes)),
        None => Err(Error::weights(format!(
            "tensor `{name}`: storage `{path}` holds {} bytes, too short for the {declared} the \
             pickle declares",
            entry.len(),
        ))),
    }
}
