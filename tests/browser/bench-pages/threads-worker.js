// 1 thread against the threaded CPU build, side by side in one Worker of a cross-origin isolated
// page (threads.html): the network alone at batch 1 (as bench.js's tinyInfer) and a training step
// (as its tinyTrain), each build through the package with `threads: 1` or the default.
import { Segmenter } from '/pkg/tinyunet.js';
import * as oneThread from '/pkg/wasm/tinyunet_cpu.js';
import * as threaded from '/pkg/wasm/tinyunet_cpu-threads.js';

const glue = { cpu: oneThread, 'cpu-threads': threaded };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function input(batch, size) {
  const data = new Float32Array(batch * 3 * size * size);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 8) / 16777216;
  }
  return data;
}

/** A segmenter on the build `threads` gives here (1: the 1-thread build; undefined: the default). */
async function segmenter(threads, inputSize) {
  const seg = await Segmenter.create({ backend: 'cpu', inputSize, threads });
  return seg;
}

/** ms per inference of the network alone (batch 1, `size`²), and the build and threads it ran on. */
async function infer(threads, size, iters, warmup) {
  const seg = await segmenter(threads, size);
  const { build } = seg;
  const core = await glue[build].WasmSegmenter.create('cpu', { inputSize: size }, undefined);
  const x = input(1, size);
  for (let i = 0; i < warmup; i++) await core.logits(x, [1, 3, size, size]);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await core.logits(x, [1, 3, size, size]);
    times.push(performance.now() - t);
  }
  core.free();
  const result = { ms: median(times), build, threads: seg.threads, reason: seg.threadsReason };
  seg.dispose();
  return result;
}

/** ms per training step (forward, backward, Adam) at `batch` × `size`². */
async function train(threads, batch, size, iters, warmup) {
  const seg = await segmenter(threads, size);
  const samples = [];
  for (let i = 0; i < batch; i++) {
    const image = new ImageData(size, size);
    const mask = new ImageData(size, size);
    for (let p = 0; p < size * size; p++) {
      const inside = (p % size) > size / 3 && Math.floor(p / size) > size / 4;
      image.data.set(inside ? [90, 60, 40, 255] : [220, 170, 150, 255], 4 * p);
      mask.data.set(inside ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * p);
    }
    samples.push({ image, mask });
  }
  const stamps = [];
  await seg.train(samples, {
    epochs: iters + warmup, batchSize: batch, size, augment: false,
    onProgress: (p) => { if (p.phase === 'train') stamps.push(performance.now()); },
  });
  const steps = stamps.slice(warmup).map((t, i) => t - stamps[warmup + i - 1]).filter((d) => !Number.isNaN(d));
  const result = { ms: median(steps), build: seg.build, threads: seg.threads, reason: seg.threadsReason };
  seg.dispose();
  return result;
}

const calls = { infer, train };
self.onmessage = async ({ data: { id, name, args } }) => {
  try {
    postMessage({ id, result: await calls[name](...args) });
  } catch (e) {
    postMessage({ id, error: String(e?.message ?? e) });
  }
};
