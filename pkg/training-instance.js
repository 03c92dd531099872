// Fine-tuning in a wasm instance of its own, given back when the run ends.
//
// A wasm memory only grows: a run's training steps take a few hundred MiB (the page's default
// fine-tune peaks at ~430 MiB, inference alone needs ~140), and an instance that trained keeps
// them until the page closes. So a CPU segmenter trains in a second instance of its compiled
// module, in a Worker of its own (./training-worker.js): it builds the network from the
// segmenter's weights, trains, hands back the weights the run kept (and the last step's), and the
// Worker is ended, its memory with it. A second instance cannot live in the segmenter's own
// realm: wasm-bindgen's glue holds one instance per module record, and a module record (one per
// URL) lives as long as the page. The threaded build's pool threads for that instance are started
// here, by the entry module's pool-Worker function, and ended with the run.

import { failure } from './errors.js';

const START_TIMEOUT_MS = 60_000;

// Failures that will happen again on every later try in this page (the Worker cannot be made, or
// its script does not load), as against one slow start or one run that went wrong.
const lasting = new WeakSet();

/** True when `error` (from `TrainingInstance.open`) says no training Worker can start in this page. */
export function isLastingFailure(error) {
  return lasting.has(error);
}

/** An error from the Worker as the core would have thrown it (a `kind`, or a trap). */
function errorFrom(data) {
  if (data.trap) return new WebAssembly.RuntimeError(data.message);
  if (data.name === 'AbortError') return new DOMException(data.message, 'AbortError');
  if (!data.kind) return failure('backend', `the training Worker: ${data.message}`);
  const error = new Error(data.message);
  error.kind = data.kind;
  return error;
}

/** Starts one pool thread of the training instance; resolves with its Worker once it has instantiated. */
function startPoolThread(spawn, module, memory, workers) {
  const worker = spawn();
  workers.push(worker);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(failure('backend', `a pool thread did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    worker.addEventListener('message', ({ data }) => {
      if (data?.type === 'tinyunet-thread-ready') {
        clearTimeout(timer);
        resolve(worker);
      } else if (data?.type === 'tinyunet-thread-failed') {
        clearTimeout(timer);
        reject(failure('backend', `a pool thread did not start: ${data.message}`));
      }
    });
    worker.addEventListener('error', (e) => {
      e.preventDefault?.();
      clearTimeout(timer);
      reject(failure('backend', e.message || "the pool thread's script (thread-worker.js) did not load"));
    });
    worker.postMessage({ type: 'tinyunet-thread-init', module, memory });
  });
}

/** One run's instance: `call(op, …args)` runs one of training-worker.js's `ops`; `close()` ends it. */
export class TrainingInstance {
  #worker;
  #poolWorkers = [];
  #pending = new Map();
  #next = 0;
  #broken = null; // why the Worker stopped answering, once it has
  #closed = false;
  #spawnThread;

  constructor(worker, spawnThread) {
    this.#worker = worker;
    this.#spawnThread = spawnThread;
    worker.addEventListener('message', ({ data }) => this.#receive(data));
    // A Worker whose script does not load, or that throws outside a call, fires `error`: every
    // call waiting on it fails (a step would otherwise wait for ever, and the segmenter's queue
    // behind it). One that dies without a word (killed for memory) cannot be told from a slow
    // step here: no watchdog, which would fail slow but sound runs on a slow tablet.
    worker.addEventListener('error', (e) => {
      e.preventDefault?.();
      const error = failure(
        'backend',
        `the training Worker failed: ${e.message || 'its script (training-worker.js) did not load'}`,
      );
      if (!this.#broken) lasting.add(error);
      this.#fail(error);
    });
    worker.addEventListener('messageerror', () =>
      this.#fail(failure('backend', 'the training Worker sent a message that could not be read')),
    );
  }

  /**
   * Starts a Worker (`spawn()`), instantiates `build` from `module` in it (with a pool of `threads`
   * from `spawnThread` on `cpu-threads`) and builds the network from `weights` with `settings`.
   */
  static async open(spawn, spawnThread, { build, module, threads, settings, weights }) {
    let worker;
    try {
      worker = spawn();
    } catch (e) {
      const error = failure('backend', `the training Worker could not be made: ${e?.message ?? e}`, e);
      lasting.add(error);
      throw error;
    }
    const instance = new TrainingInstance(worker, spawnThread);
    try {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(failure('backend', `the training Worker did not start within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([instance.call('init', { build, module, threads, settings, weights }), timeout]);
      } finally {
        clearTimeout(timer);
      }
      return instance;
    } catch (e) {
      instance.close();
      throw e;
    }
  }

  #receive(data) {
    // A message queued before `close()` finds nothing to answer (and must start no pool thread).
    if (this.#closed) return;
    if (data?.type === 'pool') {
      this.#startPool(data);
    } else if (data?.type === 'result') {
      const pending = this.#pending.get(data.id);
      if (!pending) return;
      this.#pending.delete(data.id);
      if (data.error) pending.reject(errorFrom(data.error));
      else pending.resolve(data.result);
    }
  }

  async #startPool({ module, memory, threads }) {
    // A pool thread spawned once the instance is closed is ended at once (none outlives it).
    const spawn = () => {
      const worker = this.#spawnThread();
      if (this.#closed) worker.terminate();
      return worker;
    };
    try {
      if (!this.#spawnThread) throw failure('backend', 'this entry of the package has no pool thread to start');
      await Promise.all(
        Array.from({ length: threads }, () => startPoolThread(spawn, module, memory, this.#poolWorkers)),
      );
      if (this.#closed) return;
      this.#worker.postMessage({ type: 'pool-started' });
    } catch (e) {
      if (this.#closed) return;
      this.#worker.postMessage({ type: 'pool-started', error: String(e?.message ?? e) });
    }
  }

  #fail(error) {
    this.#broken ??= error;
    for (const { reject } of this.#pending.values()) reject(this.#broken);
    this.#pending.clear();
  }

  /** Runs `op` in the Worker; resolves to its result (structured-cloned). */
  call(op, ...args) {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const id = ++this.#next;
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: 'call', id, op, args });
    });
  }

  /** Ends the Worker and its pool threads: the instance and its memory go with them. */
  close() {
    this.#closed = true;
    this.#fail(failure('backend', 'the training instance was closed'));
    this.#worker.terminate();
    for (const worker of this.#poolWorkers.splice(0)) worker.terminate();
  }
}
