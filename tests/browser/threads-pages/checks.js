// What the threads tests (tests/browser/threads.test.mjs) run, on a page's main thread or in a
// Worker: which build a segmenter gets and why, and the threaded build against the 1-thread one.
import { Segmenter, preload } from '/pkg/tinyunet.js';

const WEIGHTS = '/pkg/demo-weights.safetensors';

/** What a context offers threads: isolation and the cores the browser reports. */
export function context() {
  return { crossOriginIsolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency, worker: typeof WorkerGlobalScope !== 'undefined' };
}

/** A deterministic picture: a dark irregular blob on skin-coloured ground. */
function blobImage(width, height, seed = 1) {
  const image = new ImageData(width, height);
  const cx = width * (0.4 + 0.1 * Math.sin(seed)), cy = height * 0.5;
  const r = Math.min(width, height) * 0.3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = Math.atan2(y - cy, x - cx);
      const inside = Math.hypot(x - cx, y - cy) < r * (1 + 0.15 * Math.sin(3 * a + seed));
      const noise = ((x * 7919 + y * 104729 + seed * 31) % 23) - 11;
      image.data.set(inside ? [90 + noise, 55, 40, 255] : [220 + noise, 170, 150, 255], 4 * (y * width + x));
    }
  }
  return image;
}

function blobMask(width, height, seed = 1) {
  const image = blobImage(width, height, seed);
  const mask = new ImageData(width, height);
  for (let i = 0; i < image.data.length; i += 4) {
    const v = image.data[i] < 150 ? 255 : 0;
    mask.data.set([v, v, v, 255], i);
  }
  return mask;
}

/** Tensors of a safetensors file (F32 only), by name. */
function tensors(bytes) {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const length = Number(new DataView(buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const out = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || info.dtype !== 'F32') continue;
    out[name] = new Float32Array(buffer.slice(8 + length + info.data_offsets[0], 8 + length + info.data_offsets[1]));
  }
  return out;
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** The build, threads and reason a segmenter made with `options` gets here, and a mask it makes. */
export async function describe(options = {}) {
  const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64, ...options });
  const result = await seg.segment(blobImage(80, 60));
  const out = { backend: seg.backend, build: seg.build, threads: seg.threads, threadsReason: seg.threadsReason, width: result.width, height: result.height };
  seg.dispose();
  return out;
}

/** What `preload` resolves to with `options`. */
export function preloaded(options = {}) {
  return preload({ backend: 'cpu', ...options });
}

/**
 * The threaded build against the 1-thread one on the same weights and inputs: the probabilities
 * of one `size`² inference (an image of that size, so no resizing), and one training step (loss
 * and every weight after it).
 */
export async function compare(size = 256, trainSize = 64) {
  const weights = new Uint8Array(await (await fetch(WEIGHTS)).arrayBuffer());
  const make = (threads) => Segmenter.create({ backend: 'cpu', inputSize: size, threads, weights });
  const [one, many] = [await make(1), await make(undefined)];
  const image = blobImage(size, size);
  const [a, b] = [await one.segment(image, { probabilities: true }), await many.segment(image, { probabilities: true })];
  const samples = [1, 2].map((seed) => ({ image: blobImage(trainSize, trainSize, seed), mask: blobMask(trainSize, trainSize, seed) }));
  const train = (seg) => seg.train(samples, { epochs: 1, batchSize: 2, size: trainSize, seed: 3, augment: false });
  const [runA, runB] = [await train(one), await train(many)];
  const [wA, wB] = [tensors(await one.exportWeights()), tensors(await many.exportWeights())];
  let weightDiff = 0;
  let weightChange = 0;
  const before = tensors(weights);
  for (const name of Object.keys(wA)) {
    weightDiff = Math.max(weightDiff, maxAbsDiff(wA[name], wB[name]));
    if (before[name]) weightChange = Math.max(weightChange, maxAbsDiff(wA[name], before[name]));
  }
  const out = {
    builds: [one.build, many.build],
    threads: [one.threads, many.threads],
    probabilityDiff: maxAbsDiff(a.probabilities, b.probabilities),
    probabilities: a.probabilities.length,
    masksEqual: a.mask.every((v, i) => v === b.mask[i]),
    foreground: a.foreground,
    steps: [runA.stepsDone, runB.stepsDone],
    losses: [runA.history[0]?.loss, runB.history[0]?.loss],
    weightDiff,
    weightChange,
    tensors: Object.keys(wA).length,
  };
  one.dispose();
  many.dispose();
  return out;
}

/** The error each bad `threads` value gets, from `create` and from `preload`. */
export async function badThreads() {
  const out = [];
  for (const threads of [0, -1, 1.5, 17, '2', null, Number.NaN]) {
    for (const [where, call] of [['create', () => Segmenter.create({ backend: 'cpu', threads })], ['preload', () => preload({ threads })]]) {
      try {
        await call();
        out.push({ threads: String(threads), where, error: null });
      } catch (e) {
        out.push({ threads: String(threads), where, kind: e.kind, message: e.message, isError: e instanceof Error });
      }
    }
  }
  return out;
}
