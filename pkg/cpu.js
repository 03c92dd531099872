// tinyunet/cpu: the package's API with only the CPU builds of the core (1-thread and threaded). A
// bundle made from it never carries the WebGPU build (13 MB); `backend: 'auto'` runs on the CPU
// and says why in `fallbackReason`.

import { registerBuilds } from './segmenter.js';

registerBuilds(
  {
    cpu: () => import('./wasm/tinyunet_cpu.js'),
    'cpu-threads': () => import('./wasm/tinyunet_cpu-threads.js'),
  },
  {
    threadWorker: () =>
      new Worker(new URL('./thread-worker.js', import.meta.url), { type: 'module', name: 'tinyunet pool thread' }),
    // A CPU segmenter fine-tunes in an instance of its own, in this Worker, ended with the run.
    trainingWorker: () =>
      new Worker(new URL('./training-worker.js', import.meta.url), { type: 'module', name: 'tinyunet training' }),
    // Literal URLs (see tinyunet.js): the package fetches these itself to report their download.
    wasm: {
      cpu: () => new URL('./wasm/tinyunet_cpu_bg.wasm', import.meta.url),
      'cpu-threads': () => new URL('./wasm/tinyunet_cpu-threads_bg.wasm', import.meta.url),
    },
  },
);

export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE, TinyunetError } from './segmenter.js';
