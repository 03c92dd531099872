// The package in a Web Worker: no DOM, OffscreenCanvas for decoding.
import { Segmenter } from '/pkg/tinyunet.js';

try {
  const seg = await Segmenter.create({
    backend: self.location.search.includes('webgpu') ? 'webgpu' : 'cpu',
    inputSize: 64,
  });
  const image = new ImageData(97, 61);
  image.data.fill(200);
  const canvas = new OffscreenCanvas(97, 61);
  canvas.getContext('2d').putImageData(image, 0, 0);
  const png = await canvas.convertToBlob({ type: 'image/png' });
  const fromBytes = await seg.segment(png);
  const fromImageData = await seg.segment(image, { probabilities: true });
  postMessage({
    backend: seg.backend,
    width: fromBytes.width,
    height: fromBytes.height,
    maskLength: fromBytes.mask.length,
    same: fromBytes.mask.every((v, i) => v === fromImageData.mask[i]),
    probabilities: fromImageData.probabilities.length,
  });
} catch (e) {
  postMessage({ error: String(e?.message ?? e) });
}
