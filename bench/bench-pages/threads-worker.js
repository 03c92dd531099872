// 1 thread against the threaded CPU build, side by side in one Worker of a cross-origin isolated
// page (threads.html): the network alone at batch 1 (as bench.js's tinyInfer) and a training step
// (as its tinyTrain), each build through the package with `threads: 1` or the default.
import { Segmenter } from '/pkg/tinyunet.js';
import * as oneThread from '/pkg/wasm/tinyunet_cpu.js';
import * as threaded from '/pkg/wasm/tinyunet_cpu-threads.js';
import { median, input, trainStepMs } from './timing.js';

const glue = { cpu: oneThread, 'cpu-threads': threaded };

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
  const ms = await trainStepMs(seg, batch, size, iters, warmup);
  const result = { ms, build: seg.build, threads: seg.threads, reason: seg.threadsReason };
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
