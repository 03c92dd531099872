// What one WebGPU inference asks of the GPU, counted in the page: dispatches, bind groups,
// submits, buffer allocations (and their bytes), uploads, pipelines compiled and read-backs, per
// run of `segmenter.segment` at each working size (the first run compiles and allocates; the
// later ones show the steady state), with its wall time. For issue 15's SwiftShader profile:
// time that is not compute shows up as counts that do not shrink with the image.
//
// Run: node bench/profile-webgpu.mjs [sizes, default 32,256]   (needs ./build.sh pkg)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, onHelpersPage, evaluateWithTimeout } from '../tests/browser/harness.mjs';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SIZES = (process.argv[2] ?? '32,256').split(',').map(Number);
const server = await startServer({
  root: path.join(ROOT, 'tests/browser/package-pages'),
  mounts: { '/pkg/': path.join(ROOT, 'pkg') },
});
const browser = await launchBrowser({ webgpu: true });
try {
  const r = await onHelpersPage(browser, server, (page) =>
    evaluateWithTimeout(
      page,
      async (sizes) => {
        const counts = {};
        const wrap = (proto, name) => {
          const f = proto[name];
          proto[name] = function (...a) {
            counts[name] = (counts[name] ?? 0) + 1;
            if (name === 'createBuffer') counts.bufferBytes = (counts.bufferBytes ?? 0) + a[0].size;
            return f.apply(this, a);
          };
        };
        for (const n of [
          'createBuffer',
          'createComputePipeline',
          'createComputePipelineAsync',
          'createShaderModule',
          'createBindGroup',
          'createCommandEncoder',
        ])
          wrap(GPUDevice.prototype, n);
        for (const n of ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect']) wrap(GPUComputePassEncoder.prototype, n);
        for (const n of ['submit', 'writeBuffer']) wrap(GPUQueue.prototype, n);
        wrap(GPUBuffer.prototype, 'mapAsync');
        wrap(GPUCommandEncoder.prototype, 'copyBufferToBuffer');
        const out = [];
        for (const size of sizes) {
          const seg = await window.tinyunet.Segmenter.create({ backend: 'webgpu', inputSize: size });
          for (let run = 0; run < 3; run++) {
            for (const k of Object.keys(counts)) delete counts[k];
            const t = performance.now();
            await seg.segment(new ImageData(size, size));
            out.push({ size, run, ms: Math.round(performance.now() - t), ...counts });
          }
          seg.dispose();
        }
        return out;
      },
      SIZES,
      3_600_000,
    ),
  );
  for (const x of r) console.log(JSON.stringify(x));
} finally {
  await browser.close();
  await server.close();
}
