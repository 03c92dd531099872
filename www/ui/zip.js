// A small ZIP writer and reader (browser and Node ≥ 20, same code): the user's corrected pairs go
// out as a zip and come back from one. Written entries are stored (images and PNG masks are
// compressed already); read entries may be stored or deflated (DecompressionStream).

import { crc32 } from './png.js';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;

async function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(await data.arrayBuffer());
}

/** Refuses names that could escape the folder they are unpacked into. */
function checkName(name) {
  if (!name || name.startsWith('/') || /^[a-z]:/i.test(name) || name.split(/[\\/]/).includes('..')) {
    throw new Error(`zip: unsafe file name ${JSON.stringify(name)}`);
  }
}

function dosTime(date) {
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((Math.max(1980, date.getFullYear()) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return { time, day };
}

/**
 * A zip of `files` (stored, UTF-8 names).
 * @param {{ name: string, data: Uint8Array | Blob | ArrayBuffer, modified?: Date }[]} files
 * @returns {Promise<Blob>}
 */
export async function makeZip(files) {
  if (files.length > 0xffff) throw new Error(`zip: ${files.length} files is more than a zip without zip64 holds`);
  const seen = new Set();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const f of files) {
    checkName(f.name);
    if (seen.has(f.name)) throw new Error(`zip: ${f.name} is in the list twice`);
    seen.add(f.name);
    const data = await bytesOf(f.data);
    const name = new TextEncoder().encode(f.name);
    const crc = crc32(data);
    const { time, day } = dosTime(f.modified ?? new Date());
    if (offset + data.length + 30 + name.length >= 2 ** 32) throw new Error('zip: 4 GB or more is more than a zip without zip64 holds');
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, LOCAL, true);
    local.setUint16(4, 20, true); // version needed: 2.0
    local.setUint16(6, 0x0800, true); // names are UTF-8
    local.setUint16(8, 0, true); // stored
    local.setUint16(10, time, true);
    local.setUint16(12, day, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, name.length, true);
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, CENTRAL, true);
    entry.setUint16(4, 20, true);
    entry.setUint16(6, 20, true);
    entry.setUint16(8, 0x0800, true);
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

/** True when `bytes` start like a zip (a local header, or the end record of an empty one). */
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
      // Never more than it declared: a small entry that inflates without end is a zip bomb.
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

/**
 * The files in a zip, in its directory's order (folders and macOS metadata left out); each
 * entry's size and CRC-32 are checked.
 * @param {Blob | ArrayBuffer | Uint8Array} source
 * @returns {Promise<{ name: string, data: Uint8Array }[]>}
 */
export async function readZip(source, { maxTotalBytes = 2 ** 31, maxEntries = 20000 } = {}) {
  const bytes = await bytesOf(source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === END) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error('zip: this file is not a zip archive');
  const count = view.getUint16(end + 10, true);
  const dirSize = view.getUint32(end + 12, true);
  const dirOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || dirOffset === 0xffffffff) throw new Error('zip: zip64 archives are not supported');
  if (count > maxEntries) throw new Error(`zip: ${count} entries is more than the ${maxEntries} allowed`);
  if (dirOffset + dirSize > end) throw new Error('zip: the archive is truncated or damaged');
  const decoder = new TextDecoder();
  const entries = [];
  let declared = 0;
  let p = dirOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > end || view.getUint32(p, true) !== CENTRAL) throw new Error('zip: the archive is truncated or damaged');
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const packed = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extra = view.getUint16(p + 30, true);
    const comment = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    p += 46 + nameLength + extra + comment;
    if (name.endsWith('/') || name.startsWith('__MACOSX/') || name.split('/').pop().startsWith('._')) continue;
    checkName(name);
    if (flags & 1) throw new Error(`zip: ${name} is encrypted`);
    if (method !== 0 && method !== 8) throw new Error(`zip: ${name} uses compression method ${method}, which is not supported`);
    declared += size;
    if (declared > maxTotalBytes) throw new Error(`zip: the files hold more than ${maxTotalBytes} bytes in all`);
    entries.push({ name, flags, method, crc, packed, size, local });
  }
  const out = [];
  for (const e of entries) {
    if (e.local + 30 > bytes.length || view.getUint32(e.local, true) !== LOCAL) throw new Error(`zip: ${e.name} is damaged (no local header)`);
    const start = e.local + 30 + view.getUint16(e.local + 26, true) + view.getUint16(e.local + 28, true);
    if (start + e.packed > bytes.length) throw new Error(`zip: ${e.name} is truncated`);
    const packed = bytes.subarray(start, start + e.packed);
    const data = e.method === 0 ? packed.slice() : await inflate(packed, e.size, e.name);
    if (data.length !== e.size || crc32(data) !== e.crc) throw new Error(`zip: ${e.name} is damaged (its checksum does not match)`);
    out.push({ name: e.name, data });
  }
  return out;
}
