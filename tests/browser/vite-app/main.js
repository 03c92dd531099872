// A minimal app that uses tinyunet the way a bundler user would: by package name, with the CPU
// build's URL taken through the package's `wasm/*` export (the `wasmUrls` escape hatch).
import { Segmenter } from 'tinyunet';
import cpuWasm from 'tinyunet/wasm/tinyunet_cpu_bg.wasm?url';

async function main() {
  const segmenter = await Segmenter.create({ backend: 'cpu', inputSize: 64, wasmUrls: { cpu: cpuWasm } });
  const image = new ImageData(123, 45);
  image.data.fill(180);
  const result = await segmenter.segment(image, { probabilities: true });
  return {
    backend: segmenter.backend,
    width: result.width,
    height: result.height,
    probabilities: result.probabilities.length,
    wasm: cpuWasm,
  };
}

window.viteResult = main().catch((e) => ({ error: String(e?.message ?? e) }));
