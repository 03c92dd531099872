// Which build of the wasm core runs here, and loading it: the builds the entry module registers,
// fetching and compiling each once (with download progress), the threaded build's pool, the
// WebGPU adapter and whether it is a software renderer, and `auto`'s race of WebGPU against the
// CPU build. segmenter.js builds the `Segmenter` on what this chooses.

import { asError, failure } from './errors.js';
import { Download, compileWasm, fetchWasm, isNode, readFileUrl } from './download.js';
import { segmenterOptions } from './options.js';
import { useDicomReader } from './image.js';
import { chooseCpuBuild, startThreadPool, threadsOption } from './threads.js';

// Three builds of the core: `cpu` has no GPU code and is a fifth of the download of `webgpu` (which
// also runs on the CPU, for its fallback), so a page that runs on the CPU never fetches the GPU
// code; `cpu-threads` is `cpu` on a pool of Web Workers, for cross-origin isolated pages
// (threads.js). Each entry module registers the builds it offers with literal import() calls (and
// the pool's Worker with a literal `new Worker(new URL(…))`), which bundlers see and copy:
// `tinyunet/cpu` registers no `webgpu`, so its bundles never carry the WebGPU build.
const importers = {};
export let spawnThread = null;
// Starts the Worker a CPU segmenter's fine-tuning runs in (training-worker.js; see
// training-instance.js): from a literal `new Worker(new URL(…))` in the entry module, as the pool's.
export let spawnTraining = null;
// Each build's `.wasm` URL, from a literal `new URL(…, import.meta.url)` in the entry module (so
// bundlers see it and rewrite it to where they put the file, as they do the glue's own). With the
// URL the package fetches the file itself, to count its bytes for `onProgress`; without it the
// glue fetches it and no progress is told.
const wasmFiles = {};

/**
 * Adds builds of the core: `{ cpu: () => import(…), 'cpu-threads': …, webgpu: … }`, with
 * `cpu-threads` the function that starts one of its pool's Workers (`threadWorker`), `wasm`,
 * each build's `() => new URL(…)` of its `.wasm` file (for load progress), and `trainingWorker`,
 * the function that starts the Worker a CPU segmenter fine-tunes in (its memory given back after).
 */
export function registerBuilds(builds, { threadWorker, wasm, trainingWorker } = {}) {
  Object.assign(importers, builds);
  if (threadWorker) spawnThread = threadWorker;
  if (trainingWorker) spawnTraining = trainingWorker;
  if (wasm) Object.assign(wasmFiles, wasm);
}

/** The builds `wasmUrls` may name. */
const BUILDS = ['cpu', 'cpu-threads', 'webgpu'];

const loading = new Map();
/** Each build's `.wasm` download, kept so that a later `create` or `preload` hears of it. */
const downloads = new Map();
/** Each loaded build's compiled module (null when the glue fetched it itself) and memory. */
export const instances = new Map();

/**
 * Loads one build of the wasm core once, however many segmenters use it; resolves to its bindings.
 * The threaded build starts its pool of `threads` Workers the first time (its size is then fixed
 * for the page's life: `poolThreads()` says what it is).
 */
export function loadWasm(build, wasmUrls, threads = 1, onProgress) {
  if (!loading.has(build)) {
    const url = wasmUrls?.[build];
    const download = new Download('wasm', build);
    downloads.set(build, download);
    const ready = importers[build]()
      .then(async (glue) => {
        // In Node the glue's own `fetch(file://…)` fails: read the package's wasm file instead.
        const fileUrl = isNode && new URL(url ?? `./wasm/tinyunet_${build}_bg.wasm`, import.meta.url);
        const where = url ?? wasmFiles[build]?.();
        const source =
          fileUrl && fileUrl.protocol === 'file:'
            ? await readFileUrl(fileUrl, download)
            : where
              ? await fetchWasm(where, download)
              : undefined;
        const compiled = source === undefined ? undefined : await compileWasm(source);
        const exports = await glue.default(compiled === undefined ? undefined : { module_or_path: compiled });
        const module = compiled instanceof WebAssembly.Module ? compiled : null;
        instances.set(build, { module, memory: exports.memory });
        if (build === 'cpu-threads') await startThreadPool(glue, threads, spawnThread);
        return glue;
      })
      .catch((e) => {
        loading.delete(build);
        throw failure('backend', `the WebAssembly module (${build}) could not be loaded: ${e?.message ?? e}`);
      });
    loading.set(build, ready);
  }
  downloads.get(build)?.listen(onProgress);
  return loading.get(build);
}

// DICOM files (decodeImage) are read by the core: a build already loaded, else the CPU one.
useDicomReader(() => loading.values().next().value ?? loadWasm('cpu'));

/** Words in an adapter's description that mean the GPU is emulated on the CPU. */
const SOFTWARE_RENDERERS = ['swiftshader', 'llvmpipe', 'lavapipe', 'softpipe', 'microsoft basic render', 'warp'];

/**
 * The WebGPU adapter this browser would give us, described: `{ adapter: { vendor, architecture,
 * software } }`, or `{ problem }` saying why there is none. `software` names the software renderer
 * (or says "a fallback adapter") when the "GPU" is emulated on the CPU, where the CPU build runs
 * the network many times faster (SwiftShader: 26 s against 1 s for a 256² mask, README).
 */
async function webgpuAdapter() {
  if (isNode) return { problem: 'Node has no WebGPU (navigator.gpu is missing)' };
  if (typeof navigator === 'undefined' || !navigator.gpu)
    return { problem: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    return { problem: `requesting a WebGPU adapter failed: ${e?.message ?? e}` };
  }
  if (!adapter) return { problem: 'no WebGPU adapter is available' };
  const info = adapter.info ?? {};
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ').toLowerCase();
  const renderer = SOFTWARE_RENDERERS.find((name) => text.includes(name));
  const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const software = renderer ?? (fallback ? 'a fallback adapter' : null);
  return { adapter: { vendor: info.vendor || '', architecture: info.architecture || '', software } };
}

/** How an adapter is named to a person: "google swiftshader", say. */
export function adapterName(adapter) {
  return [adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'an unnamed adapter';
}

/** The `backend`, `wasmUrls`, `threads` and `onProgress` options, checked. */
export function backendOptions(options) {
  const backend = options.backend ?? 'auto';
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw failure('config', `backend must be "auto", "webgpu" or "cpu", got ${JSON.stringify(backend)}`);
  }
  if (options.wasmUrl !== undefined) {
    throw failure('config', 'wasmUrl was replaced by wasmUrls: { cpu, webgpu } (one URL per build of the core)');
  }
  const wasmUrls = options.wasmUrls ?? {};
  if (wasmUrls === null || typeof wasmUrls !== 'object' || Object.keys(wasmUrls).some((k) => !BUILDS.includes(k))) {
    throw failure('config', 'wasmUrls must be an object with the keys "cpu", "cpu-threads" and/or "webgpu"');
  }
  if (backend === 'webgpu' && !importers.webgpu) {
    throw failure(
      'config',
      'backend "webgpu" needs the WebGPU build, which tinyunet/cpu leaves out: import from "tinyunet"',
    );
  }
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw failure(
      'config',
      `onProgress must be a function (called with each file's download progress), got ${onProgress === null ? 'null' : typeof onProgress}`,
    );
  }
  return { backend, wasmUrls, threads: threadsOption(options.threads), onProgress };
}

let threadsFailure = null; // why the threaded build did not start, once it has failed here

/**
 * Loads the CPU build for the `threads` option here: `{ glue, build, threads, threadsReason }`.
 * When the threaded build cannot start (no wasm threads in this browser, a pool Worker that does
 * not load), the 1-thread build runs and `threadsReason` says why (and every later segmenter).
 */

export async function loadCpu(wasmUrls, asked, onProgress) {
  const choice = chooseCpuBuild(asked, Boolean(importers['cpu-threads'] && spawnThread));
  if (choice.build === 'cpu-threads' && threadsFailure) {
    return {
      glue: await loadWasm('cpu', wasmUrls, 1, onProgress),
      build: 'cpu',
      threads: 1,
      threadsReason: threadsFailure,
    };
  }
  if (choice.build === 'cpu-threads') {
    try {
      const glue = await loadWasm('cpu-threads', wasmUrls, choice.threads, onProgress);
      const threads = glue.poolThreads();
      const threadsReason =
        threads === choice.threads
          ? choice.threadsReason
          : `${threads} threads (Web Workers): the page's pool was started with ${threads} by an earlier segmenter, and its size is fixed`;
      return { glue, build: 'cpu-threads', threads, threadsReason };
    } catch (e) {
      threadsFailure = `1 thread: the threaded build did not start (${asError(e).message})`;
      return {
        glue: await loadWasm('cpu', wasmUrls, 1, onProgress),
        build: 'cpu',
        threads: 1,
        threadsReason: threadsFailure,
      };
    }
  }
  return { glue: await loadWasm('cpu', wasmUrls, 1, onProgress), ...choice };
}

/** What a segmenter on the WebGPU build says of its threads. */
export const GPU_THREADS = {
  build: 'webgpu',
  threads: 1,
  threadsReason: '1 thread: the network runs on the GPU, driven from this thread',
};

/**
 * The build a backend choice runs on here: `chosen`, `backendReason` (why, for every choice),
 * `fallbackReason` (why the CPU when WebGPU was allowed, else null) and the WebGPU `adapter`
 * seen (null when none was asked for or found). `auto` takes WebGPU only on a hardware adapter:
 * a software one is far slower than the CPU build; `webgpu` takes any adapter.
 */
export async function chooseBuild(backend) {
  const cpu = (reason, fallback = reason, adapter = null) => ({
    chosen: 'cpu',
    backendReason: reason,
    fallbackReason: fallback,
    adapter,
  });
  if (backend === 'cpu') return cpu('the CPU was asked for', null);
  if (!importers.webgpu) return cpu('this is the CPU-only entry (tinyunet/cpu)');
  const { adapter, problem } = await webgpuAdapter();
  if (problem && backend === 'webgpu') throw failure('backend', `${problem}`);
  if (problem) return cpu(`WebGPU is not available: ${problem}`, problem);
  if (adapter.software && backend === 'auto') {
    return cpu(
      `the only WebGPU adapter here is a software renderer (${adapter.software}), far slower than the CPU build`,
      `the only WebGPU adapter is a software renderer (${adapter.software})`,
      adapter,
    );
  }
  const on = adapter.software
    ? `a software renderer (${adapter.software}), because WebGPU was asked for`
    : `the GPU (${adapterName(adapter)})`;
  return { chosen: 'webgpu', backendReason: `WebGPU on ${on}`, fallbackReason: null, adapter };
}

/**
 * Starts fetching and compiling the build of the core that `backend` needs here, so that a later
 * `Segmenter.create` with the same options finds it ready; resolves to that build's name.
 * `onProgress` hears of the `.wasm` download (a `create` made meanwhile hears of it too).
 */
export async function preload(options = {}) {
  const { backend, wasmUrls, threads, onProgress } = backendOptions(options);
  const { chosen } = await chooseBuild(backend);
  if (chosen === 'cpu') return (await loadCpu(wasmUrls, threads, onProgress)).build;
  await loadWasm(chosen, wasmUrls, 1, onProgress);
  return chosen;
}

/** Milliseconds of one warm inference of `core` on a `size`² zero image (the first run compiles). */
async function timeInference(core, size) {
  const input = new Float32Array(3 * size * size);
  await core.logits(input, [1, 3, size, size]);
  const start = performance.now();
  await core.logits(input, [1, 3, size, size]);
  return performance.now() - start;
}

/**
 * `auto` on a hardware GPU: the WebGPU `gpuCore` against the CPU build (threaded where it can
 * be), one warm inference each at the working size. Returns `timings` ({ webgpu, cpu, size } in
 * ms, or null if the CPU build could not be tried), the `backendReason`, and `cpu` — `{ glue,
 * core, fallbackReason }` to run on instead — when the CPU build was faster; else the CPU core is freed.
 */
export async function raceCpu(gpuCore, weights, size, gpuName, loadCpuBuild, options) {
  let webgpu;
  let gpuError = null;
  try {
    webgpu = await timeInference(gpuCore, size);
  } catch (e) {
    gpuError = asError(e); // then the CPU build runs, if it starts
  }
  let cpuGlue;
  let cpuCore;
  try {
    cpuGlue = await loadCpuBuild();
    cpuCore = await cpuGlue.WasmSegmenter.create('cpu', segmenterOptions(options, cpuGlue.limits()), weights);
  } catch (e) {
    if (gpuError) throw gpuError;
    return {
      timings: null,
      backendReason: `WebGPU on the GPU (${gpuName}); the CPU build could not be timed against it (${asError(e).message})`,
      cpu: null,
    };
  }
  if (gpuError) {
    const why = `WebGPU failed its first inference (${gpuError.message})`;
    return { timings: null, backendReason: why, cpu: { glue: cpuGlue, core: cpuCore, fallbackReason: why } };
  }
  const cpu = await timeInference(cpuCore, size);
  const timings = { webgpu, cpu, size };
  const figures = `${size}² inference: WebGPU ${webgpu.toFixed(0)} ms, the CPU build ${cpu.toFixed(0)} ms`;
  if (cpu < webgpu) {
    const why = `the CPU build was faster than WebGPU on this GPU (${gpuName}; ${figures})`;
    return { timings, backendReason: why, cpu: { glue: cpuGlue, core: cpuCore, fallbackReason: why } };
  }
  cpuCore.free();
  return {
    timings,
    backendReason: `WebGPU on the GPU (${gpuName}), faster than the CPU build (${figures})`,
    cpu: null,
  };
}
