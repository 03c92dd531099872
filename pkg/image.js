// Image decoding for tinyunet: turns every accepted image source into RGBA pixels, refusing
// oversized images before they are decoded (a 10,000 px photo would otherwise be decoded in full
// before anyone could say no). DICOM files are read by the wasm core (src/data/dicom), which applies
// the rescale and window; the browser decodes only a baseline JPEG slice's JPEG stream.

import { failure } from './errors.js';

// How to reach a loaded build of the core for DICOM files; set by segmenter.js, which loads them.
let dicomCore = null;

/** Sets how `decodeImage` reaches the wasm core for DICOM files: `load()` resolves to a build's bindings. */
export function useDicomReader(load) {
  dicomCore = load;
}

/** Whether bytes are a DICOM Part 10 file: a 128-byte preamble, then "DICM". */
export function isDicom(b) {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/**
 * A DICOM slice as grey RGBA through `window` (`{ center, width }` in HU; default the lung
 * window), with its description (no patient data) and the window applied in `dicom`.
 */
async function decodeDicom(bytes, what, window) {
  if (!dicomCore) {
    throw failure(
      'input',
      `${what}: reading a DICOM file needs the tinyunet core: import decodeImage from 'tinyunet' or 'tinyunet/cpu'`,
    );
  }
  const core = await dicomCore();
  const read = (decoded) => core.readDicom(bytes, what, window ?? undefined, decoded);
  let slice = read(undefined);
  // A baseline JPEG slice: the browser decodes its JPEG stream, the core applies rescale and window.
  if (slice.jpeg) slice = read(await decodeBytes(slice.jpeg, `${what} (its JPEG pixel data)`));
  return {
    data: slice.data,
    width: slice.width,
    height: slice.height,
    dicom: { ...slice.dicom, window: slice.window },
  };
}

// The two image limits are needed before any wasm module is loaded (to refuse a huge photo
// before decoding it), so they are written here; they are the core's (src/limits.rs `LIMITS`,
// which the wasm module's `limits()` returns), and a package test checks that they agree.

/** Largest accepted image side in pixels (the Rust core enforces the same limits). */
export const MAX_SIDE = 8192;
/** Largest accepted image area in pixels. */
export const MAX_PIXELS = 40_000_000;

function sizeError(what, width, height) {
  return failure(
    'input',
    `${what}: ${width}×${height} pixels is too large (at most ${MAX_SIDE} px per side and ` +
      `${MAX_PIXELS / 1e6} megapixels); downscale it first`,
  );
}

function corruptError(what, type) {
  return failure('input', `${what}: the ${type.toUpperCase()} data is corrupt or truncated and cannot be decoded`);
}

function checkSize(what, width, height) {
  if (!(width > 0 && height > 0)) {
    throw failure('input', `${what}: the image is empty (${width}×${height})`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw sizeError(what, width, height);
  }
}

/**
 * The format and size of encoded image bytes from their header: `{ type, width, height }`, with
 * width and height 0 where the header does not say (the decoder then checks), `{ type, corrupt }`
 * when it is broken, or null for bytes that are no image format we know.
 */
export function probeSize(bytes) {
  const b = bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const starts = (...sig) => b.length >= sig.length && sig.every((v, i) => b[i] === v);
  const ascii = (at, text) => [...text].every((c, i) => b[at + i] === c.charCodeAt(0));
  // PNG: signature, then the IHDR chunk (length 13) with big-endian width and height.
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) {
    if (b.length < 24 || view.getUint32(8) !== 13 || !ascii(12, 'IHDR')) return { type: 'png', corrupt: true };
    return { type: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (starts(0xff, 0xd8)) return probeJpeg(b);
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) {
    return b.length < 10
      ? { type: 'gif', corrupt: true }
      : { type: 'gif', width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (ascii(0, 'BM')) {
    return b.length < 26
      ? { type: 'bmp', corrupt: true }
      : { type: 'bmp', width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return probeWebp(b, view);
  return null;
}

/**
 * JPEG: walks the segments to the first start-of-frame marker, skipping fill bytes (0xFF runs
 * before a marker) and the markers that carry no length, in whatever order the file has them.
 */
function probeJpeg(b) {
  let i = 2;
  while (i < b.length) {
    if (b[i] !== 0xff) return { type: 'jpeg', width: 0, height: 0 }; // not where a marker should be
    while (b[i] === 0xff && i < b.length) i++; // fill bytes
    const marker = b[i];
    i++;
    // Standalone markers: TEM, RST0–7, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) continue;
    if (i + 1 >= b.length) break;
    const length = (b[i] << 8) | b[i + 1];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 6 >= b.length) break;
      return { type: 'jpeg', height: (b[i + 3] << 8) | b[i + 4], width: (b[i + 5] << 8) | b[i + 6] };
    }
    if (length < 2) return { type: 'jpeg', corrupt: true };
    i += length;
  }
  return { type: 'jpeg', width: 0, height: 0 };
}

/** WebP: the size from its first chunk (VP8X, lossless VP8L or lossy VP8). */
function probeWebp(b, view) {
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (chunk === 'VP8X' && b.length >= 30) {
    const u24 = (at) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
    return { type: 'webp', width: u24(24) + 1, height: u24(27) + 1 };
  }
  if (chunk === 'VP8L' && b.length >= 25 && b[20] === 0x2f) {
    const bits = view.getUint32(21, true);
    return { type: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b.length >= 30) {
    return { type: 'webp', width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  return { type: 'webp', width: 0, height: 0 };
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function pixelsOf(drawable, width, height) {
  const canvas = canvasOf(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(drawable, 0, 0);
  const data = ctx.getImageData(0, 0, width, height).data;
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}

async function decodeBytes(bytes, what, options = {}) {
  if (bytes.length === 0) throw failure('input', `${what}: the file is empty (0 bytes)`);
  if (isDicom(bytes)) return decodeDicom(bytes, what, options.window);
  const probe = probeSize(bytes);
  if (!probe) {
    throw failure(
      'input',
      `${what}: not a PNG, JPEG or DICOM image, nor WebP, GIF or BMP (unrecognised file signature)`,
    );
  }
  if (probe.corrupt) throw corruptError(what, probe.type);
  if (probe.width && probe.height) checkSize(what, probe.width, probe.height);
  if (typeof createImageBitmap === 'undefined') {
    throw failure(
      'input',
      `${what}: decoding ${probe.type.toUpperCase()} needs the browser's createImageBitmap, which this environment lacks (Node?): pass decoded pixels, { data (RGBA), width, height }`,
    );
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: `image/${probe.type}` }), {
      // Masks must keep their exact values: no colour management, no premultiplication.
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch {
    throw corruptError(what, probe.type);
  }
  try {
    checkSize(what, bitmap.width, bitmap.height);
    return pixelsOf(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

/**
 * Decodes any accepted image source to `{ data: Uint8Array (RGBA), width, height }`, plus
 * `dicom` (the slice's description) for a DICOM file, which `options.window` maps to grey.
 * `what` names the source in error messages.
 */
export async function decodeImage(source, what = 'image', options = {}) {
  if (source == null) throw failure('input', `${what}: no image was given`);
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
    checkSize(what, source.width, source.height);
    return {
      data: new Uint8Array(source.data.buffer, source.data.byteOffset, source.data.byteLength),
      width: source.width,
      height: source.height,
    };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) {
      throw failure(
        'input',
        `${what}: the server answered ${source.status}${source.statusText ? ` ${source.statusText}` : ''} for ${source.url || 'the image'}`,
      );
    }
    return decodeBytes(new Uint8Array(await source.arrayBuffer()), what, options);
  }
  if (source instanceof ArrayBuffer) return decodeBytes(new Uint8Array(source), what, options);
  if (ArrayBuffer.isView(source) && !('width' in source)) {
    return decodeBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), what, options);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return decodeBytes(new Uint8Array(await source.arrayBuffer()), what, options);
  }
  if (source.data && typeof source.width === 'number' && typeof source.height === 'number') {
    checkSize(what, source.width, source.height);
    const expected = source.width * source.height * 4;
    if (source.data.length !== expected) {
      throw failure(
        'input',
        `${what}: ${source.width}×${source.height} RGBA needs ${expected} bytes, got ${source.data.length}`,
      );
    }
    return {
      data: new Uint8Array(source.data.buffer, source.data.byteOffset, source.data.byteLength),
      width: source.width,
      height: source.height,
    };
  }
  const width = source.naturalWidth ?? source.videoWidth ?? source.width;
  const height = source.naturalHeight ?? source.videoHeight ?? source.height;
  if (typeof width === 'number' && typeof height === 'number') {
    checkSize(what, width, height);
    return pixelsOf(source, width, height);
  }
  throw failure(
    'input',
    `${what}: unsupported image type (${Object.prototype.toString.call(source)}); pass ImageData, ` +
      'an ImageBitmap, a canvas, an <img>, a Blob, a Response, or PNG/JPEG/DICOM bytes',
  );
}
