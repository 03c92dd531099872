// tinyunet: the package's main entry, with both builds of the core (CPU and WebGPU).
// `tinyunet/cpu` is the same API without the WebGPU build; the demo weights' URL is
// `tinyunet/demo-weights`, a module of its own so that bundles carry the 2 MB file only when asked.

import { registerBuilds } from './segmenter.js';

// Literal import() calls, so that bundlers see and copy both builds.
registerBuilds({
  cpu: () => import('./wasm/tinyunet_cpu.js'),
  webgpu: () => import('./wasm/tinyunet_webgpu.js'),
});

export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE } from './segmenter.js';
