import { Segmenter } from 'tinyunet/cpu';

async function main() {
  const segmenter = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
  const image = new ImageData(64, 48);
  image.data.fill(120);
  const result = await segmenter.segment(image);
  return {
    build: segmenter.build,
    threads: segmenter.threads,
    reason: segmenter.threadsReason,
    width: result.width,
    height: result.height,
  };
}

main().then(postMessage, (e) => postMessage({ error: String(e?.message ?? e) }));
