// Draws a mask as a coloured overlay on a canvas laid over the image. The canvas is at most
// MAX_SIDE pixels a side (a 6000 px photo's full-size overlay would cost ~100 MB for no visible
// gain); the downloadable mask keeps the image's own size.

const MAX_SIDE = 1024;

/** Overlay colours by class label when the model's card names none (a label past its classes). */
const FALLBACK = [null, [0, 229, 255], [255, 214, 0], [255, 64, 160], [120, 255, 80], [170, 120, 255], [255, 140, 0]];

/** The model's class colours by label (`[r, g, b]`; background unpainted), from its card. */
let palette = FALLBACK;
/** The model's class names by label, from its card (empty until it is known). */
let names = [];

/** `#rrggbb` → `[r, g, b]`; null for anything else. */
export function rgb(hex) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex ?? '');
  return m ? [1, 2, 3].map((i) => parseInt(m[i], 16)) : null;
}

/**
 * Paints every mask, here and in the editor, in the colours of the model's card: `classes` is
 * the card's list (background first, never painted). Returns true when the colours changed.
 */
export function setPalette(classes) {
  const next = [
    null,
    ...(classes ?? []).slice(1).map((c, i) => rgb(c.colour) ?? FALLBACK[1 + (i % (FALLBACK.length - 1))]),
  ];
  if (next.length < 2) return false;
  const same = next.length === palette.length && next.every((c, i) => String(c) === String(palette[i]));
  palette = next;
  names = (classes ?? []).map((c) => c.name);
  return !same;
}

/** The name of a class label on the model's card ("Class N" when the card names none). */
export function className(label) {
  return names[label] ?? `Class ${label}`;
}

/** The overlay colour `[r, g, b]` of a class label (1, 2, …). */
export function colour(label) {
  return palette[label] ?? FALLBACK[1 + ((label - 1) % (FALLBACK.length - 1))];
}

/** Doubtful pixels: magenta, which no skin or lesion tone and no class colour above is near. */
export const DOUBT = [236, 0, 140];

/**
 * A mask's overlay, ready to draw: the mask sampled at the canvas size and its edge are computed
 * once, and each look (style × doubt shown) once when first asked for, so switching looks with
 * many results on screen is one `putImageData` per canvas.
 */
export class Overlay {
  #images = new Map();

  /** @param {{ mask: Uint8Array, doubtful?: Uint8Array, width: number, height: number }} seg */
  constructor(seg) {
    const { mask, doubtful, width, height } = seg;
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    // Nearest-neighbour sample of the mask at the canvas size.
    const small = new Uint8Array(w * h);
    const unsure = doubtful ? new Uint8Array(w * h) : null;
    for (let y = 0; y < h; y++) {
      const sy = Math.min(height - 1, Math.floor((y + 0.5) / scale));
      for (let x = 0; x < w; x++) {
        const source = sy * width + Math.min(width - 1, Math.floor((x + 0.5) / scale));
        small[y * w + x] = mask[source];
        if (unsure) unsure[y * w + x] = doubtful[source];
      }
    }
    Object.assign(this, { w, h, small, unsure });
    this.edge = boundary(small, w, h, Math.max(1, Math.round(Math.max(w, h) / 180)));
  }

  /** The overlay's pixels for a look. */
  image(style, showDoubt) {
    const key = `${style}:${Boolean(showDoubt && this.unsure)}`;
    let image = this.#images.get(key);
    if (image) return image;
    const { w, h, small, edge } = this;
    const unsure = showDoubt ? this.unsure : null;
    image = new ImageData(w, h);
    const px = image.data;
    for (let i = 0; i < small.length; i++) {
      if (unsure?.[i]) {
        [px[i * 4], px[i * 4 + 1], px[i * 4 + 2], px[i * 4 + 3]] = [...DOUBT, 200];
        continue;
      }
      const label = small[i];
      if (!label) continue;
      const onEdge = edge[i] === 1;
      if (style === 'outline' && !onEdge) continue;
      const [r, g, b] = colour(label);
      px[i * 4] = r;
      px[i * 4 + 1] = g;
      px[i * 4 + 2] = b;
      // Filled: a lighter inside with a solid edge, so the border reads at any opacity.
      px[i * 4 + 3] = onEdge || style === 'outline' ? 255 : 150;
    }
    this.#images.set(key, image);
    return image;
  }

  /**
   * Draws a look on `canvas` (laid over the image).
   * @param {HTMLCanvasElement} canvas
   * @param {'filled' | 'outline'} style
   * @param {boolean} showDoubt  draw the doubtful pixels over the mask
   */
  draw(canvas, style, showDoubt = false) {
    const image = this.image(style, showDoubt);
    if (canvas.width !== this.w || canvas.height !== this.h) {
      canvas.width = this.w;
      canvas.height = this.h;
    }
    canvas.getContext('2d').putImageData(image, 0, 0);
    canvas.dataset.look = `${style}${showDoubt ? '+doubt' : ''}`;
  }
}

/** 1 for foreground pixels within `thickness` pixels of a different label, else 0. */
function boundary(labels, w, h, thickness) {
  let edge = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const v = labels[i];
      if (!v) continue;
      if (
        (x > 0 && labels[i - 1] !== v) ||
        (x < w - 1 && labels[i + 1] !== v) ||
        (y > 0 && labels[i - w] !== v) ||
        (y < h - 1 && labels[i + w] !== v)
      ) {
        edge[i] = 1;
      }
    }
  }
  // Grow the edge inwards (only over foreground) to the wanted thickness.
  for (let t = 1; t < thickness; t++) {
    const next = edge.slice();
    for (let i = 0; i < edge.length; i++) {
      if (edge[i] || !labels[i]) continue;
      const x = i % w;
      if (
        (x > 0 && edge[i - 1]) ||
        (x < w - 1 && edge[i + 1]) ||
        (i >= w && edge[i - w]) ||
        (i + w < edge.length && edge[i + w])
      ) {
        next[i] = 1;
      }
    }
    edge = next;
  }
  return edge;
}
