// A fine-tuning run in a wasm instance of its own (pkg/training-instance.js starts one Worker per
// run and ends it when the run ends). A wasm memory never shrinks: the few hundred MiB a run's
// training steps grow go with this Worker, and the segmenter's own instance stays at what
// inference needs. The segmenter's compiled module arrives with `init` (no second download or
// compile), then the core's training calls one message each.
//
// Static imports only: bundlers build a Worker as one file by default (Vite's `iife`), which has
// no dynamic import(). Loading a glue module instantiates nothing; `init` instantiates one build.
import initCpu, * as cpu from './wasm/tinyunet_cpu.js';
import initThreads, * as threaded from './wasm/tinyunet_cpu-threads.js';

const builds = { cpu: [initCpu, cpu], 'cpu-threads': [initThreads, threaded] };

let exports = null; // the instance's exports (its memory)
let core = null; // the WasmSegmenter this run trains
let poolStarted = null; // resolves when the page has started this instance's pool threads

/** Asks the page to start `threads` pool Workers on `module` and `memory` (see training-instance.js). */
function startPool(glue, threads) {
  const [module, memory] = glue.threadShare();
  return new Promise((resolve, reject) => {
    poolStarted = { resolve, reject };
    postMessage({ type: 'pool', module, memory, threads });
  }).then(() => glue.startThreadPool(threads));
}

const ops = {
  /** Instantiates `build` from the compiled `module` and builds the network from `weights`. */
  async init({ build, module, threads, settings, weights }) {
    const [init, glue] = builds[build];
    exports = await init(module ? { module_or_path: module } : undefined);
    if (build === 'cpu-threads') await startPool(glue, threads);
    core = await glue.WasmSegmenter.create('cpu', settings, weights);
    return null;
  },
  add: (name, image, mask, size, heldOut) => core.addTrainingSample(name, image, mask, size, heldOut),
  start: (settings) => core.startTraining(settings),
  step: () => core.trainStep(),
  /**
   * Ends the run: its report, the weights it kept (null when it kept the previous ones), the last
   * step's weights when they differ from those kept (for `useLastTrainedWeights`), and the
   * instance's memory now (its peak: a wasm memory never shrinks).
   */
  async finish(cancelled) {
    const outcome = await core.finishTraining(cancelled);
    const weights = outcome.kept === 'previous' ? null : await core.exportWeights();
    const last = outcome.lastAvailable && core.useLastTrainedWeights() ? await core.exportWeights() : null;
    return { outcome, weights, last, memoryBytes: exports.memory.buffer.byteLength };
  },
};

/** An error as plain data: the core's `kind`, and whether it was a trap (a `RuntimeError`). */
function errorData(e) {
  return {
    message: String(e?.message ?? e),
    kind: typeof e?.kind === 'string' ? e.kind : null,
    trap: e instanceof WebAssembly.RuntimeError,
    name: e?.name ?? 'Error',
  };
}

self.addEventListener('message', async ({ data }) => {
  if (data?.type === 'pool-started') {
    if (data.error) poolStarted?.reject(new Error(data.error));
    else poolStarted?.resolve();
    return;
  }
  if (data?.type !== 'call') return;
  try {
    const result = await ops[data.op](...data.args);
    postMessage({ type: 'result', id: data.id, result });
  } catch (e) {
    postMessage({ type: 'result', id: data.id, error: errorData(e) });
  }
});
postMessage({ type: 'loaded' });
