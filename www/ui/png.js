// A minimal PNG writer for masks: 8-bit greyscale, exact values. A canvas would give RGBA and
// may colour-manage; a mask file must hold exactly 0 and 255 (or class indices), one channel,
// as ISIC's ground truth does. zlib comes from the browser (CompressionStream 'deflate').

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309), as PNG chunks and zip entries use. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function zlib(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Encodes one byte per pixel as a greyscale PNG.
 * @param {Uint8Array} grey  `width * height` values
 * @returns {Promise<Blob>}
 */
export async function encodeGreyPng(grey, width, height) {
  if (grey.length !== width * height)
    throw new Error(`png: ${width}×${height} needs ${width * height} bytes, got ${grey.length}`);
  // Every row starts with its filter type; 0 (none) compresses masks well enough.
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 0; // colour type: greyscale
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [signature, chunk('IHDR', header), chunk('IDAT', await zlib(raw)), chunk('IEND', new Uint8Array(0))];
  return new Blob(parts, { type: 'image/png' });
}

/**
 * The mask as the values a file should hold: 0/255 for one class (what image viewers and ISIC
 * use), class indices for several.
 */
export function maskToGrey(mask, classes) {
  if (classes > 1) return mask;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? 255 : 0;
  return out;
}

/** A label mask as the PNG file the page downloads, exports and trains on. */
export function encodeMaskPng(mask, classes, width, height) {
  return encodeGreyPng(maskToGrey(mask, classes), width, height);
}
