// What the threads tests (tests/browser/threads.test.mjs) run, on a page's main thread or in a
// Worker: which build a segmenter gets and why, and the threaded build against the 1-thread one.
import { Segmenter, preload } from '/pkg/tinyunet.js';
import { parseSafetensors, blobImage, blobMask, maxAbsDiff } from '/package-pages/shared.js';

const WEIGHTS = '/pkg/models/skin-lesion.safetensors';

/** What a context offers threads: isolation and the cores the browser reports. */
export function context() {
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated,
    cores: navigator.hardwareConcurrency,
    worker: typeof WorkerGlobalScope !== 'undefined',
  };
}

/** The build, threads and reason a segmenter made with `options` gets here, and a mask it makes. */
export async function describe(options = {}) {
  const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64, ...options });
  const result = await seg.segment(blobImage(80, 60));
  const out = {
    backend: seg.backend,
    build: seg.build,
    threads: seg.threads,
    threadsReason: seg.threadsReason,
    width: result.width,
    height: result.height,
  };
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
  const [a, b] = [
    await one.segment(image, { probabilities: true }),
    await many.segment(image, { probabilities: true }),
  ];
  const samples = [1, 2].map((seed) => ({
    image: blobImage(trainSize, trainSize, seed),
    mask: blobMask(trainSize, trainSize, seed),
  }));
  const tensors = (bytes) =>
    parseSafetensors(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const before = tensors(await one.exportWeights());
  const train = (seg) => seg.train(samples, { epochs: 1, batchSize: 2, size: trainSize, seed: 3, augment: false });
  const [runA, runB] = [await train(one), await train(many)];
  const [wA, wB] = [tensors(await one.exportWeights()), tensors(await many.exportWeights())];
  let weightDiff = 0;
  let weightChange = 0;
  for (const name of Object.keys(wA)) {
    if (!(wA[name].data instanceof Float32Array)) continue;
    weightDiff = Math.max(weightDiff, maxAbsDiff(wA[name].data, wB[name].data));
    if (before[name]) weightChange = Math.max(weightChange, maxAbsDiff(wA[name].data, before[name].data));
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
    tensors: Object.values(wA).filter((t) => t.data instanceof Float32Array).length,
  };
  one.dispose();
  many.dispose();
  return out;
}

/**
 * A DICOM CT slice (pydicom's public `CT_small.dcm`, 16-bit, uncompressed) under the lung-CT model
 * on the 1-thread and the threaded build: each build's mask, at the slice's size, and how it was
 * windowed. (The DICOM file is read by the core's CPU module in every build; the builds differ in
 * what segments the windowed slice.)
 */
export async function dicom() {
  const weights = new Uint8Array(await (await fetch('/pkg/models/lung-ct.safetensors')).arrayBuffer());
  const file = new Uint8Array(await (await fetch('/dicom/CT_small.dcm')).arrayBuffer());
  const make = (threads) => Segmenter.create({ backend: 'cpu', threads, weights });
  const [one, many] = [await make(1), await make(undefined)];
  const [a, b] = [await one.segment(file), await many.segment(file)];
  const out = {
    builds: [one.build, many.build],
    threads: [one.threads, many.threads],
    model: many.model.name,
    sizes: [
      [a.width, a.height],
      [b.width, b.height],
    ],
    classes: [a.classes, b.classes],
    windows: [a.dicom?.window, b.dicom?.window],
    masksEqual: a.mask.length === b.mask.length && a.mask.every((v, i) => v === b.mask[i]),
    marked: a.mask.filter((v) => v > 0).length,
  };
  one.dispose();
  many.dispose();
  return out;
}

/** The error each bad `threads` value gets, from `create` and from `preload`. */
export async function badThreads() {
  const out = [];
  for (const threads of [0, -1, 1.5, 17, '2', null, Number.NaN]) {
    for (const [where, call] of [
      ['create', () => Segmenter.create({ backend: 'cpu', threads })],
      ['preload', () => preload({ threads })],
    ]) {
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
