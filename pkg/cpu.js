// tinyunet/cpu: the package's API with only the CPU build of the core. A bundle made from it never
// carries the WebGPU build (13 MB); `backend: 'auto'` runs on the CPU and says why in
// `fallbackReason`.

import { registerBuilds } from './segmenter.js';

registerBuilds({ cpu: () => import('./wasm/tinyunet_cpu.js') });

export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE } from './segmenter.js';
