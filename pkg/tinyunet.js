// tinyunet: the package's main entry, with every build of the core (CPU, threaded CPU, WebGPU).
// `tinyunet/cpu` is the same API without the WebGPU build; the demo weights' URL is
// `tinyunet/demo-weights`, a module of its own so that bundles carry the 1 MB file only when asked.

import { registerBuilds } from './segmenter.js';

// Literal import() calls and a literal Worker URL, so that bundlers see and copy every build and
// the threaded build's pool thread.
registerBuilds({
  cpu: () => import('./wasm/tinyunet_cpu.js'),
  'cpu-threads': () => import('./wasm/tinyunet_cpu-threads.js'),
  webgpu: () => import('./wasm/tinyunet_webgpu.js'),
}, {
  threadWorker: () => new Worker(new URL('./thread-worker.js', import.meta.url), { type: 'module', name: 'tinyunet pool thread' }),
});

export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE } from './segmenter.js';
