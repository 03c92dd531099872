// Timings for ./build.sh bench (tests/browser/bench.mjs): tinyunet and onnxruntime-web on the
// same network, input and browser session. Medians of several runs after warm-up.
import * as ort from '/ort/ort.all.min.mjs';
import * as cpuBuild from '/pkg/wasm/tinyunet_cpu.js';
import * as webgpuBuild from '/pkg/wasm/tinyunet_webgpu.js';
import { Segmenter } from '/pkg/tinyunet.js';

// Each backend is timed in the build of the core the package loads for it. Initialising a build
// twice returns the same instance, so these exports are the ones `Segmenter` uses too.
const builds = { cpu: cpuBuild, webgpu: webgpuBuild };
const wasmExports = { cpu: await cpuBuild.default() };
async function build(backend) {
  wasmExports[backend] ??= await builds[backend].default();
  return builds[backend];
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(iters, warmup, fn) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
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

/** onnxruntime-web on `provider` ('wasm': one thread, SIMD; or 'webgpu'): ms per 256² inference. */
async function ort256(provider, iters, warmup) {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = '/ort/';
  const session = await ort.InferenceSession.create('/bench-files/tinyunet_c1_256.onnx', { executionProviders: [provider] });
  const feeds = { image: new ort.Tensor('float32', input(1, 256), [1, 3, 256, 256]) };
  const ms = await timed(iters, warmup, async () => {
    const out = await session.run(feeds);
    await out.logits.getData?.();
  });
  await session.release();
  return ms;
}

/** tinyunet's network alone (no image decoding or resizing): ms per inference of a batch. */
async function tinyInfer(backend, batch, size, iters, warmup) {
  const core = await (await build(backend)).WasmSegmenter.create(backend, { inputSize: 256 }, undefined);
  const x = input(batch, size);
  const ms = await timed(iters, warmup, () => core.logits(x, [batch, 3, size, size]));
  core.free();
  return ms;
}

/** ms per training step (forward, backward, Adam) at `batch` × `size`². */
async function tinyTrain(backend, batch, size, iters, warmup) {
  await build(backend);
  const seg = await Segmenter.create({ backend, inputSize: size });
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
    onProgress: () => stamps.push(performance.now()),
  });
  const steps = stamps.slice(warmup).map((t, i) => t - stamps[warmup + i - 1]).filter((d) => !Number.isNaN(d));
  const memory = wasmExports[backend].memory.buffer.byteLength;
  seg.dispose();
  return { ms: median(steps), memory };
}

/** Wasm memory before and after `count` inferences in a row (at 64 px to keep it short). */
async function memoryFlat(count) {
  const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
  const image = new ImageData(64, 64);
  image.data.fill(128);
  await seg.segment(image);
  const before = wasmExports.cpu.memory.buffer.byteLength;
  for (let i = 0; i < count; i++) await seg.segment(image);
  const after = wasmExports.cpu.memory.buffer.byteLength;
  seg.dispose();
  return { before, after };
}

/** The WebGPU adapter this browser offers (`{ vendor, architecture, description }`), or null. */
async function gpuAdapter() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const { vendor, architecture, description } = adapter.info ?? {};
  return { vendor, architecture, description };
}

window.bench = { ort256, tinyInfer, tinyTrain, memoryFlat, gpuAdapter, wasmMemory: () => wasmExports.cpu.memory.buffer.byteLength };
window.benchReady = true;
