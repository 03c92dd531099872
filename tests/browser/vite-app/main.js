// A minimal app that uses tinyunet the way a bundler user would: by package name.
import { Segmenter } from 'tinyunet';

async function main() {
  const segmenter = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
  const image = new ImageData(123, 45);
  image.data.fill(180);
  const result = await segmenter.segment(image, { probabilities: true });
  return { backend: segmenter.backend, width: result.width, height: result.height, probabilities: result.probabilities.length };
}

window.viteResult = main().catch((e) => ({ error: String(e?.message ?? e) }));
