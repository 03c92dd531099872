// Timings for ./build.sh bench (bench/bench.mjs): tinyunet, onnxruntime-web and a
// TensorFlow.js TinyU-Net on the same network, input and browser session. Medians of several runs
// after warm-up.
import * as ort from '/ort/ort.all.min.mjs';
import * as cpuBuild from '/pkg/wasm/tinyunet_cpu.js';
import * as webgpuBuild from '/pkg/wasm/tinyunet_webgpu.js';
import { Segmenter } from '/pkg/tinyunet.js';
import { tinyUNet, PARAMS_1_CLASS } from './tfjs-tinyunet.js';
import { median, input, trainStepMs, trainingPairs } from './timing.js';

// Each backend is timed in the build of the core the package loads for it. Initialising a build
// twice returns the same instance, so these exports are the ones `Segmenter` uses too.
const builds = { cpu: cpuBuild, webgpu: webgpuBuild };
const wasmExports = { cpu: await cpuBuild.default() };
async function build(backend) {
  wasmExports[backend] ??= await builds[backend].default();
  return builds[backend];
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

/** onnxruntime-web on `provider` ('wasm': one thread, SIMD; or 'webgpu'): ms per 256² inference. */
async function ort256(provider, iters, warmup) {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = '/ort/';
  const session = await ort.InferenceSession.create('/bench-files/tinyunet_c1_256.onnx', {
    executionProviders: [provider],
  });
  const feeds = { image: new ort.Tensor('float32', input(1, 256), [1, 3, 256, 256]) };
  const ms = await timed(iters, warmup, async () => {
    const out = await session.run(feeds);
    await out.logits.getData?.();
  });
  await session.release();
  return ms;
}

/**
 * TensorFlow.js, loaded on first use as its UMD bundles (classic scripts that fill `window.tf`):
 * its ES-module builds import bare specifiers and, for the wasm backend, Node's `fs`, `path`,
 * `perf_hooks` and `os`, which a browser cannot resolve without a bundler. Loaded here rather
 * than in index.html so that pages served without the /tfjs-* mounts (profile.mjs) load as
 * before, and so that a missing file fails the tfjs cells only. Core first: the backends attach
 * themselves to the `tf` it defines.
 */
let tfjsLoading;
function loadTfjs() {
  const load = (src) =>
    new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${src} (see the /tfjs-* mounts in bench.mjs)`));
      document.head.append(script);
    });
  tfjsLoading ??= (async () => {
    for (const src of [
      '/tfjs-core/tf-core.min.js',
      '/tfjs-wasm/tf-backend-wasm.min.js',
      '/tfjs-webgpu/tf-backend-webgpu.min.js',
    ])
      await load(src);
    return globalThis.tf;
  })();
  return tfjsLoading;
}

/**
 * TensorFlow.js on `backend` ('wasm': one
 * thread, SIMD; or 'webgpu'): `{ ms, gpuErrors, firstGpuError, leaked }` per 256² inference,
 * batch 1. Each timed run uploads the input, runs the network and reads the logits back
 * (`await data()`), as tinyunet's `logits` and onnxruntime-web's `run` + `getData` do.
 */
async function tfjs256(backend, iters, warmup) {
  const tf = await loadTfjs();
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths('/tfjs-wasm/');
    // One thread, like the other CPU rows: the threaded .wasm is never fetched. (This page is not
    // cross-origin isolated either, so it could not share memory anyway.)
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  if (backend === 'wasm' && !(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) throw new Error('no wasm SIMD');
  // WebGPU validation errors do not reject: count them on tfjs's own device too, beside the
  // console lines bench.mjs counts, so that a garbage result is not reported as a time even if
  // Chromium's console wording changes.
  const gpu = { errors: 0, first: '' };
  const device = backend === 'webgpu' ? tf.backend().device : null;
  const onError = (e) => {
    if (gpu.errors++ === 0) gpu.first = String(e.error?.message ?? e.error).split('\n')[0];
  };
  device?.addEventListener('uncapturederror', onError);
  const tensorsBefore = tf.memory().numTensors;
  const net = tinyUNet(tf, { inChannels: 3, classes: 1 });
  let ms;
  let last;
  try {
    // Random weights (a speed comparison), but the very network: same parameter count as ours.
    if (net.params !== PARAMS_1_CLASS)
      throw new Error(`tfjs TinyU-Net has ${net.params} parameters, not ${PARAMS_1_CLASS}`);
    // The same values as the other rows' input, laid out NHWC (the layout does not change the work).
    const x = input(1, 256);
    ms = await timed(iters, warmup, async () => {
      // tidy frees every intermediate tensor and the input; only the logits escape it.
      const logits = tf.tidy(() => net.forward(tf.tensor4d(x, [1, 256, 256, 3])));
      try {
        last = await logits.data();
      } finally {
        logits.dispose();
      }
    });
  } finally {
    net.dispose();
    device?.removeEventListener('uncapturederror', onError);
  }
  if (last.length !== 256 * 256 || !last.every(Number.isFinite))
    throw new Error('tfjs logits are not 256² finite values');
  // Tensors left behind by this call: 0 unless something escaped tidy or dispose (memory would grow).
  const leaked = tf.memory().numTensors - tensorsBefore;
  return { ms, gpuErrors: gpu.errors, firstGpuError: gpu.first, leaked };
}

/** tinyunet's network alone (no image decoding or resizing): ms per inference of a batch. */
async function tinyInfer(backend, batch, size, iters, warmup) {
  const core = await (await build(backend)).WasmSegmenter.create(backend, { inputSize: 256 }, undefined);
  const x = input(batch, size);
  const ms = await timed(iters, warmup, () => core.logits(x, [batch, 3, size, size]));
  core.free();
  return ms;
}

/**
 * Keeps `seg.train`'s last result in `runs.last`: its `memoryBytes` is the wasm memory of the
 * instance the run trained in (its peak), which on the CPU is an instance of its own, given back
 * after the run (pkg/training-instance.js), not the segmenter's.
 */
function keepRuns(seg) {
  const runs = { last: null };
  const train = seg.train.bind(seg);
  seg.train = (...args) => train(...args).then((r) => (runs.last = r));
  return runs;
}

/** ms per training step (forward, backward, Adam) at `batch` × `size`², and the run's wasm memory. */
async function tinyTrain(backend, batch, size, iters, warmup) {
  await build(backend);
  const seg = await Segmenter.create({ backend, inputSize: size });
  const runs = keepRuns(seg);
  const ms = await trainStepMs(seg, batch, size, iters, warmup);
  const memory = runs.last?.memoryBytes ?? wasmExports[backend].memory.buffer.byteLength;
  seg.dispose();
  return { ms, memory };
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

/**
 * The memory around a fine-tune at `size`², in a page of its own, for the shipped skin-lesion
 * model, with the median step time. `run` is `{ batch, iters, warmup }` for the bench's step loop
 * (no augmentation), or `{ defaults: true, pairs, heldOut }` for the page's default fine-tune (one
 * epoch of `pairs` pairs, `heldOut` of them held back); `options` are further `train` options,
 * with `backend` (default `cpu`) and `inPlace`.
 *
 * On the CPU build, wasm memory (a wasm memory only grows: what an earlier call grew would hide
 * this one's): the segmenter's after one inference (`inference`), the run's instance at its end
 * (`peak`: the memory never shrinks), the segmenter's after the run (`afterRun`, `afterRelease`:
 * the same instance when `options.inPlace`) and after an inference that follows it (`after`).
 * On WebGPU, the GPU buffers the device's pools hold (`Segmenter.gpuMemoryBytes`, and the run's
 * `gpuMemory`): after one inference, the run's peak, at its end, after the release, and after a
 * later inference.
 */
async function trainMemory(size, run, options) {
  const { inPlace, backend = 'cpu', ...trainOptions } = options;
  options = trainOptions;
  const gpu = backend === 'webgpu';
  await build(backend);
  // The shipped model the page fine-tunes: trained, so its BatchNorm statistics are frozen by
  // default, which micro-batches need (a fresh network trains on batch statistics, whole batches).
  const { skinLesionWeightsUrl } = await import('/pkg/models/skin-lesion.js');
  const seg = await Segmenter.create({ backend, inputSize: size, weights: skinLesionWeightsUrl });
  const memory = () => (gpu ? seg.gpuMemoryBytes : wasmExports.cpu.memory.buffer.byteLength);
  const runs = keepRuns(seg);
  const image = trainingPairs(1, size)[0].image;
  await seg.segment(image);
  const inference = memory();
  // `inPlace`: train in the segmenter's own instance, as before runs had one of their own (the
  // package does so where it cannot start a Worker).
  const RealWorker = globalThis.Worker;
  if (inPlace) globalThis.Worker = undefined;
  let ms;
  if (run.defaults) {
    const pairs = trainingPairs(run.pairs, size);
    const stamps = [];
    await seg.train(pairs.slice(run.heldOut), {
      ...options,
      heldOut: pairs.slice(0, run.heldOut),
      epochs: 1,
      size,
      onProgress: (p) => {
        if (p.phase === 'train') stamps.push(performance.now());
      },
    });
    ms = median(stamps.slice(1).map((t, i) => t - stamps[i]));
  } else {
    ms = await trainStepMs(seg, run.batch, size, run.iters, run.warmup, options);
  }
  globalThis.Worker = RealWorker;
  const last = runs.last;
  // CPU: the run's instance at its end, its peak; WebGPU: the pools' most at any step's end.
  const peak = gpu ? last.gpuMemory.peakBytes : last.memoryBytes;
  const afterRun = gpu ? last.gpuMemory.afterRunBytes : memory();
  const afterRelease = gpu ? last.gpuMemory.afterReleaseBytes : memory();
  await seg.segment(image);
  const after = memory();
  seg.dispose();
  return { inference, peak, afterRun, afterRelease, after, ms, released: last.memoryReleased };
}

/** The WebGPU adapter this browser offers (`{ vendor, architecture, description }`), or null. */
async function gpuAdapter() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const { vendor, architecture, description } = adapter.info ?? {};
  return { vendor, architecture, description };
}

window.bench = {
  ort256,
  tfjs256,
  tinyInfer,
  tinyTrain,
  trainMemory,
  memoryFlat,
  gpuAdapter,
  wasmMemory: () => wasmExports.cpu.memory.buffer.byteLength,
};
window.benchReady = true;
