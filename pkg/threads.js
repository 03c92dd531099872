// The thread pool of the multi-threaded CPU build (`cpu-threads`): which build a context can run,
// and starting the pool's Web Workers.
//
// The threaded build shares its WebAssembly memory with one Worker per pool thread, which needs a
// cross-origin isolated page (COOP + COEP headers: SharedArrayBuffer) and a caller that may block
// while the pool works (Atomics.wait, refused on a page's main thread). Anywhere else the package
// runs the 1-thread build and `threadsReason` says why. The Workers run ./thread-worker.js, whose
// URL the package's entry modules name with a literal `new URL(…, import.meta.url)`, so that
// bundlers copy it and the demo's CSP (`worker-src 'self'`) allows it (no `blob:` Workers).

import { failure } from './errors.js';

/** The most threads the `threads` option takes. */
export const MAX_THREADS = 16;
/** The default's cap: the network's work at 256² hardly shares out over more. */
export const DEFAULT_MAX_THREADS = 8;
/** How long a pool Worker may take to instantiate the module before the 1-thread build runs. */
const START_TIMEOUT_MS = 60_000;

const isNode = Boolean(globalThis.process?.versions?.node) && typeof window === 'undefined';

/** Why this context cannot run the threaded build, or null when it can. */
export function threadsUnavailable() {
  if (isNode) return 'in Node the package runs the 1-thread build (the thread pool is for browsers)';
  if (!globalThis.crossOriginIsolated) {
    return 'the page is not cross-origin isolated (it needs the COOP and COEP headers), so WebAssembly threads cannot share memory';
  }
  if (typeof WorkerGlobalScope === 'undefined' || !(globalThis instanceof WorkerGlobalScope)) {
    return "it runs on the page's main thread, which may not wait for other threads (Atomics.wait): create it in a Web Worker for threads";
  }
  if (typeof Worker === 'undefined') return 'this worker cannot start Workers of its own';
  return null;
}

/** The cores the browser reports (at least 1). */
export function reportedCores() {
  const cores = typeof navigator === 'undefined' ? 1 : Number(navigator.hardwareConcurrency);
  return Number.isInteger(cores) && cores > 0 ? cores : 1;
}

/** The `threads` option, checked: undefined (the default) or an integer from 1 to MAX_THREADS. */
export function threadsOption(value) {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > MAX_THREADS)) {
    throw failure(
      'config',
      `threads must be an integer from 1 to ${MAX_THREADS}, got ${typeof value === 'string' ? JSON.stringify(value) : value}`,
    );
  }
  return value;
}

/**
 * The CPU build to run for a `threads` option here: `{ build: 'cpu' | 'cpu-threads', threads,
 * threadsReason }` (`threads` is the pool size asked for the threaded build, else 1).
 */
export function chooseCpuBuild(asked, offered) {
  const one = (reason) => ({ build: 'cpu', threads: 1, threadsReason: `1 thread: ${reason}` });
  if (asked === 1) return one('1 thread was asked for');
  if (!offered) return one('this entry of the package has no threaded build');
  const problem = threadsUnavailable();
  if (problem) return one(problem);
  const cores = reportedCores();
  if (asked === undefined && cores < 2) return one('the browser reports 1 core');
  const threads = asked ?? Math.min(cores, DEFAULT_MAX_THREADS);
  const why =
    asked === undefined
      ? `the browser reports ${cores} cores${cores > DEFAULT_MAX_THREADS ? ` (the default takes at most ${DEFAULT_MAX_THREADS})` : ''}`
      : `${asked} threads were asked for`;
  return { build: 'cpu-threads', threads, threadsReason: `${threads} threads (Web Workers): ${why}` };
}

/** The pool's Workers, kept referenced for the page's life (some browsers collect idle ones). */
const poolWorkers = [];

/** Starts one pool Worker on the module's memory; resolves once it has instantiated the module. */
function startWorker(spawn, module, memory) {
  const worker = spawn();
  poolWorkers.push(worker);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`a pool thread did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    const done = (f, value) => {
      clearTimeout(timer);
      f(value);
    };
    worker.addEventListener('message', ({ data }) => {
      if (data?.type === 'tinyunet-thread-ready') done(resolve, worker);
      else if (data?.type === 'tinyunet-thread-failed') done(reject, new Error(data.message));
    });
    worker.addEventListener('error', (e) => {
      e.preventDefault?.();
      done(reject, new Error(e.message || "the pool thread's script (thread-worker.js) did not load"));
    });
    worker.postMessage({ type: 'tinyunet-thread-init', module, memory });
  });
}

/**
 * Gives the threaded build `glue` (initialised) its pool of `threads` Workers made by `spawn`.
 * Every Worker has instantiated the module and waits for its pool thread before the pool is built
 * (which blocks until all its threads run), so a failure leaves no pool waiting for threads that
 * never come (the caller then runs the 1-thread build).
 */
export async function startThreadPool(glue, threads, spawn) {
  const [module, memory] = glue.threadShare();
  const first = poolWorkers.length;
  try {
    await Promise.all(Array.from({ length: threads }, () => startWorker(spawn, module, memory)));
  } catch (e) {
    for (const worker of poolWorkers.splice(first)) worker.terminate();
    throw e;
  }
  glue.startThreadPool(threads);
}
