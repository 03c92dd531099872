// The benchmark's server options, shared by bench.mjs and bench-memory.mjs. The other libraries
// come from bench/package.json (npm ci here), so that the tests and the demo never install them.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PKG_DIR } from '../tests/browser/harness.mjs';

/**
 * The benchmark's server: its pages (`bench-pages/`), the package, the other libraries it measures
 * against from the exact versions in package.json (TensorFlow.js's wasm backend fetches its .wasm
 * from /tfjs-wasm/, so nothing leaves 127.0.0.1), and `../shared/bench`.
 */
export function benchServerOptions() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modules = path.join(here, 'node_modules');
  return {
    root: path.join(here, 'bench-pages'),
    mounts: {
      '/pkg/': PKG_DIR,
      '/ort/': path.join(modules, 'onnxruntime-web/dist'),
      '/tfjs-core/': path.join(modules, '@tensorflow/tfjs-core/dist'),
      '/tfjs-wasm/': path.join(modules, '@tensorflow/tfjs-backend-wasm/dist'),
      '/tfjs-webgpu/': path.join(modules, '@tensorflow/tfjs-backend-webgpu/dist'),
      '/bench-files/': path.join(here, '../../shared/bench'),
    },
  };
}
