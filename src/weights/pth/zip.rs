//! A minimal reader for the stored (uncompressed) ZIP archives `torch.save` writes: the entries by
//! name, each entry's bytes checked against its CRC-32, every offset checked against the file.

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
