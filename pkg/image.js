// Image decoding for tinyunet: turns every accepted image source into RGBA pixels, refusing
// oversized images before they are decoded (a 10,000 px photo would otherwise be decoded in full
// before anyone could say no).

/** Largest accepted image side in pixels (the Rust core enforces the same limits). */
export const MAX_SIDE = 8192;
/** Largest accepted image area in pixels. */
export const MAX_PIXELS = 40_000_000;

function sizeError(what, width, height) {
  return new Error(
    `input: ${what}: ${width}×${height} pixels is too large (at most ${MAX_SIDE} px per side and ` +
      `${MAX_PIXELS / 1e6} megapixels); downscale it first`,
  );
}

function checkSize(what, width, height) {
  if (!(width > 0 && height > 0)) {
    throw new Error(`input: ${what}: the image is empty (${width}×${height})`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw sizeError(what, width, height);
  }
}

/** Width and height from a PNG or JPEG header, or null when the bytes are neither. */
export function probeSize(bytes) {
  const b = bytes;
  // PNG: signature, then the IHDR chunk with big-endian width and height.
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { type: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: walk the segments to the first start-of-frame marker.
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return { type: 'jpeg', width: 0, height: 0 };
      const marker = b[i + 1];
      const length = (b[i + 2] << 8) | b[i + 3];
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        return { type: 'jpeg', height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
      }
      i += 2 + length;
    }
    return { type: 'jpeg', width: 0, height: 0 };
  }
  return null;
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

async function decodeBytes(bytes, what) {
  const probe = probeSize(bytes);
  if (!probe) {
    throw new Error(`input: ${what}: not a PNG or JPEG image (unrecognised file signature)`);
  }
  if (probe.width && probe.height) checkSize(what, probe.width, probe.height);
  if (typeof createImageBitmap === 'undefined') {
    throw new Error(`input: ${what}: decoding ${probe.type.toUpperCase()} needs the browser's createImageBitmap, which this environment lacks (Node?): pass decoded pixels, { data (RGBA), width, height }`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: `image/${probe.type}` }), {
      // Masks must keep their exact values: no colour management, no premultiplication.
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch (e) {
    throw new Error(`input: ${what}: the ${probe.type.toUpperCase()} data is corrupt or truncated and cannot be decoded`);
  }
  try {
    checkSize(what, bitmap.width, bitmap.height);
    return pixelsOf(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

/**
 * Decodes any accepted image source to `{ data: Uint8Array (RGBA), width, height }`.
 * `what` names the source in error messages.
 */
export async function decodeImage(source, what = 'image') {
  if (source == null) throw new Error(`input: ${what}: no image was given`);
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
    checkSize(what, source.width, source.height);
    return { data: new Uint8Array(source.data.buffer, source.data.byteOffset, source.data.byteLength), width: source.width, height: source.height };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) {
      throw new Error(`input: ${what}: the server answered ${source.status}${source.statusText ? ` ${source.statusText}` : ''} for ${source.url || 'the image'}`);
    }
    return decodeBytes(new Uint8Array(await source.arrayBuffer()), what);
  }
  if (source instanceof ArrayBuffer) return decodeBytes(new Uint8Array(source), what);
  if (ArrayBuffer.isView(source) && !('width' in source)) {
    return decodeBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), what);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return decodeBytes(new Uint8Array(await source.arrayBuffer()), what);
  }
  if (source.data && typeof source.width === 'number' && typeof source.height === 'number') {
    checkSize(what, source.width, source.height);
    const expected = source.width * source.height * 4;
    if (source.data.length !== expected) {
      throw new Error(`input: ${what}: ${source.width}×${source.height} RGBA needs ${expected} bytes, got ${source.data.length}`);
    }
    return { data: new Uint8Array(source.data.buffer, source.data.byteOffset, source.data.byteLength), width: source.width, height: source.height };
  }
  const width = source.naturalWidth ?? source.videoWidth ?? source.width;
  const height = source.naturalHeight ?? source.videoHeight ?? source.height;
  if (typeof width === 'number' && typeof height === 'number') {
    checkSize(what, width, height);
    return pixelsOf(source, width, height);
  }
  throw new Error(
    `input: ${what}: unsupported image type (${Object.prototype.toString.call(source)}); pass ImageData, ` +
      'an ImageBitmap, a canvas, an <img>, a Blob, a Response, or PNG/JPEG bytes',
  );
}
