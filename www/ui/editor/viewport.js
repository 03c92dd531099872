// Zoom and pan for the editor: where the image sits on the stage (`scale` screen pixels per image
// pixel, the image's top-left at `tx`, `ty` in CSS pixels) and the drawing of the layers there.

const MIN_SCALE = 1 / 64;
const MAX_SCALE = 32;

/** Where the image is on the editor's stage, and drawing it there. */
export class Viewport {
  scale = 1;
  tx = 0;
  ty = 0;

  /**
   * @param {HTMLCanvasElement} canvas  fills the stage; sized to it in device pixels
   * @param {number} width   the image's size
   * @param {number} height
   */
  constructor(canvas, width, height) {
    this.canvas = canvas;
    this.width = width;
    this.height = height;
  }

  /** The stage's size in CSS pixels (the canvas is laid out to fill it). */
  get stage() {
    const r = this.canvas.getBoundingClientRect();
    return { w: Math.max(1, r.width), h: Math.max(1, r.height), left: r.left, top: r.top };
  }

  /** Whole image in view, centred. */
  fit() {
    const { w, h } = this.stage;
    this.#place(Math.min(w / this.width, h / this.height, MAX_SCALE));
  }

  /** One image pixel per CSS pixel, centred. */
  actualSize() {
    this.#place(1);
  }

  #place(scale) {
    const { w, h } = this.stage;
    this.scale = clampScale(scale);
    // Whole CSS pixels, so that at 1:1 each image pixel lands on one screen pixel.
    this.tx = Math.round((w - this.width * this.scale) / 2);
    this.ty = Math.round((h - this.height * this.scale) / 2);
  }

  /** Multiplies the scale by `factor`, keeping the image point under (sx, sy) (stage CSS px) still. */
  zoomAt(factor, sx, sy) {
    const scale = clampScale(this.scale * factor);
    const ix = (sx - this.tx) / this.scale;
    const iy = (sy - this.ty) / this.scale;
    this.scale = scale;
    this.tx = sx - ix * scale;
    this.ty = sy - iy * scale;
  }

  /** Zooms about the stage's centre. */
  zoom(factor) {
    const { w, h } = this.stage;
    this.zoomAt(factor, w / 2, h / 2);
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
  }

  /** The image point (in image pixels, fractional) under a pointer's client coordinates. */
  toImage(clientX, clientY) {
    const { left, top } = this.stage;
    return { x: (clientX - left - this.tx) / this.scale, y: (clientY - top - this.ty) / this.scale };
  }

  /**
   * Draws the photo and the layers over it.
   * @param {{ image: CanvasImageSource, layers: { source: CanvasImageSource, alpha: number }[], cursor?: { x: number, y: number, radius: number } | null }} scene
   */
  draw({ image, layers, cursor }) {
    const { canvas } = this;
    const { w, h } = this.stage;
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(w * dpr);
    const ch = Math.round(h * dpr);
    if (canvas.width !== cw || canvas.height !== ch) {
      canvas.width = cw;
      canvas.height = ch;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, cw, ch);
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
    // Zoomed in, the pixels themselves: a mask's edge is what the user is correcting.
    ctx.imageSmoothingEnabled = this.scale < 2;
    ctx.drawImage(image, 0, 0, this.width, this.height);
    for (const { source, alpha } of layers) {
      ctx.globalAlpha = alpha;
      ctx.drawImage(source, 0, 0, this.width, this.height);
    }
    ctx.globalAlpha = 1;
    if (cursor) {
      ctx.beginPath();
      ctx.arc(cursor.x, cursor.y, Math.max(cursor.radius, 0.5), 0, Math.PI * 2);
      ctx.lineWidth = 1.5 / this.scale;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      ctx.lineWidth = 0.75 / this.scale;
      ctx.strokeStyle = '#000000';
      ctx.stroke();
    }
    canvas.dataset.scale = String(this.scale);
    canvas.dataset.tx = String(this.tx);
    canvas.dataset.ty = String(this.ty);
  }
}

function clampScale(s) {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));
}
