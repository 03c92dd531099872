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

use crate::error::{Error, Result};
use crate::weights::safetensors_io::{ElementType, decode_le};
use crate::weights::tensor_set::{NamedTensor, TensorSet};
use std::borrow::Cow;

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

/// Size, stride and offset in elements, converted to `usize` and checked for overflow.
struct Layout {
    shape: Vec<usize>,
    /// Strides with those of size-1 dimensions zeroed: they are never stepped, and a huge one must
    /// not overflow the index arithmetic.
    stride: Vec<usize>,
    offset: usize,
    numel: usize,
}

impl Layout {
    fn new(name: &str, t: &TensorRef) -> Result<Self> {
        let too_big =
            || Error::weights(format!("tensor `{name}`: size, stride or offset overflows"));
        let to_usize = |v: &u64| usize::try_from(*v).map_err(|_| too_big());
        let shape = t.size.iter().map(to_usize).collect::<Result<Vec<_>>>()?;
        let stride = t
            .stride
            .iter()
            .zip(&shape)
            .map(|(s, &d)| if d == 1 { Ok(0) } else { to_usize(s) })
            .collect::<Result<Vec<_>>>()?;
        let offset = to_usize(&t.offset)?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(too_big)?;
        Ok(Self {
            shape,
            stride,
            offset,
            numel,
        })
    }

    /// The highest element index the tensor touches (`None` on overflow); only meaningful when
    /// `numel > 0`.
    fn last_index(&self) -> Option<usize> {
        self.shape
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |acc, (&d, &s)| {
                acc.checked_add(d.checked_sub(1)?.checked_mul(s)?)
            })
    }

    /// True when the elements are consecutive in row-major order.
    fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.stride).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }
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

/// Copies the tensor's elements out of the storage in row-major order.
fn gather<'a>(
    name: &str,
    path: &str,
    storage: &'a [u8],
    ty: ElementType,
    layout: &Layout,
) -> Result<Cow<'a, [u8]>> {
    if layout.numel == 0 {
        return Ok(Cow::Borrowed(&[]));
    }
    let es = ty.size();
    let capacity = storage.len() / es;
    let out_of_range = |reach: String| {
        Error::weights(format!(
            "tensor `{name}`: size {:?}, stride {:?} and storage offset {} reach element {reach}, \
             but storage `{path}` holds only {capacity} {} elements",
            layout.shape,
            layout.stride,
            layout.offset,
            ty.name()
        ))
    };
    let last = layout
        .last_index()
        .ok_or_else(|| out_of_range("beyond usize::MAX".into()))?;
    if last >= capacity {
        return Err(out_of_range(last.to_string()));
    }
    // `last < capacity` bounds every index below, so the slicing cannot fail; `get` keeps it so.
    let slice = |first: usize, count: usize| storage.get(first * es..(first + count) * es);
    if layout.is_contiguous() {
        return slice(layout.offset, layout.numel)
            .map(Cow::Borrowed)
            .ok_or_else(|| out_of_range(last.to_string()));
    }
    let mut out = Vec::with_capacity(layout.numel * es);
    let mut index = vec![0usize; layout.shape.len()];
    let mut pos = layout.offset;
    for _ in 0..layout.numel {
        out.extend_from_slice(slice(pos, 1).ok_or_else(|| out_of_range(pos.to_string()))?);
        advance(&mut index, &mut pos, layout);
    }
    Ok(Cow::Owned(out))
}

/// Steps a row-major multi-index (odometer style) and the matching storage position.
fn advance(index: &mut [usize], pos: &mut usize, layout: &Layout) {
    for ((i, &d), &s) in index
        .iter_mut()
        .zip(&layout.shape)
        .zip(&layout.stride)
        .rev()
    {
        if *i + 1 < d {
            *i += 1;
            *pos += s;
            return;
        }
        // Wrapping this dimension: step back to its first element, carry into the next one.
        *pos -= s * *i;
        *i = 0;
    }
}

// ---------------------------------------------------------------------------------------------

/// A minimal reader for the stored (uncompressed) ZIP archives `torch.save` writes.
mod zip {
    use std::cell::Cell;
    use std::collections::BTreeMap;

    use crate::error::{Error, Result};

    const LOCAL_SIG: u32 = 0x0403_4b50;
    const CENTRAL_SIG: u32 = 0x0201_4b50;
    const EOCD_SIG: u32 = 0x0605_4b50;
    const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
    const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
    const EOCD_LEN: usize = 22;
    const ZIP64_LOCATOR_LEN: usize = 20;
    const CENTRAL_LEN: usize = 46;
    const LOCAL_LEN: usize = 30;
    /// The end record may be followed by a comment of up to this many bytes.
    const MAX_COMMENT: usize = 0xFFFF;
    /// ZIP64 extra field id.
    const ZIP64_EXTRA: u16 = 0x0001;
    /// A 32-bit field holding this value means "see the ZIP64 record".
    const SENTINEL32: u64 = 0xFFFF_FFFF;

    /// The entries of an archive, by name, over the file's bytes.
    pub(super) struct Archive<'a> {
        bytes: &'a [u8],
        entries: BTreeMap<String, Entry>,
    }

    /// Where one entry's (stored) data lies in the file.
    struct Entry {
        start: usize,
        len: usize,
        crc32: u32,
        /// Set once the CRC has been checked: many tensors may view one storage, and re-checking
        /// it for each would let a small hostile file cost time quadratic in its size.
        verified: Cell<bool>,
    }

    /// The central directory's place and entry count, from the (ZIP64) end record.
    struct Directory {
        offset: u64,
        size: u64,
        count: u64,
    }

    /// Sizes and offset of one central directory record, after ZIP64 substitution.
    struct Sizes {
        size: u64,
        compressed: u64,
        offset: u64,
    }

    fn corrupt(what: &str) -> Error {
        Error::weights(format!("truncated or corrupt .pth archive: {what}"))
    }

    fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
        bytes
            .get(at..)?
            .first_chunk()
            .map(|b| u16::from_le_bytes(*b))
    }

    fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
        bytes
            .get(at..)?
            .first_chunk()
            .map(|b| u32::from_le_bytes(*b))
    }

    fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
        bytes
            .get(at..)?
            .first_chunk()
            .map(|b| u64::from_le_bytes(*b))
    }

    impl<'a> Archive<'a> {
        /// Reads the central directory and locates every entry's data.
        pub(super) fn parse(bytes: &'a [u8]) -> Result<Self> {
            if !bytes.starts_with(b"PK\x03\x04") {
                return Err(Error::weights(
                    "not a PyTorch .pth file (no ZIP signature); legacy non-zip torch.save files \
                     are not supported",
                ));
            }
            let eocd = find_end_record(bytes)?;
            let directory = read_end_record(bytes, eocd)?;
            let entries = read_directory(bytes, &directory)?;
            check_disjoint(&entries)?;
            Ok(Self { bytes, entries })
        }

        /// Entry names, sorted.
        pub(super) fn names(&self) -> impl Iterator<Item = &str> {
            self.entries.keys().map(String::as_str)
        }

        /// An entry's data after checking its CRC-32, or `None` when there is no such entry.
        pub(super) fn get(&self, name: &str) -> Result<Option<&'a [u8]>> {
            let Some(entry) = self.entries.get(name) else {
                return Ok(None);
            };
            let data = self
                .bytes
                .get(entry.start..entry.start + entry.len)
                .ok_or_else(|| corrupt(&format!("entry `{name}` lies outside the file")))?;
            if !entry.verified.get() {
                let crc = crc32(data);
                if crc != entry.crc32 {
                    return Err(corrupt(&format!(
                        "entry `{name}` fails its CRC-32 check (stored {:08x}, computed {crc:08x})",
                        entry.crc32
                    )));
                }
                entry.verified.set(true);
            }
            Ok(Some(data))
        }
    }

    /// Real archives never share data between entries; refusing overlaps bounds the bytes we ever
    /// checksum by the file's length, however many entries a hostile directory lists.
    fn check_disjoint(entries: &BTreeMap<String, Entry>) -> Result<()> {
        let mut ranges: Vec<(usize, usize, &str)> = entries
            .iter()
            .map(|(name, e)| (e.start, e.start + e.len, name.as_str()))
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            if let [(_, end, a), (start, _, b)] = pair
                && start < end
            {
                return Err(corrupt(&format!("entries `{a}` and `{b}` overlap")));
            }
        }
        Ok(())
    }

    /// The end-of-central-directory record is the last thing in the file, before a comment.
    fn find_end_record(bytes: &[u8]) -> Result<usize> {
        let missing = || corrupt("no end-of-central-directory record (is the file cut short?)");
        let last = bytes.len().checked_sub(EOCD_LEN).ok_or_else(missing)?;
        (last.saturating_sub(MAX_COMMENT)..=last)
            .rev()
            .find(|&at| {
                u32_at(bytes, at) == Some(EOCD_SIG)
                    && u16_at(bytes, at + 20)
                        .is_some_and(|c| at + EOCD_LEN + usize::from(c) <= bytes.len())
            })
            .ok_or_else(missing)
    }

    /// Reads the end record, preferring the ZIP64 one when a locator precedes it (torch writes
    /// both, even for small files).
    fn read_end_record(bytes: &[u8], eocd: usize) -> Result<Directory> {
        let field = |at: usize| u32_at(bytes, eocd + at).map(u64::from);
        let (Some(count), Some(size), Some(offset)) = (
            u16_at(bytes, eocd + 10).map(u64::from),
            field(12),
            field(16),
        ) else {
            return Err(corrupt("short end-of-central-directory record"));
        };
        let locator = eocd.checked_sub(ZIP64_LOCATOR_LEN);
        if let Some(at) = locator.filter(|&at| u32_at(bytes, at) == Some(ZIP64_LOCATOR_SIG)) {
            return read_zip64_end_record(bytes, at);
        }
        if count == 0xFFFF || size == SENTINEL32 || offset == SENTINEL32 {
            return Err(corrupt("ZIP64 sizes without a ZIP64 end record"));
        }
        Ok(Directory {
            offset,
            size,
            count,
        })
    }

    fn read_zip64_end_record(bytes: &[u8], locator: usize) -> Result<Directory> {
        let at = u64_at(bytes, locator + 8)
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&at| u32_at(bytes, at) == Some(ZIP64_EOCD_SIG))
            .ok_or_else(|| corrupt("the ZIP64 locator does not point at a ZIP64 end record"))?;
        match (
            u64_at(bytes, at + 32),
            u64_at(bytes, at + 40),
            u64_at(bytes, at + 48),
        ) {
            (Some(count), Some(size), Some(offset)) => Ok(Directory {
                offset,
                size,
                count,
            }),
            _ => Err(corrupt("short ZIP64 end record")),
        }
    }

    fn read_directory(bytes: &[u8], dir: &Directory) -> Result<BTreeMap<String, Entry>> {
        let range = usize::try_from(dir.offset)
            .ok()
            .zip(usize::try_from(dir.size).ok())
            .and_then(|(start, len)| bytes.get(start..start.checked_add(len)?));
        let cd = range.ok_or_else(|| {
            corrupt(&format!(
                "central directory ({} bytes at byte {}) lies beyond the file's {} bytes",
                dir.size,
                dir.offset,
                bytes.len()
            ))
        })?;
        let mut entries = BTreeMap::new();
        let mut pos = 0;
        // Each record consumes at least 46 bytes of `cd` or fails, so a hostile count cannot spin.
        for _ in 0..dir.count {
            let (name, entry, next) = read_central_record(bytes, cd, pos)?;
            if entries.insert(name.clone(), entry).is_some() {
                return Err(corrupt(&format!("entry `{name}` appears twice")));
            }
            pos = next;
        }
        Ok(entries)
    }

    /// Parses the central record at `cd[pos..]`; returns the entry and the next record's position.
    fn read_central_record(bytes: &[u8], cd: &[u8], pos: usize) -> Result<(String, Entry, usize)> {
        if u32_at(cd, pos) != Some(CENTRAL_SIG) {
            return Err(corrupt(&format!(
                "bad central directory signature at record byte {pos}"
            )));
        }
        let short = || corrupt("short central directory record");
        let u16f = |at: usize| u16_at(cd, pos + at).map(usize::from).ok_or_else(short);
        let u32f = |at: usize| u32_at(cd, pos + at).ok_or_else(short);
        let (flags, method) = (u16f(8)?, u16f(10)?);
        let crc32 = u32f(16)?;
        let (name_len, extra_len, comment_len) = (u16f(28)?, u16f(30)?, u16f(32)?);
        let mut sizes = Sizes {
            compressed: u32f(20)?.into(),
            size: u32f(24)?.into(),
            offset: u32f(42)?.into(),
        };
        let name_start = pos + CENTRAL_LEN;
        let extra_start = name_start + name_len;
        let next = extra_start + extra_len + comment_len;
        let (Some(name), Some(extra), true) = (
            cd.get(name_start..extra_start),
            cd.get(extra_start..extra_start + extra_len),
            next <= cd.len(),
        ) else {
            return Err(short());
        };
        let name = String::from_utf8_lossy(name).into_owned();
        apply_zip64(&name, extra, &mut sizes)?;
        check_stored(&name, flags, method, &sizes)?;
        let start = local_data_start(bytes, &name, sizes.offset)?;
        let end = usize::try_from(sizes.size)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= bytes.len());
        let Some(end) = end else {
            return Err(corrupt(&format!(
                "entry `{name}` ({} bytes at byte {start}) runs past the end of the file",
                sizes.size
            )));
        };
        Ok((
            name,
            Entry {
                start,
                len: end - start,
                crc32,
                verified: Cell::new(false),
            },
            next,
        ))
    }

    /// Replaces 0xFFFFFFFF fields by the 64-bit values in the ZIP64 extra field, in the order the
    /// format fixes: size, compressed size, offset.
    fn apply_zip64(name: &str, extra: &[u8], sizes: &mut Sizes) -> Result<()> {
        let fields = [&mut sizes.size, &mut sizes.compressed, &mut sizes.offset];
        if fields.iter().all(|f| **f != SENTINEL32) {
            return Ok(());
        }
        let bad = || {
            corrupt(&format!(
                "entry `{name}` has a missing or short ZIP64 extra field"
            ))
        };
        let body = find_extra(extra, ZIP64_EXTRA).ok_or_else(bad)?;
        let mut at = 0;
        for field in fields {
            if *field == SENTINEL32 {
                *field = u64_at(body, at).ok_or_else(bad)?;
                at += 8;
            }
        }
        Ok(())
    }

    /// The body of the extra field with id `id`, if present and well formed.
    fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
        let mut pos = 0;
        while let (Some(tag), Some(len)) = (u16_at(extra, pos), u16_at(extra, pos + 2)) {
            let body = extra.get(pos + 4..pos + 4 + usize::from(len))?;
            if tag == id {
                return Some(body);
            }
            pos += 4 + usize::from(len);
        }
        None
    }

    /// torch.save never compresses or encrypts; anything else was repacked by another tool.
    fn check_stored(name: &str, flags: usize, method: usize, sizes: &Sizes) -> Result<()> {
        if flags & 1 != 0 {
            return Err(Error::weights(format!("ZIP entry `{name}` is encrypted")));
        }
        if method != 0 {
            return Err(Error::weights(format!(
                "ZIP entry `{name}` is compressed (method {method}); only stored entries, as \
                 torch.save writes them, are supported: re-save the file with torch.save"
            )));
        }
        if sizes.compressed != sizes.size {
            return Err(corrupt(&format!(
                "stored entry `{name}` has different compressed and uncompressed sizes"
            )));
        }
        Ok(())
    }

    /// The data follows the local header, whose name and extra lengths may differ from the central
    /// record's (torch pads the local extra field to align storages).
    fn local_data_start(bytes: &[u8], name: &str, offset: u64) -> Result<usize> {
        let bad = || {
            corrupt(&format!(
                "entry `{name}` has no valid local header at byte {offset}"
            ))
        };
        let at = usize::try_from(offset).map_err(|_| bad())?;
        if u32_at(bytes, at) != Some(LOCAL_SIG) {
            return Err(bad());
        }
        let name_len = u16_at(bytes, at + 26).ok_or_else(bad)?;
        let extra_len = u16_at(bytes, at + 28).ok_or_else(bad)?;
        Ok(at + LOCAL_LEN + usize::from(name_len) + usize::from(extra_len))
    }

    /// CRC-32 (IEEE, as ZIP uses), table-driven so checking a few MB stays cheap in debug builds.
    pub(super) fn crc32(data: &[u8]) -> u32 {
        !data.iter().fold(!0u32, |crc, &b| {
            CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
        })
    }

    const CRC_TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
}

// ---------------------------------------------------------------------------------------------

/// A restricted unpickler: builds values for the opcodes and globals of a state_dict, never calls
/// anything.
mod pickle {
    use std::collections::{BTreeMap, HashMap};
    use std::rc::Rc;

    use crate::error::{Error, Result};
    use crate::weights::safetensors_io::ElementType;

    /// Tuples are the only values that nest by value; a state_dict needs depth 3. The limit keeps
    /// the recursive drop of hostile nesting off the end of the stack.
    const MAX_TUPLE_DEPTH: usize = 32;

    /// The newest pickle protocol we know.
    const MAX_PROTOCOL: u8 = 5;

    /// An element type as the pickle names it.
    #[derive(Clone, Debug)]
    pub(super) enum Dtype {
        /// One we decode.
        Known(ElementType),
        /// One we can only name in an error (`torch.float8_e4m3fn`, `torch.ComplexFloatStorage`).
        Unsupported(Rc<str>),
    }

    /// How a storage's `numel` is counted.
    #[derive(Clone, Debug)]
    pub(super) enum StorageKind {
        /// In elements of this type (`torch.FloatStorage`, ...).
        Typed(Dtype),
        /// In bytes (`torch.storage.UntypedStorage`, used with `_rebuild_tensor_v3`).
        Untyped,
    }

    /// A persistent id `('storage', type, key, location, numel)`: data lives in `data/<key>`.
    #[derive(Debug)]
    pub(super) struct StorageRef {
        pub(super) kind: StorageKind,
        pub(super) key: Rc<str>,
        pub(super) numel: u64,
    }

    /// A tensor as `_rebuild_tensor*` describes it; its data is read later, from the archive.
    #[derive(Debug)]
    pub(super) struct TensorRef {
        pub(super) storage: Rc<StorageRef>,
        pub(super) dtype: Dtype,
        pub(super) offset: u64,
        pub(super) size: Vec<u64>,
        pub(super) stride: Vec<u64>,
        /// The tensor's metadata sets torch's lazy `neg` or `conj` bit: stored values are not the
        /// tensor's values.
        pub(super) lazy_bits: bool,
    }

    /// A dict key; state_dict keys are strings, and we need nothing else.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) enum Key {
        /// An int (or bool) key.
        Int(i64),
        /// A str key.
        Str(Rc<str>),
    }

    /// The only globals a state_dict refers to.
    #[derive(Clone, Debug)]
    pub(super) enum Global {
        OrderedDict,
        RebuildTensor,
        RebuildTensorV2,
        RebuildTensorV3,
        RebuildParameter,
        RebuildParameterWithState,
        /// A storage class: a marker in persistent ids, never called.
        Storage(StorageKind),
        /// A dtype object (`torch.uint16`): a `_rebuild_tensor_v3` argument, never called.
        Dtype(Dtype),
    }

    impl Global {
        /// The Python name, for error messages.
        fn name(&self) -> &'static str {
            match self {
                Global::OrderedDict => "collections.OrderedDict",
                Global::RebuildTensor => "torch._utils._rebuild_tensor",
                Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
                Global::RebuildTensorV3 => "torch._utils._rebuild_tensor_v3",
                Global::RebuildParameter => "torch._utils._rebuild_parameter",
                Global::RebuildParameterWithState => "torch._utils._rebuild_parameter_with_state",
                Global::Storage(_) => "a torch storage class",
                Global::Dtype(_) => "a torch dtype",
            }
        }
    }

    /// A pickled value. Lists and dicts are indices into the machine's arenas, so that shared
    /// references (memo gets) see later mutation and no reference cycle can form.
    #[derive(Clone, Debug)]
    pub(super) enum Value {
        None,
        Bool(bool),
        Int(i64),
        /// A float; no state_dict part needs its value, so it is not kept.
        Float,
        Str(Rc<str>),
        Tuple(Rc<Tuple>),
        List(usize),
        Dict(usize),
        Global(Global),
        Storage(Rc<StorageRef>),
        Tensor(Rc<TensorRef>),
    }

    /// An immutable tuple and its nesting depth (1 for a tuple of non-tuples).
    #[derive(Debug)]
    pub(super) struct Tuple {
        items: Vec<Value>,
        depth: usize,
    }

    impl Value {
        /// The Python type with its article ("an int"), for error messages.
        pub(super) fn kind(&self) -> &'static str {
            match self {
                Value::None => "None",
                Value::Bool(_) => "a bool",
                Value::Int(_) => "an int",
                Value::Float => "a float",
                Value::Str(_) => "a str",
                Value::Tuple(_) => "a tuple",
                Value::List(_) => "a list",
                Value::Dict(_) => "a dict",
                Value::Global(_) => "a class or function",
                Value::Storage(_) => "a storage",
                Value::Tensor(_) => "a tensor",
            }
        }

        fn tuple_depth(&self) -> usize {
            match self {
                Value::Tuple(t) => t.depth,
                _ => 0,
            }
        }
    }

    /// Runs the pickle and returns the entries of the top-level dict.
    pub(super) fn load_dict(pickle: &[u8]) -> Result<BTreeMap<Key, Value>> {
        let mut machine = Machine::new(pickle);
        let top = machine.run()?;
        match top {
            Value::Dict(i) => Ok(machine
                .dicts
                .get_mut(i)
                .map(std::mem::take)
                .unwrap_or_default()),
            other => Err(Error::weights(format!(
                "the .pth file's top-level object is {}, not a dict of tensors (a state_dict)",
                other.kind()
            ))),
        }
    }

    /// Resolves a global to one we allow, or refuses it by name.
    fn resolve_global(module: &str, name: &str) -> Result<Global> {
        let global = match (module, name) {
            ("collections", "OrderedDict") => Some(Global::OrderedDict),
            ("torch._utils", "_rebuild_tensor") => Some(Global::RebuildTensor),
            ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
            ("torch._utils", "_rebuild_tensor_v3") => Some(Global::RebuildTensorV3),
            ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
            ("torch._utils", "_rebuild_parameter_with_state") => {
                Some(Global::RebuildParameterWithState)
            }
            ("torch" | "torch.storage", "UntypedStorage") => {
                Some(Global::Storage(StorageKind::Untyped))
            }
            ("torch", _) => storage_class(name)
                .map(|d| Global::Storage(StorageKind::Typed(d)))
                .or_else(|| dtype_object(name).map(Global::Dtype)),
            _ => None,
        };
        global.ok_or_else(|| forbidden(module, name))
    }

    fn forbidden(module: &str, name: &str) -> Error {
        let hint = if module.starts_with("__torch__") {
            " (this looks like a TorchScript archive from torch.jit.save; save \
             model.state_dict() with torch.save instead)"
        } else {
            ""
        };
        Error::weights(format!(
            "pickle references forbidden global `{module}.{name}`; only tensor state_dicts are \
             accepted{hint}"
        ))
    }

    /// `torch.<Type>Storage`: the legacy typed storage classes persistent ids name.
    fn storage_class(name: &str) -> Option<Dtype> {
        let known = match name.strip_suffix("Storage")? {
            "Double" => ElementType::F64,
            "Float" => ElementType::F32,
            "Half" => ElementType::F16,
            "BFloat16" => ElementType::BF16,
            "Long" => ElementType::I64,
            "Int" => ElementType::I32,
            "Short" => ElementType::I16,
            "Char" => ElementType::I8,
            "Byte" => ElementType::U8,
            "Bool" => ElementType::Bool,
            "ComplexFloat" | "ComplexDouble" | "QInt8" | "QUInt8" | "QInt32" | "QUInt4x2"
            | "QUInt2x4" => return Some(Dtype::Unsupported(format!("torch.{name}").into())),
            _ => return None,
        };
        Some(Dtype::Known(known))
    }

    /// `torch.<dtype>`: dtype objects, as `_rebuild_tensor_v3` receives them.
    fn dtype_object(name: &str) -> Option<Dtype> {
        let known = match name {
            "float64" | "double" => ElementType::F64,
            "float32" | "float" => ElementType::F32,
            "float16" | "half" => ElementType::F16,
            "bfloat16" => ElementType::BF16,
            "int64" | "long" => ElementType::I64,
            "int32" | "int" => ElementType::I32,
            "int16" | "short" => ElementType::I16,
            "int8" => ElementType::I8,
            "uint64" => ElementType::U64,
            "uint32" => ElementType::U32,
            "uint16" => ElementType::U16,
            "uint8" => ElementType::U8,
            "bool" => ElementType::Bool,
            _ => {
                let exotic = ["float8_", "float4_", "complex", "qint", "quint", "bits"];
                let short_ints = [
                    "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
                ];
                return (exotic.iter().any(|p| name.starts_with(p))
                    || short_ints.contains(&name)
                    || matches!(name, "cfloat" | "cdouble" | "chalf"))
                .then(|| Dtype::Unsupported(format!("torch.{name}").into()));
            }
        };
        Some(Dtype::Known(known))
    }

    /// The stack machine state.
    struct Machine<'a> {
        input: &'a [u8],
        pos: usize,
        /// Start of the opcode being run, for error messages.
        op_pos: usize,
        stack: Vec<Value>,
        /// Stack heights at each MARK; values below the top mark are out of reach, as in CPython.
        marks: Vec<usize>,
        /// Keyed by index rather than a vector: LONG_BINPUT may name any u32.
        memo: HashMap<u32, Value>,
        lists: Vec<Vec<Value>>,
        dicts: Vec<BTreeMap<Key, Value>>,
    }

    impl<'a> Machine<'a> {
        fn new(input: &'a [u8]) -> Self {
            Self {
                input,
                pos: 0,
                op_pos: 0,
                stack: Vec::new(),
                marks: Vec::new(),
                memo: HashMap::new(),
                lists: Vec::new(),
                dicts: Vec::new(),
            }
        }

        fn err(&self, what: impl std::fmt::Display) -> Error {
            Error::weights(format!("data.pkl byte {}: {what}", self.op_pos))
        }

        /// Runs opcodes until STOP. Every opcode consumes at least one byte, so this ends.
        fn run(&mut self) -> Result<Value> {
            loop {
                self.op_pos = self.pos;
                let [op] = self.take_array::<1>()?;
                if op == b'.' {
                    return self.pop();
                }
                self.step(op)?;
            }
        }

        fn step(&mut self, op: u8) -> Result<()> {
            match op {
                0x80 => self.proto(),
                0x95 => self.take(8).map(drop), // FRAME: a read-ahead hint
                b'(' => {
                    self.marks.push(self.stack.len());
                    Ok(())
                }
                b'}' => self.push_dict(BTreeMap::new()),
                b']' => self.push_list(Vec::new()),
                b')' => self.push_tuple(Vec::new()),
                b't' => self.pop_mark().and_then(|items| self.push_tuple(items)),
                0x85..=0x87 => self
                    .pop_n(usize::from(op - 0x84))
                    .and_then(|v| self.push_tuple(v)),
                b'l' => self.pop_mark().and_then(|items| self.push_list(items)),
                b'd' => self.dict_from_mark(),
                b'X' => self.unicode::<4>(),
                0x8c => self.unicode::<1>(),
                0x8d => self.unicode::<8>(),
                b'J' => self
                    .take_array()
                    .and_then(|b| self.push(Value::Int(i32::from_le_bytes(b).into()))),
                b'K' => self
                    .take_array::<1>()
                    .and_then(|[b]| self.push(Value::Int(b.into()))),
                b'M' => self
                    .take_array()
                    .and_then(|b| self.push(Value::Int(u16::from_le_bytes(b).into()))),
                0x8a => self.long::<1>(),
                0x8b => self.long::<4>(),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'N' => self.push(Value::None),
                b'G' => self.take(8).and_then(|_| self.push(Value::Float)),
                b'q' => self.take_array::<1>().and_then(|[i]| self.put(i.into())),
                b'r' => self
                    .take_array()
                    .and_then(|b| self.put(u32::from_le_bytes(b))),
                0x94 => self.memoize(),
                b'h' => self.take_array::<1>().and_then(|[i]| self.get(i.into())),
                b'j' => self
                    .take_array()
                    .and_then(|b| self.get(u32::from_le_bytes(b))),
                b's' => self.setitem(),
                b'u' => self.setitems(),
                b'a' => self.append(),
                b'e' => self.appends(),
                b'c' => self.global(),
                0x93 => self.stack_global(),
                b'R' => self.reduce(),
                b'b' => self.build(),
                b'Q' => self.persistent_id(),
                b'0' => self.pop().map(drop),
                b'1' => self.pop_mark().map(drop),
                b'2' => self.peek().cloned().and_then(|v| self.push(v)),
                _ => Err(self.unsupported_opcode(op)),
            }
        }

        fn unsupported_opcode(&self, op: u8) -> Error {
            let name = match op {
                0x81 => "NEWOBJ",
                0x92 => "NEWOBJ_EX",
                b'i' => "INST",
                b'o' => "OBJ",
                b'P' => "PERSID",
                0x82..=0x84 => "EXT",
                b'B' | b'C' | 0x8e => "BINBYTES",
                b'T' | b'U' | b'S' => "STRING",
                0x8f..=0x91 => "SET",
                0x96..=0x98 => "BUFFER",
                b'I' | b'L' | b'F' | b'V' | b'p' | b'g' => "text-protocol",
                _ => {
                    return self.err(format!(
                        "unknown pickle opcode 0x{op:02x}; only tensor state_dicts are accepted"
                    ));
                }
            };
            self.err(format!(
                "unsupported pickle opcode 0x{op:02x} ({name}); only tensor state_dicts are accepted"
            ))
        }

        // --- input -------------------------------------------------------------------------

        fn take(&mut self, n: usize) -> Result<&'a [u8]> {
            let input = self.input;
            let end = self.pos.checked_add(n).filter(|&e| e <= input.len());
            let bytes = end.and_then(|e| input.get(self.pos..e)).ok_or_else(|| {
                let left = input.len().saturating_sub(self.pos);
                self.err(format!(
                    "truncated pickle (needs {n} more bytes, has {left})"
                ))
            })?;
            self.pos += n;
            Ok(bytes)
        }

        fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
            let bytes = self.take(N)?;
            bytes
                .first_chunk()
                .copied()
                .ok_or_else(|| self.err("truncated pickle"))
        }

        /// A length prefix of `N` bytes (little-endian), as a `usize`.
        fn take_len<const N: usize>(&mut self) -> Result<usize> {
            let bytes = self.take_array::<N>()?;
            let mut wide = [0u8; 8];
            wide.get_mut(..N)
                .ok_or_else(|| self.err("length field too wide"))?
                .copy_from_slice(&bytes);
            // A length beyond the input fails in `take` right after; only the conversion can fail here.
            usize::try_from(u64::from_le_bytes(wide))
                .map_err(|_| self.err("length beyond the input"))
        }

        fn line(&mut self) -> Result<String> {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let len = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| self.err("truncated GLOBAL"))?;
            let text = String::from_utf8_lossy(self.take(len)?).into_owned();
            self.take(1)?;
            Ok(text)
        }

        // --- stack -------------------------------------------------------------------------

        /// Pushes a value. Every push follows reading at least one input byte, so the stack (like
        /// every other structure here) stays proportional to the input.
        fn push(&mut self, value: Value) -> Result<()> {
            self.stack.push(value);
            Ok(())
        }

        /// The top value above the current mark.
        fn peek(&self) -> Result<&Value> {
            let floor = self.marks.last().copied().unwrap_or(0);
            self.stack
                .last()
                .filter(|_| self.stack.len() > floor)
                .ok_or_else(|| self.err("stack underflow"))
        }

        fn pop(&mut self) -> Result<Value> {
            self.peek()?;
            self.stack.pop().ok_or_else(|| self.err("stack underflow"))
        }

        fn pop_n(&mut self, n: usize) -> Result<Vec<Value>> {
            let floor = self.marks.last().copied().unwrap_or(0);
            let start = self.stack.len().checked_sub(n).filter(|&s| s >= floor);
            let start = start.ok_or_else(|| self.err("stack underflow"))?;
            Ok(self.stack.split_off(start))
        }

        fn pop_mark(&mut self) -> Result<Vec<Value>> {
            let mark = self
                .marks
                .pop()
                .ok_or_else(|| self.err("no MARK to pop to"))?;
            if mark > self.stack.len() {
                return Err(self.err("stack underflow"));
            }
            Ok(self.stack.split_off(mark))
        }

        fn push_tuple(&mut self, items: Vec<Value>) -> Result<()> {
            let depth = 1 + items.iter().map(Value::tuple_depth).max().unwrap_or(0);
            if depth > MAX_TUPLE_DEPTH {
                return Err(self.err(format!(
                    "tuples nested deeper than {MAX_TUPLE_DEPTH} levels"
                )));
            }
            self.push(Value::Tuple(Rc::new(Tuple { items, depth })))
        }

        fn push_list(&mut self, items: Vec<Value>) -> Result<()> {
            self.lists.push(items);
            self.push(Value::List(self.lists.len() - 1))
        }

        fn push_dict(&mut self, dict: BTreeMap<Key, Value>) -> Result<()> {
            self.dicts.push(dict);
            self.push(Value::Dict(self.dicts.len() - 1))
        }

        // --- scalars -----------------------------------------------------------------------

        fn proto(&mut self) -> Result<()> {
            let [version] = self.take_array::<1>()?;
            if version > MAX_PROTOCOL {
                return Err(self.err(format!(
                    "pickle protocol {version} is newer than {MAX_PROTOCOL}"
                )));
            }
            Ok(())
        }

        fn unicode<const N: usize>(&mut self) -> Result<()> {
            let len = self.take_len::<N>()?;
            let bytes = self.take(len)?;
            let text = std::str::from_utf8(bytes).map_err(|_| self.err("string is not UTF-8"))?;
            self.push(Value::Str(text.into()))
        }

        /// LONG1 / LONG4: little-endian two's complement of any length; we keep what fits in i64.
        fn long<const N: usize>(&mut self) -> Result<()> {
            let len = self.take_len::<N>()?;
            let bytes = self.take(len)?;
            if len > 8 {
                return Err(self.err(format!("integer of {len} bytes does not fit in 64 bits")));
            }
            let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
            let mut wide = [if negative { 0xFF } else { 0 }; 8];
            wide.get_mut(..len)
                .ok_or_else(|| self.err("integer too wide"))?
                .copy_from_slice(bytes);
            self.push(Value::Int(i64::from_le_bytes(wide)))
        }

        // --- memo --------------------------------------------------------------------------

        fn put(&mut self, index: u32) -> Result<()> {
            let value = self.peek()?.clone();
            self.memo.insert(index, value);
            Ok(())
        }

        fn memoize(&mut self) -> Result<()> {
            let index = u32::try_from(self.memo.len()).map_err(|_| self.err("memo full"))?;
            self.put(index)
        }

        fn get(&mut self, index: u32) -> Result<()> {
            let value = self.memo.get(&index).cloned();
            let value =
                value.ok_or_else(|| self.err(format!("memo entry {index} was never set")))?;
            self.push(value)
        }

        // --- containers --------------------------------------------------------------------

        fn dict_key(&self, key: Value) -> Result<Key> {
            match key {
                Value::Str(s) => Ok(Key::Str(s)),
                Value::Int(i) => Ok(Key::Int(i)),
                Value::Bool(b) => Ok(Key::Int(b.into())),
                other => Err(self.err(format!(
                    "a dict key that is {} is not supported",
                    other.kind()
                ))),
            }
        }

        /// The arena index of the dict at the top of the stack.
        fn target_dict(&self) -> Result<usize> {
            match self.peek()? {
                Value::Dict(i) => Ok(*i),
                other => Err(self.err(format!("SETITEM on {}, not a dict", other.kind()))),
            }
        }

        fn insert_pairs(&mut self, dict: usize, items: Vec<Value>) -> Result<()> {
            if !items.len().is_multiple_of(2) {
                return Err(self.err("odd number of items for a dict"));
            }
            let mut items = items.into_iter();
            while let (Some(key), Some(value)) = (items.next(), items.next()) {
                let key = self.dict_key(key)?;
                let Some(target) = self.dicts.get_mut(dict) else {
                    return Err(self.err("bad dict"));
                };
                target.insert(key, value);
            }
            Ok(())
        }

        fn setitem(&mut self) -> Result<()> {
            let pair = self.pop_n(2)?;
            let dict = self.target_dict()?;
            self.insert_pairs(dict, pair)
        }

        fn setitems(&mut self) -> Result<()> {
            let items = self.pop_mark()?;
            let dict = self.target_dict()?;
            self.insert_pairs(dict, items)
        }

        fn dict_from_mark(&mut self) -> Result<()> {
            let items = self.pop_mark()?;
            self.push_dict(BTreeMap::new())?;
            let dict = self.target_dict()?;
            self.insert_pairs(dict, items)
        }

        fn extend_list(&mut self, items: Vec<Value>) -> Result<()> {
            let list = match self.peek()? {
                Value::List(i) => *i,
                other => return Err(self.err(format!("APPEND on {}, not a list", other.kind()))),
            };
            let Some(target) = self.lists.get_mut(list) else {
                return Err(self.err("bad list"));
            };
            target.extend(items);
            Ok(())
        }

        fn append(&mut self) -> Result<()> {
            let item = self.pop()?;
            self.extend_list(vec![item])
        }

        fn appends(&mut self) -> Result<()> {
            let items = self.pop_mark()?;
            self.extend_list(items)
        }

        // --- globals and calls -------------------------------------------------------------

        fn global(&mut self) -> Result<()> {
            let module = self.line()?;
            let name = self.line()?;
            let global = resolve_global(&module, &name)?;
            self.push(Value::Global(global))
        }

        fn stack_global(&mut self) -> Result<()> {
            let pair = self.pop_n(2)?;
            let [Value::Str(module), Value::Str(name)] = &pair[..] else {
                return Err(self.err("STACK_GLOBAL needs two strings"));
            };
            let global = resolve_global(module, name)?;
            self.push(Value::Global(global))
        }

        fn reduce(&mut self) -> Result<()> {
            let args = match self.pop()? {
                Value::Tuple(t) => t,
                other => {
                    return Err(self.err(format!(
                        "REDUCE arguments are {}, not a tuple",
                        other.kind()
                    )));
                }
            };
            let result = match self.pop()? {
                Value::Global(global) => self.call(&global, &args.items)?,
                other => return Err(self.err(format!("REDUCE calls {}", other.kind()))),
            };
            self.push(result)
        }

        fn call(&mut self, global: &Global, args: &[Value]) -> Result<Value> {
            match (global, args.len()) {
                (Global::OrderedDict, 0) => {
                    self.dicts.push(BTreeMap::new());
                    Ok(Value::Dict(self.dicts.len() - 1))
                }
                (Global::RebuildTensor, 4)
                | (Global::RebuildTensorV2, 6 | 7)
                | (Global::RebuildTensorV3, 7 | 8) => self.rebuild_tensor(global, args),
                (Global::RebuildParameter, 3) | (Global::RebuildParameterWithState, 4) => {
                    match args.first() {
                        Some(tensor @ Value::Tensor(_)) => Ok(tensor.clone()),
                        _ => Err(self.err("_rebuild_parameter's first argument is not a tensor")),
                    }
                }
                (Global::Storage(_) | Global::Dtype(_), _) => {
                    Err(self.err("calling a storage class or dtype is not supported"))
                }
                (global, n) => {
                    Err(self.err(format!("{} called with {n} arguments", global.name())))
                }
            }
        }

        /// `_rebuild_tensor(storage, offset, size, stride)`, `_v2(.., requires_grad, hooks[,
        /// metadata])` and `_v3(.., requires_grad, hooks, dtype[, metadata])`.
        fn rebuild_tensor(&self, global: &Global, args: &[Value]) -> Result<Value> {
            let Some(Value::Storage(storage)) = args.first() else {
                return Err(self.err("_rebuild_tensor's first argument is not a storage"));
            };
            let offset = self.non_negative(args.get(1), "storage_offset")?;
            let size = self.int_tuple(args.get(2), "size")?;
            let stride = self.int_tuple(args.get(3), "stride")?;
            if size.len() != stride.len() {
                return Err(self.err("tensor size and stride have different lengths"));
            }
            let (dtype, metadata) = match global {
                Global::RebuildTensorV3 => match args.get(6) {
                    Some(Value::Global(Global::Dtype(d))) => (d.clone(), args.get(7)),
                    _ => return Err(self.err("_rebuild_tensor_v3's dtype argument is not a dtype")),
                },
                _ => match &storage.kind {
                    StorageKind::Typed(d) => (d.clone(), args.get(6)),
                    StorageKind::Untyped => {
                        return Err(self.err("an untyped storage needs _rebuild_tensor_v3"));
                    }
                },
            };
            let lazy_bits = self.sets_lazy_bit(metadata);
            let storage = Rc::clone(storage);
            Ok(Value::Tensor(Rc::new(TensorRef {
                storage,
                dtype,
                offset,
                size,
                stride,
                lazy_bits,
            })))
        }

        /// Tensor metadata is `{'neg': True}` / `{'conj': True}` when a lazy bit is set.
        fn sets_lazy_bit(&self, metadata: Option<&Value>) -> bool {
            match metadata {
                Some(Value::Dict(i)) => self
                    .dicts
                    .get(*i)
                    .is_some_and(|d| d.values().any(|v| matches!(v, Value::Bool(true)))),
                _ => false,
            }
        }

        fn non_negative(&self, value: Option<&Value>, what: &str) -> Result<u64> {
            match value {
                Some(Value::Int(i)) => {
                    u64::try_from(*i).map_err(|_| self.err(format!("negative tensor {what} {i}")))
                }
                _ => Err(self.err(format!("tensor {what} is not an int"))),
            }
        }

        fn int_tuple(&self, value: Option<&Value>, what: &str) -> Result<Vec<u64>> {
            match value {
                Some(Value::Tuple(t)) => t
                    .items
                    .iter()
                    .map(|v| self.non_negative(Some(v), what))
                    .collect(),
                _ => Err(self.err(format!("tensor {what} is not a tuple"))),
            }
        }

        /// BUILD sets an object's state. The only object a state_dict builds is its OrderedDict,
        /// whose state is the `_metadata` attribute (per-module versions, no weights): dropped.
        fn build(&mut self) -> Result<()> {
            self.pop()?;
            match self.peek()? {
                Value::Dict(_) => Ok(()),
                other => Err(self.err(format!("BUILD on {} is not supported", other.kind()))),
            }
        }

        /// BINPERSID: `('storage', storage_type, key, location, numel)`.
        fn persistent_id(&mut self) -> Result<()> {
            let pid = self.pop()?;
            let bad =
                || self.err("persistent id is not a ('storage', type, key, location, numel) tuple");
            let Value::Tuple(t) = &pid else {
                return Err(bad());
            };
            let [
                Value::Str(tag),
                Value::Global(Global::Storage(kind)),
                Value::Str(key),
                _,
                Value::Int(numel),
            ] = &t.items[..]
            else {
                return Err(bad());
            };
            if &**tag != "storage" {
                return Err(bad());
            }
            let numel = u64::try_from(*numel).map_err(|_| bad())?;
            let storage = StorageRef {
                kind: kind.clone(),
                key: Rc::clone(key),
                numel,
            };
            self.push(Value::Storage(Rc::new(storage)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::safetensors_io::read_safetensors;
    use crate::weights::tensor_set::TensorValues;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/weights/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn shared(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../shared/fixtures/reference/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The error text of a read that must fail.
    fn error_of(bytes: &[u8]) -> String {
        match read_pth(bytes) {
            Ok(set) => panic!("expected an error, got {} tensors", set.len()),
            Err(e) => e.to_string(),
        }
    }

    fn assert_error(bytes: &[u8], parts: &[&str]) {
        let message = error_of(bytes);
        for part in parts {
            assert!(message.contains(part), "`{message}` lacks `{part}`");
        }
    }

    fn floats(set: &TensorSet, name: &str) -> (Vec<usize>, Vec<f32>) {
        match &set[name] {
            NamedTensor {
                shape,
                values: TensorValues::Float(v),
            } => (shape.clone(), v.clone()),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn ints(set: &TensorSet, name: &str) -> (Vec<usize>, Vec<i64>) {
        match &set[name] {
            NamedTensor {
                shape,
                values: TensorValues::Int(v),
            } => (shape.clone(), v.clone()),
            other => panic!("{name}: {other:?}"),
        }
    }

    // --- a tiny ZIP writer, to build archives the tests need byte by byte -------------------

    fn put16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn put32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn put64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A stored ZIP of `entries`; with `zip64`, every size and offset goes through ZIP64 records.
    fn zip_of(entries: &[(String, Vec<u8>)], zip64: bool) -> Vec<u8> {
        let (mut out, mut central) = (Vec::new(), Vec::new());
        for (name, data) in entries {
            let offset = out.len() as u64;
            let len = data.len() as u64;
            let mut extra = Vec::new();
            if zip64 {
                put16(&mut extra, 1);
                put16(&mut extra, 24);
                for v in [len, len, offset] {
                    put64(&mut extra, v);
                }
            }
            let small = |v: u64| if zip64 { u32::MAX } else { v as u32 };
            let crc = zip::crc32(data);
            for (sig, header) in [(0x0403_4b50u32, &mut out), (0x0201_4b50, &mut central)] {
                let is_central = sig == 0x0201_4b50;
                put32(header, sig);
                if is_central {
                    put16(header, 45);
                }
                for v in [45u16, 0, 0, 0, 0] {
                    put16(header, v); // version needed, flags, method, time, date
                }
                put32(header, crc);
                put32(header, small(len));
                put32(header, small(len));
                put16(header, name.len() as u16);
                put16(header, extra.len() as u16);
                if is_central {
                    for v in [0u16, 0, 0] {
                        put16(header, v); // comment length, disk, internal attributes
                    }
                    put32(header, 0);
                    put32(header, small(offset));
                }
                header.extend_from_slice(name.as_bytes());
                header.extend_from_slice(&extra);
            }
            out.extend_from_slice(data);
        }
        let (cd_offset, cd_size, count) = (out.len() as u64, central.len() as u64, entries.len());
        out.extend_from_slice(&central);
        if zip64 {
            let record = out.len() as u64;
            put32(&mut out, 0x0606_4b50);
            put64(&mut out, 44);
            put16(&mut out, 45);
            put16(&mut out, 45);
            put32(&mut out, 0);
            put32(&mut out, 0);
            for v in [count as u64, count as u64, cd_size, cd_offset] {
                put64(&mut out, v);
            }
            put32(&mut out, 0x0706_4b50);
            put32(&mut out, 0);
            put64(&mut out, record);
            put32(&mut out, 1);
        }
        put32(&mut out, 0x0605_4b50);
        put32(&mut out, 0);
        let count16 = if zip64 { u16::MAX } else { count as u16 };
        put16(&mut out, count16);
        put16(&mut out, count16);
        put32(&mut out, if zip64 { u32::MAX } else { cd_size as u32 });
        put32(&mut out, if zip64 { u32::MAX } else { cd_offset as u32 });
        put16(&mut out, 0);
        out
    }

    /// The entries of an archive, by name.
    fn entries_of(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let archive = zip::Archive::parse(bytes).expect("valid archive");
        let names: Vec<String> = archive.names().map(str::to_string).collect();
        names
            .into_iter()
            .map(|n| {
                let data = archive.get(&n).expect("crc").expect("present").to_vec();
                (n, data)
            })
            .collect()
    }

    /// Rebuilds `bytes` with each entry passed through `edit` (`None` drops it).
    fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
        let entries: Vec<_> = entries_of(bytes)
            .into_iter()
            .filter_map(|(n, d)| edit(&n, d).map(|d| (n, d)))
            .collect();
        zip_of(&entries, false)
    }

    // --- a tiny pickle writer -----------------------------------------------------------------

    fn unicode(s: &str) -> Vec<u8> {
        let mut out = vec![b'X'];
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn global(module: &str, name: &str) -> Vec<u8> {
        format!("c{module}\n{name}\n").into_bytes()
    }

    fn int(v: i32) -> Vec<u8> {
        let mut out = vec![b'J'];
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    fn int_tuple(values: &[i32]) -> Vec<u8> {
        let mut out = vec![b'('];
        values.iter().for_each(|&v| out.extend(int(v)));
        out.push(b't');
        out
    }

    /// `{"w": _rebuild_tensor_v2(storage('0', FloatStorage, numel), offset, size, stride, False,
    /// OrderedDict(), *extra)}` as protocol 2 pickles it.
    fn one_tensor_pickle(
        numel: i32,
        offset: i32,
        size: &[i32],
        stride: &[i32],
        extra: &[u8],
    ) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'('];
        p.extend(unicode("w"));
        p.extend(global("torch._utils", "_rebuild_tensor_v2"));
        p.extend(b"((");
        p.extend(unicode("storage"));
        p.extend(global("torch", "FloatStorage"));
        p.extend(unicode("0"));
        p.extend(unicode("cpu"));
        p.extend(int(numel));
        p.extend(b"tQ");
        p.extend(int(offset));
        p.extend(int_tuple(size));
        p.extend(int_tuple(stride));
        p.push(0x89);
        p.extend(global("collections", "OrderedDict"));
        p.extend(b")R");
        p.extend(extra);
        p.extend(b"tRu.");
        p
    }

    /// An archive holding `pickle` and storage `0` with `storage` as f32s.
    fn archive_with(pickle: Vec<u8>, storage: &[f32]) -> Vec<u8> {
        let data = storage.iter().flat_map(|v| v.to_le_bytes()).collect();
        let entries = [
            ("archive/data.pkl".to_string(), pickle),
            ("archive/byteorder".to_string(), b"little".to_vec()),
            ("archive/data/0".to_string(), data),
        ];
        zip_of(&entries, false)
    }

    /// An archive whose pickle is `body` after PROTO 2 (no storages).
    fn archive_of_pickle(body: &[u8]) -> Vec<u8> {
        let mut pickle = vec![0x80, 2];
        pickle.extend_from_slice(body);
        archive_with(pickle, &[])
    }

    const SIX: [f32; 6] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];

    // --- real files ---------------------------------------------------------------------------

    #[test]
    fn shared_fixture_pth_matches_safetensors() {
        let pth = read_pth(&shared("tinyunet_c1_s1_64x64.weights.pth")).expect("pth");
        let st = read_safetensors(&shared("tinyunet_c1_s1_64x64.weights.safetensors")).expect("st");
        assert_eq!(pth.len(), 434);
        assert_eq!(pth, st);
        let counters: Vec<_> = pth
            .keys()
            .filter(|k| k.ends_with("num_batches_tracked"))
            .collect();
        assert!(!counters.is_empty());
        for key in counters {
            assert_eq!(ints(&pth, key), (vec![], vec![7]), "{key}");
        }
        let (shape, values) = floats(&pth, "encoder1.cmrf.pwconv1.conv.weight");
        assert_eq!(shape, [8, 3, 1, 1]);
        assert_eq!(values.len(), 24);
    }

    #[test]
    fn small_fixture_every_dtype_and_layout() {
        let expected = read_safetensors(&fixture("small.safetensors")).expect("safetensors");
        for file in ["small_p2.pth", "small_p5.pth"] {
            let set = read_pth(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(set, expected, "{file}");
        }
        // Independent of the safetensors reader: values as make_weights_fixtures.py wrote them.
        let set = read_pth(&fixture("small_p2.pth")).expect("pth");
        assert_eq!(
            floats(&set, "f32"),
            (vec![2, 3], vec![1.0, -2.5, 3.25, 0.0, 1e-3, -7.0])
        );
        assert_eq!(floats(&set, "f16"), (vec![3], vec![1.5, -2.0, 65504.0]));
        assert_eq!(floats(&set, "bf16").1[..2], [1.5, -2.0]);
        assert_eq!(floats(&set, "f64").1, [0.1, f32::NEG_INFINITY, 2.0]);
        assert_eq!(ints(&set, "i64").1, [-(1 << 62), 0, 1 << 40]);
        assert_eq!(ints(&set, "i32").1, [-5, 7]);
        assert_eq!(ints(&set, "i16").1, [-300, 300]);
        assert_eq!(ints(&set, "i8").1, [-128, 127]);
        assert_eq!(ints(&set, "u8").1, [0, 255]);
        assert_eq!(ints(&set, "u16").1, [1, 65535]); // _rebuild_tensor_v3 + UntypedStorage
        assert_eq!(ints(&set, "bool").1, [1, 0, 1]);
        // base = arange(12).reshape(3, 4) * 0.5 - 1; "transposed" = base.t() (stride (1, 4)).
        let base: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        let transposed: Vec<f32> = (0..12).map(|i| base[(i % 3) * 4 + i / 3]).collect();
        assert_eq!(floats(&set, "transposed"), (vec![4, 3], transposed));
        assert_eq!(floats(&set, "row1"), (vec![4], base[4..8].to_vec())); // storage offset 4
        assert_eq!(ints(&set, "scalar"), (vec![], vec![7]));
        assert_eq!(floats(&set, "empty"), (vec![0, 3], vec![]));
        assert_eq!(floats(&set, "param"), (vec![2], vec![0.25, 0.5])); // _rebuild_parameter
    }

    #[test]
    fn zip64_records_and_plain_records_read_alike() {
        let original = fixture("small_p2.pth");
        let expected = read_pth(&original).expect("original");
        for zip64 in [false, true] {
            let rebuilt = zip_of(&entries_of(&original), zip64);
            assert_eq!(
                read_pth(&rebuilt).expect("rebuilt"),
                expected,
                "zip64 = {zip64}"
            );
        }
    }

    #[test]
    fn strides_offsets_and_expansion_are_gathered() {
        let read = |offset, size: &[i32], stride: &[i32]| {
            let set = read_pth(&archive_with(
                one_tensor_pickle(6, offset, size, stride, b""),
                &SIX,
            ));
            floats(&set.expect("valid"), "w")
        };
        assert_eq!(read(0, &[2, 3], &[3, 1]), (vec![2, 3], SIX.to_vec()));
        assert_eq!(
            read(0, &[3, 2], &[1, 3]),
            (vec![3, 2], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
        );
        assert_eq!(read(1, &[2], &[2]), (vec![2], vec![1.0, 3.0]));
        assert_eq!(read(5, &[], &[]), (vec![], vec![5.0]));
        assert_eq!(read(2, &[3], &[0]), (vec![3], vec![2.0; 3])); // expand()
        assert_eq!(read(9, &[0, 4], &[4, 1]), (vec![0, 4], vec![])); // empty: offset unused
        // A size-1 dimension's stride is never stepped, however large.
        assert_eq!(
            read(0, &[1, 2], &[i32::MAX, 1]),
            (vec![1, 2], vec![0.0, 1.0])
        );
    }

    // --- errors -------------------------------------------------------------------------------

    #[test]
    fn not_a_zip() {
        let message = "not a PyTorch .pth file (no ZIP signature); legacy non-zip torch.save";
        assert_error(&fixture("legacy.pth"), &[message]);
        assert_error(b"", &[message]);
        assert_error(b"hello world", &[message]);
        assert_error(&fixture("small.safetensors"), &[message]);
    }

    #[test]
    fn compressed_entries_are_refused() {
        assert_error(
            &fixture("deflated.pth"),
            &["is compressed (method 8)", "data.pkl"],
        );
    }

    #[test]
    fn forbidden_globals_are_named() {
        let tail = "; only tensor state_dicts are accepted";
        assert_error(
            &fixture("os_system.pth"),
            &["forbidden global `posix.system`", tail],
        );
        assert_error(
            &fixture("whole_model.pth"),
            &["forbidden global `torch.nn.modules.linear.Linear`"],
        );
        let mut eval = global("builtins", "eval");
        eval.extend(unicode("print(1)"));
        eval.extend(b"\x85R.");
        assert_error(
            &archive_of_pickle(&eval),
            &["forbidden global `builtins.eval`", tail],
        );
        // Protocol 4 style: STACK_GLOBAL with SHORT_BINUNICODE operands.
        let popen = b"\x8c\x0asubprocess\x8c\x05Popen\x93.";
        assert_error(
            &archive_of_pickle(popen),
            &["forbidden global `subprocess.Popen`"],
        );
        let script = global("__torch__.model", "TinyUNet");
        assert_error(
            &archive_of_pickle(&script),
            &["`__torch__.model.TinyUNet`", "TorchScript"],
        );
        // A storage class is a marker in persistent ids; calling one is still refused.
        let mut call = global("torch", "FloatStorage");
        call.extend(b")R.");
        assert_error(&archive_of_pickle(&call), &["calling a storage class"]);
    }

    #[test]
    fn unknown_and_unsupported_opcodes_are_named() {
        assert_error(
            &archive_of_pickle(b"\xff"),
            &["data.pkl byte 2", "unknown pickle opcode 0xff"],
        );
        assert_error(&archive_of_pickle(b"\x81"), &["opcode 0x81 (NEWOBJ)"]);
        assert_error(&archive_of_pickle(b"C\x01x."), &["opcode 0x43 (BINBYTES)"]);
    }

    #[test]
    fn top_level_must_be_a_dict_of_tensors() {
        assert_error(
            &fixture("list_top.pth"),
            &["top-level object is a list, not a dict"],
        );
        assert_error(
            &archive_of_pickle(b"K\x01."),
            &["top-level object is an int"],
        );
        assert_error(
            &fixture("checkpoint.pth"),
            &["state_dict entry `epoch` is an int, not a tensor"],
        );
        let mut nested = b"}".to_vec();
        nested.extend(unicode("model"));
        nested.extend(b"}s.");
        assert_error(
            &archive_of_pickle(&nested),
            &["`model` is a dict", "checkpoint"],
        );
        assert_error(
            &archive_of_pickle(b"}K\x03K\x04s."),
            &["key 3 is an integer"],
        );
    }

    #[test]
    fn missing_entries_are_named() {
        let small = fixture("small_p2.pth");
        let no_pickle = rezip(&small, |n, d| (!n.ends_with("data.pkl")).then_some(d));
        assert_error(&no_pickle, &["missing data.pkl"]);
        let no_storage = rezip(&small, |n, d| (n != "small_p2/data/0").then_some(d));
        assert_error(
            &no_storage,
            &["tensor `f32`", "`small_p2/data/0` is missing"],
        );
        let two = zip_of(
            &[
                ("a/data.pkl".into(), b".".to_vec()),
                ("b/data.pkl".into(), b".".to_vec()),
            ],
            false,
        );
        assert_error(&two, &["several data.pkl"]);
    }

    #[test]
    fn short_storages_and_out_of_range_views_are_refused() {
        let small = fixture("small_p2.pth");
        let short = rezip(&small, |n, d| {
            Some(if n == "small_p2/data/0" {
                d[..4].to_vec()
            } else {
                d
            })
        });
        assert_error(&short, &["tensor `f32`", "holds 4 bytes", "6 F32 elements"]);
        let pickle = one_tensor_pickle(6, 5, &[2], &[1], b"");
        assert_error(
            &archive_with(pickle, &SIX),
            &["tensor `w`", "reach element 6", "holds only 6"],
        );
        let pickle = one_tensor_pickle(6, 0, &[2, 3], &[5, 1], b"");
        assert_error(&archive_with(pickle, &SIX), &["reach element 7"]);
        let pickle = one_tensor_pickle(7, 0, &[7], &[1], b"");
        assert_error(
            &archive_with(pickle, &SIX),
            &["holds 24 bytes", "7 F32 elements"],
        );
        let pickle = one_tensor_pickle(6, -1, &[2], &[1], b"");
        assert_error(
            &archive_with(pickle, &SIX),
            &["negative tensor storage_offset -1"],
        );
        let pickle = one_tensor_pickle(6, 0, &[2, 3], &[1], b"");
        assert_error(
            &archive_with(pickle, &SIX),
            &["size and stride have different lengths"],
        );
        // Zero strides could make a few bytes decode into gigabytes; the file length bounds it.
        let pickle = one_tensor_pickle(6, 0, &[1 << 30, 1 << 30], &[0, 0], b"");
        assert_error(
            &archive_with(pickle, &SIX),
            &["more elements than the whole file"],
        );
    }

    #[test]
    fn byte_order_and_checksums_are_checked() {
        let small = fixture("small_p2.pth");
        let big = rezip(&small, |n, d| {
            Some(if n.ends_with("/byteorder") {
                b"big".to_vec()
            } else {
                d
            })
        });
        assert_error(&big, &["big-endian"]);
        let odd = rezip(&small, |n, d| {
            Some(if n.ends_with("/byteorder") {
                b"middle".to_vec()
            } else {
                d
            })
        });
        assert_error(&odd, &["unrecognised byteorder"]);
        let no_order = rezip(&small, |n, d| (!n.ends_with("/byteorder")).then_some(d));
        assert!(
            read_pth(&no_order).is_ok(),
            "old files have no byteorder record"
        );
        // Flip a bit inside the f32 tensor's data: the CRC catches it.
        let needle: Vec<u8> = [1.0f32, -2.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let at = small
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("f32 data");
        let mut corrupt = small.clone();
        corrupt[at] ^= 1;
        assert_error(&corrupt, &["`small_p2/data/0` fails its CRC-32 check"]);
    }

    #[test]
    fn unsupported_dtypes_and_lazy_bits_are_named() {
        assert_error(
            &fixture("float8.pth"),
            &["tensor `f8`", "unsupported dtype `torch.float8_e4m3fn`"],
        );
        let mut neg = b"}".to_vec();
        neg.extend(unicode("neg"));
        neg.extend(b"\x88s");
        let pickle = one_tensor_pickle(6, 0, &[6], &[1], &neg);
        assert_error(
            &archive_with(pickle, &SIX),
            &["tensor `w`", "lazy negation"],
        );
    }

    #[test]
    fn hostile_pickles_fail_cleanly() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "truncated pickle"),
            (b"X\xff\xff\xff\xff", "truncated pickle"),
            (b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", "truncated pickle"),
            (
                b"\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.",
                "does not fit in 64 bits",
            ),
            (b"h\x05.", "memo entry 5 was never set"),
            (b"t.", "no MARK"),
            (b"(0.", "stack underflow"),
            (b"K\x01(s.", "stack underflow"),
            (b"K\x01K\x02K\x03s.", "SETITEM on an int"),
            (b"\x80\x06.", "protocol 6"),
            (b"cos\nsystem", "truncated GLOBAL"),
            (b"N)R.", "REDUCE calls None"),
            (b"]K\x01b.", "BUILD on a list"),
            (b"K\x01Q.", "persistent id"),
        ];
        for (body, expected) in cases {
            assert_error(&archive_of_pickle(body), &[expected]);
        }
        // Deep nesting must be refused before it can overflow the stack on drop.
        let mut deep = b")".to_vec();
        deep.extend(std::iter::repeat_n(0x85u8, 100_000));
        deep.push(b'.');
        assert_error(&archive_of_pickle(&deep), &["nested deeper than 32"]);
        // Memo indices are keys, not vector positions: u32::MAX costs nothing.
        assert!(
            read_pth(&archive_of_pickle(b"}r\xff\xff\xff\xff0j\xff\xff\xff\xff."))
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn many_views_of_one_storage_stay_cheap() {
        // 20 000 one-element views of a 64 KiB storage: the storage is checksummed once, not once
        // per view (which would be 1.3 GB of CRC work from a 300 KB file).
        let mut pickle = one_tensor_pickle(16_384, 3, &[1], &[1], b"");
        pickle.truncate(pickle.len() - 2); // drop SETITEMS + STOP
        pickle.extend(b"r\0\0\0\0");
        for i in 1..20_000 {
            pickle.extend(unicode(&format!("k{i}")));
            pickle.extend(b"j\0\0\0\0");
        }
        pickle.extend(b"u.");
        let storage: Vec<f32> = (0..16_384).map(|i| i as f32).collect();
        let set = read_pth(&archive_with(pickle, &storage)).expect("valid");
        assert_eq!(set.len(), 20_000);
        assert_eq!(floats(&set, "k19999"), (vec![1], vec![3.0]));
    }

    #[test]
    fn corrupt_zip_structures_fail_cleanly() {
        let small = fixture("small_p2.pth");
        let eocd = small.len() - 22;
        let mut bad_cd = small.clone();
        bad_cd[eocd + 16..eocd + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        // torch writes a ZIP64 locator, so the plain record's offset is not used at all.
        assert!(read_pth(&bad_cd).is_ok());
        let plain = zip_of(&entries_of(&small), false);
        let eocd = plain.len() - 22;
        let mut beyond = plain.clone();
        beyond[eocd + 16..eocd + 20].copy_from_slice(&(plain.len() as u32).to_le_bytes());
        assert_error(&beyond, &["central directory", "beyond the file"]);
        let mut bad_sig = plain.clone();
        let cd = u32::from_le_bytes(plain[eocd + 16..eocd + 20].try_into().expect("4")) as usize;
        bad_sig[cd] = b'X';
        assert_error(&bad_sig, &["bad central directory signature"]);
        let mut bad_local = plain.clone();
        bad_local[0..4].copy_from_slice(b"PK\x03\x04");
        let first_local =
            u32::from_le_bytes(plain[cd + 42..cd + 46].try_into().expect("4")) as usize;
        assert_eq!(first_local, 0);
        bad_local[cd + 42] = 1; // first entry's local header now "at byte 1"
        assert_error(&bad_local, &["no valid local header at byte 1"]);
        let mut huge = plain.clone();
        huge[cd + 20..cd + 28].copy_from_slice(&[0xf0; 8]); // sizes of the first entry
        assert_error(&huge, &["runs past the end of the file"]);
        let two = zip_of(&[("a".into(), vec![1; 8]), ("b".into(), vec![2; 8])], false);
        let second = two.len() - 22 - 47; // the second of two 47-byte central records
        let mut overlapping = two.clone();
        overlapping[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
        assert_error(&overlapping, &["entries `a` and `b` overlap"]);
        let mut no_zip64 = plain;
        no_zip64[cd + 24..cd + 28].copy_from_slice(&u32::MAX.to_le_bytes());
        no_zip64[cd + 20..cd + 24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_error(&no_zip64, &["missing or short ZIP64 extra field"]);
    }

    // --- robustness ---------------------------------------------------------------------------

    #[test]
    fn every_truncation_fails_without_panicking() {
        let small = fixture("small_p2.pth");
        for cut in 0..small.len() {
            let message = error_of(&small[..cut]);
            assert!(
                message.contains("truncated") || message.contains("not a PyTorch .pth file"),
                "cut {cut}: {message}"
            );
        }
        let big = shared("tinyunet_c1_s1_64x64.weights.pth");
        for i in 0..64 {
            let cut = big.len() * i / 64 + i;
            assert!(
                read_pth(&big[..cut.min(big.len() - 1)]).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn byte_flips_never_panic() {
        for file in ["small_p2.pth", "small_p5.pth"] {
            let original = fixture(file);
            for at in 0..original.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut bytes = original.clone();
                    bytes[at] ^= mask;
                    let _ = read_pth(&bytes);
                }
            }
        }
        // Pickle-level fuzzing, past the CRC: flip bytes of data.pkl and re-zip with a fresh CRC.
        let entries = entries_of(&fixture("small_p5.pth"));
        let pickle = &entries
            .iter()
            .find(|(n, _)| n.ends_with("data.pkl"))
            .expect("pkl")
            .1;
        for at in 0..pickle.len() {
            for mask in [0x01, 0x10, 0x80, 0xff] {
                let mut edited = entries.clone();
                for (n, d) in &mut edited {
                    if n.ends_with("data.pkl") {
                        d[at] ^= mask;
                    }
                }
                let _ = read_pth(&zip_of(&edited, false));
            }
        }
        let big = shared("tinyunet_c1_s1_64x64.weights.pth");
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = big.clone();
            bytes[(state % big.len() as u64) as usize] ^= (state >> 32) as u8 | 1;
            let _ = read_pth(&bytes);
        }
    }
}
