// Pure helpers of the browser tests, for pages and Workers alike (no DOM, no wasm): helpers.js
// re-exports them to the package tests' pages, and the threads tests' checks.js imports them.

/** Reads a safetensors file into `{ name: { shape, data } }` (F32 and I64 only: what the fixtures hold). */
export function parseSafetensors(buffer) {
  const view = new DataView(buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength)));
  const base = 8 + headerLength;
  const out = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const bytes = buffer.slice(base + start, base + end);
    out[name] = { shape: info.shape, data: info.dtype === 'F32' ? new Float32Array(bytes) : new BigInt64Array(bytes) };
  }
  return out;
}

/** A deterministic test picture: a dark irregular blob on skin-coloured ground, any size. */
export function blobImage(width, height, seed = 1) {
  const image = new ImageData(width, height);
  const cx = width * (0.4 + 0.1 * Math.sin(seed)),
    cy = height * 0.5;
  const r = Math.min(width, height) * 0.3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = Math.atan2(y - cy, x - cx);
      const inside = Math.hypot(x - cx, y - cy) < r * (1 + 0.15 * Math.sin(3 * a + seed));
      const i = 4 * (y * width + x);
      image.data[i] = inside ? 90 : 220;
      image.data[i + 1] = inside ? 55 : 170;
      image.data[i + 2] = inside ? 40 : 150;
      image.data[i + 3] = 255;
    }
  }
  return image;
}

/** The 0/255 mask that goes with `blobImage`. */
export function blobMask(width, height, seed = 1) {
  const image = blobImage(width, height, seed);
  const mask = new ImageData(width, height);
  for (let i = 0; i < image.data.length; i += 4) {
    const v = image.data[i] < 150 ? 255 : 0;
    mask.data[i] = mask.data[i + 1] = mask.data[i + 2] = v;
    mask.data[i + 3] = 255;
  }
  return mask;
}

/** Training pairs of `blobImage` and `blobMask`, `side`×`side`, one per seed. */
export function blobPairs(seeds, side) {
  return seeds.map((seed) => ({ image: blobImage(side, side, seed), mask: blobMask(side, side, seed) }));
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}
