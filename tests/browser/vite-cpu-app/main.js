// An app that runs on the CPU with its own weights: `tinyunet/cpu`, whose bundle must carry
// neither the WebGPU build nor the demo weights. Its weights come from the test server.
import { Segmenter } from 'tinyunet/cpu';

async function main() {
  const segmenter = await Segmenter.create({ backend: 'auto', inputSize: 64, weights: '/my-weights.safetensors' });
  const image = new ImageData(64, 48);
  image.data.fill(120);
  const result = await segmenter.segment(image);
  // A fine-tune runs in the package's training Worker, which the bundle must carry and start
  // (its memory given back when the run ends).
  const mask = new ImageData(64, 48);
  for (let i = 0; i < mask.data.length; i += 4) mask.data.fill(i < mask.data.length / 2 ? 255 : 0, i, i + 4);
  const run = await segmenter.train(
    [
      { image, mask },
      { image, mask },
    ],
    { epochs: 1, batchSize: 2, size: 32 },
  );
  return {
    backend: segmenter.backend,
    reason: segmenter.fallbackReason,
    width: result.width,
    height: result.height,
    parameters: segmenter.parameters,
    trained: { steps: run.stepsDone, memoryReleased: run.memoryReleased },
  };
}

window.viteResult = main().catch((e) => ({ error: String(e?.message ?? e) }));
