// tinyunet: the package's main entry, with every build of the core (CPU, threaded CPU, WebGPU).
// `tinyunet/cpu` is the same API without the WebGPU build; the demo weights' URL is
// `tinyunet/demo-weights`, a module of its own so that bundles carry the 1 MB file only when asked.

import { registerBuilds } from './segmenter.js';

// Literal import() calls and literal URLs, so that bundlers see and copy every build, the
// threaded build's pool thread and the `.wasm` files (the package fetches those itself, to report
// their download to `onProgress`; bundlers emit each file once, as the glue points at it too).
registerBuilds(
  {
    cpu: () => import('./wasm/tinyunet_cpu.js'),
    'cpu-threads': () => import('./wasm/tinyunet_cpu-threads.js'),
    webgpu: () => import('./wasm/tinyunet_webgpu.js'),
  },
  {
    threadWorker: () =>
      new Worker(new URL('./thread-worker.js', import.meta.url), { type: 'module', name: 'tinyunet pool thread' }),
    // A CPU segmenter fine-tunes in an instance of its own, in this Worker, ended with the run.
    trainingWorker: () =>
      new Worker(new URL('./training-worker.js', import.meta.url), { type: 'module', name: 'tinyunet training' }),
    wasm: {
      cpu: () => new URL('./wasm/tinyunet_cpu_bg.wasm', import.meta.url),
      'cpu-threads': () => new URL('./wasm/tinyunet_cpu-threads_bg.wasm', import.meta.url),
      webgpu: () => new URL('./wasm/tinyunet_webgpu_bg.wasm', import.meta.url),
    },
  },
);

export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE, TinyunetError } from './segmenter.js';
