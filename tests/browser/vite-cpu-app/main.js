// An app that runs on the CPU with its own weights: `tinyunet/cpu`, whose bundle must carry
// neither the WebGPU build nor the demo weights. Its weights come from the test server.
import { Segmenter } from 'tinyunet/cpu';

async function main() {
  const segmenter = await Segmenter.create({ backend: 'auto', inputSize: 64, weights: '/my-weights.safetensors' });
  const image = new ImageData(64, 48);
  image.data.fill(120);
  const result = await segmenter.segment(image);
  return { backend: segmenter.backend, reason: segmenter.fallbackReason, width: result.width, height: result.height, parameters: segmenter.parameters };
}

window.viteResult = main().catch((e) => ({ error: String(e?.message ?? e) }));
