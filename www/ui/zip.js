// A small ZIP writer and reader (browser and Node ≥ 20, same code): the user's corrected pairs go
// out as a zip and come back from one. Written entries are stored (images and PNG masks are
// compressed already); read entries may be stored or deflated (DecompressionStream).
//
// A zip is read from people's disks, so the reader trusts nothing in it: every offset is checked
// against the bytes there are, names that could escape a folder are refused, and what an archive
// may unpack to is capped before anything is inflated (zip bombs). No zip64: our exports are far
// below 4 GiB, and an archive that needs zip64 is too big for the page anyway.

import { crc32 } from './png.js';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const UTF8_NAMES = 0x0800; // general-purpose flag bit 11
const LIMIT_32 = 2 ** 32;

async function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(await data.arrayBuffer());
}

/** Refuses names that could escape the folder they are unpacked into (absolute, `C:`, `..`). */
function checkName(name) {
  if (!name) throw new Error('zip: a file has an empty name');
  if (/^[\\/]/.test(name) || /^[a-z]:/i.test(name) || name.split(/[\\/]/).includes('..')) {
    throw new Error(`zip: unsafe file name ${JSON.stringify(name)}`);
  }
}

/** MS-DOS date and time (local time, 2 s steps), clamped to the years the format holds. */
function dosTime(date) {
  const year = date.getFullYear();
  if (!(year >= 1980)) return { time: 0, day: (1 << 5) | 1 }; // also NaN: 1980-01-01 00:00
  if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, day: (127 << 9) | (12 << 5) | 31 };
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return { time, day };
}

/**
 * A zip of `files`: stored (no compression), CRC-32 checked, UTF-8 names. Refuses empty,
 * absolute and `..` names, duplicates, more than 65535 files and 4 GiB or more in all (no zip64).
 * @param {{ name: string, data: Uint8Array | Blob | ArrayBuffer, modified?: Date }[]} files
 * @returns {Promise<Blob>}  of type application/zip
 */
export async function makeZip(files) {
  if (files.length > 0xffff)
    throw new Error(`zip: ${files.length} files is more than a zip without zip64 holds (65535)`);
  // Everything is checked before any data is read, so a bad list fails at once, not after
  // reading gigabytes of blobs.
  const encoder = new TextEncoder();
  const seen = new Set();
  let total = 22;
  const names = files.map((f) => {
    checkName(f.name);
    if (seen.has(f.name)) throw new Error(`zip: ${f.name} is in the list twice`);
    seen.add(f.name);
    const name = encoder.encode(f.name);
    if (name.length > 0xffff) throw new Error(`zip: the name of ${f.name.slice(0, 40)}… is too long`);
    const size = f.data?.byteLength ?? f.data?.size;
    if (typeof size !== 'number') throw new Error(`zip: ${f.name} has no data (a Uint8Array, Blob or ArrayBuffer)`);
    total += 30 + 46 + 2 * name.length + size;
    return name;
  });
  if (total >= LIMIT_32) throw new Error('zip: 4 GiB or more is more than a zip without zip64 holds');
  const parts = [];
  const central = [];
  let offset = 0;
  for (let k = 0; k < files.length; k++) {
    const name = names[k];
    const data = await bytesOf(files[k].data);
    const crc = crc32(data);
    const { time, day } = dosTime(files[k].modified ?? new Date());
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, LOCAL, true);
    local.setUint16(4, 20, true); // version needed: 2.0
    local.setUint16(6, UTF8_NAMES, true);
    local.setUint16(8, 0, true); // method 0: stored
    local.setUint16(10, time, true);
    local.setUint16(12, day, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, name.length, true);
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, CENTRAL, true);
    entry.setUint16(4, 20, true); // made by: MS-DOS attributes, version 2.0
    entry.setUint16(6, 20, true);
    entry.setUint16(8, UTF8_NAMES, true);
    entry.setUint16(12, time, true);
    entry.setUint16(14, day, true);
    entry.setUint32(16, crc, true);
    entry.setUint32(20, data.length, true);
    entry.setUint32(24, data.length, true);
    entry.setUint16(28, name.length, true);
    entry.setUint32(42, offset, true);
    parts.push(local, name, data);
    central.push(entry, name);
    offset += 30 + name.length + data.length;
  }
  const size = central.reduce((n, p) => n + p.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, END, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: 'application/zip' });
}

/** True when `bytes` (the first 4 or more) start like a zip: a local header, or an empty zip's end record. */
export function looksLikeZip(bytes) {
  if (bytes.length < 4) return false;
  const sig = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return sig === LOCAL || sig === END;
}

async function inflate(data, limit, name) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      // Never more than it declared: a small entry that inflates without end is a zip bomb, and
      // the declared sizes are what the total was capped by.
      if (total > limit) throw new Error(`zip: ${name} holds more than it says (damaged, or a zip bomb)`);
      chunks.push(value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e.message?.startsWith('zip: ') ? e : new Error(`zip: ${name} is damaged (${e.message})`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Where the end-of-central-directory record starts, or -1: searched back from the end, past a comment of up to 65535 bytes. */
function findEnd(bytes, view) {
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    // A signature whose comment would run past the end is a chance match (inside the comment).
    if (view.getUint32(i, true) === END && i + 22 + view.getUint16(i + 20, true) <= bytes.length) return i;
  }
  return -1;
}

/**
 * The files in a zip, in its central directory's order, with folders and macOS metadata
 * (`__MACOSX/…`, `._NAME`) left out. Stored and deflated entries; each one's size and CRC-32 are
 * checked. Throws an Error whose message starts with `zip: ` for anything it cannot read safely.
 * @param {Blob | ArrayBuffer | Uint8Array} source
 * @param {{ maxTotalBytes?: number, maxEntries?: number }} [limits]  caps on what it may unpack
 * @returns {Promise<{ name: string, data: Uint8Array }[]>}
 */
export async function readZip(source, { maxTotalBytes = 2 ** 31, maxEntries = 20000 } = {}) {
  const bytes = await bytesOf(source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const damaged = 'zip: the archive is truncated or damaged';
  const end = findEnd(bytes, view);
  if (end < 0) {
    // The directory is at the end, so a cut-off download starts like a zip but has none.
    if (bytes.length >= 4 && view.getUint32(0, true) === LOCAL)
      throw new Error(`${damaged} (its directory at the end is missing)`);
    throw new Error('zip: this file is not a zip archive');
  }
  const count = view.getUint16(end + 10, true);
  const dirSize = view.getUint32(end + 12, true);
  const dirOffset = view.getUint32(end + 16, true);
  const zip64 = end >= 20 && view.getUint32(end - 20, true) === ZIP64_LOCATOR;
  // 65535 entries is legal without zip64 (Python switches above it); the locator tells.
  if (zip64 || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    throw new Error('zip: zip64 archives (4 GiB or 65535 files and more) are not supported');
  }
  if (view.getUint16(end + 4, true) !== 0 || view.getUint16(end + 8, true) !== count) {
    throw new Error('zip: archives split into several parts are not supported');
  }
  if (count > maxEntries) throw new Error(`zip: ${count} entries is more than the ${maxEntries} allowed`);
  if (dirOffset + dirSize > end) throw new Error(damaged);
  // Bit 11 says UTF-8; without it the spec says CP437, but macOS and Windows write UTF-8 there
  // too, and our own names are UTF-8, so UTF-8 reads more archives right than CP437 would.
  const decoder = new TextDecoder();
  const entries = [];
  let declared = 0;
  let p = dirOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > dirOffset + dirSize || view.getUint32(p, true) !== CENTRAL) throw new Error(damaged);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const packed = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const next = p + 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    if (next > dirOffset + dirSize) throw new Error(damaged);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    p = next;
    if (name.endsWith('/') || name.startsWith('__MACOSX/') || name.split('/').pop().startsWith('._')) continue;
    checkName(name);
    if (packed === 0xffffffff || size === 0xffffffff || local === 0xffffffff)
      throw new Error(`zip: ${name} needs zip64, which is not supported`);
    if (flags & 1) throw new Error(`zip: ${name} is encrypted`);
    if (method !== 0 && method !== 8)
      throw new Error(`zip: ${name} uses compression method ${method}; only 0 (stored) and 8 (deflate) are supported`);
    // The cap is checked on the declared sizes before anything is inflated; inflate() then holds
    // each entry to its declared size, so the cap holds for what is really unpacked too.
    declared += size;
    if (declared > maxTotalBytes) throw new Error(`zip: the files hold more than the ${maxTotalBytes} bytes allowed`);
    entries.push({ name, method, crc, packed, size, local });
  }
  const out = [];
  for (const e of entries) {
    // The local header's name and extra field may differ in length from the central one's.
    if (e.local + 30 > bytes.length || view.getUint32(e.local, true) !== LOCAL)
      throw new Error(`zip: ${e.name} is damaged (no local header)`);
    const start = e.local + 30 + view.getUint16(e.local + 26, true) + view.getUint16(e.local + 28, true);
    if (start + e.packed > bytes.length) throw new Error(`zip: ${e.name} is truncated`);
    const packed = bytes.subarray(start, start + e.packed);
    if (e.method === 0 && e.packed !== e.size) throw new Error(`zip: ${e.name} is damaged (its sizes do not match)`);
    const data = e.method === 0 ? packed.slice() : await inflate(packed, e.size, e.name);
    if (data.length !== e.size) throw new Error(`zip: ${e.name} is damaged (${data.length} bytes, ${e.size} declared)`);
    if (crc32(data) !== e.crc) throw new Error(`zip: ${e.name} is damaged (its checksum does not match)`);
    out.push({ name: e.name, data });
  }
  return out;
}
