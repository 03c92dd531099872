//! Tiny ZIP and pickle writers, to build the archives the tests need byte by byte.

use crate::weights::pth::zip;

// --- ZIP -----------------------------------------------------------------------------------------

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
pub(super) fn zip_of(entries: &[(String, Vec<u8>)], zip64: bool) -> Vec<u8> {
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
pub(super) fn entries_of(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
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
pub(super) fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
    let entries: Vec<_> = entries_of(bytes)
        .into_iter()
        .filter_map(|(n, d)| edit(&n, d).map(|d| (n, d)))
        .collect();
    zip_of(&entries, false)
}

// --- pickle --------------------------------------------------------------------------------------

pub(super) fn unicode(s: &str) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out
}

pub(super) fn global(module: &str, name: &str) -> Vec<u8> {
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
pub(super) fn one_tensor_pickle(
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
pub(super) fn archive_with(pickle: Vec<u8>, storage: &[f32]) -> Vec<u8> {
    let data = storage.iter().flat_map(|v| v.to_le_bytes()).collect();
    let entries = [
        ("archive/data.pkl".to_string(), pickle),
        ("archive/byteorder".to_string(), b"little".to_vec()),
        ("archive/data/0".to_string(), data),
    ];
    zip_of(&entries, false)
}

/// An archive whose pickle is `body` after PROTO 2 (no storages).
pub(super) fn archive_of_pickle(body: &[u8]) -> Vec<u8> {
    let mut pickle = vec![0x80, 2];
    pickle.extend_from_slice(body);
    archive_with(pickle, &[])
}

pub(super) const SIX: [f32; 6] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
