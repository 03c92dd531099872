// The editor's picture of a mask: canvases at the image's own size, coloured by class, redrawn
// only where an edit touched them (a stroke on a 12-megapixel photo repaints a few kilobytes, not
// 48 MB), and drawn scaled onto the screen by the viewport.

import { colour, DOUBT } from '../overlay.js';

/** One label mask as an RGBA canvas (transparent background). */
export class MaskLayer {
  /** @param {number} width  @param {number} height */
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.canvas = new OffscreenCanvas(width, height);
    this.ctx = this.canvas.getContext('2d');
    this.pixels = new ImageData(width, height);
  }

  /** Repaints `box` (all of it when omitted) from `mask`. */
  update(mask, box = { x0: 0, y0: 0, x1: this.width, y1: this.height }) {
    const { width } = this;
    const px = this.pixels.data;
    for (let y = box.y0; y < box.y1; y++) {
      for (let x = box.x0; x < box.x1; x++) {
        const i = y * width + x;
        const label = mask[i];
        if (label) {
          const [r, g, b] = colour(label);
          px[i * 4] = r;
          px[i * 4 + 1] = g;
          px[i * 4 + 2] = b;
          px[i * 4 + 3] = 255;
        } else {
          px[i * 4 + 3] = 0;
        }
      }
    }
    this.ctx.putImageData(this.pixels, 0, 0, box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  }
}

/** The model's doubtful pixels (1) in the doubt colour: drawn once, it never changes. */
export function doubtLayer(doubtful, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const image = new ImageData(width, height);
  const px = image.data;
  for (let i = 0; i < doubtful.length; i++) {
    if (!doubtful[i]) continue;
    [px[i * 4], px[i * 4 + 1], px[i * 4 + 2], px[i * 4 + 3]] = [...DOUBT, 220];
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas;
}
