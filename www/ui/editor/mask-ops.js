// What the mask editor does to a mask, as pure functions over `Uint8Array` labels (one byte per
// pixel, row-major, at the image's own size), so that node can test them and a test can compute
// the mask a stroke must give without a browser.

/**
 * Sets to `label` every pixel whose centre lies within `radius` of the segment A→B (a point when
 * A = B): one piece of a brush stroke. Coordinates are in image pixels (pixel (x, y) covers
 * [x, x+1) × [y, y+1), so its centre is (x + 0.5, y + 0.5)).
 * @returns {Box | null}  the pixels it may have changed, or null when none lie in the image
 */
export function paintSegment(mask, width, height, ax, ay, bx, by, radius, label) {
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - radius - 0.5));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - radius - 0.5));
  const x1 = Math.min(width, Math.ceil(Math.max(ax, bx) + radius + 0.5));
  const y1 = Math.min(height, Math.ceil(Math.max(ay, by) + radius + 0.5));
  if (x0 >= x1 || y0 >= y1) return null;
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  for (let y = y0; y < y1; y++) {
    const py = y + 0.5;
    const row = y * width;
    for (let x = x0; x < x1; x++) {
      const px = x + 0.5;
      // Distance to the nearest point of the segment (its parameter clamped to [0, 1]).
      const t = length2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / length2)) : 0;
      const ex = px - (ax + t * dx);
      const ey = py - (ay + t * dy);
      if (ex * ex + ey * ey <= r2) mask[row + x] = label;
    }
  }
  return { x0, y0, x1, y1 };
}

/**
 * Fills the holes of the mask: background regions that do not reach the image's border (4-connected)
 * take the label of a pixel around them. A lesion with a hole in it is still one lesion.
 * @returns {{ filled: number, box: Box | null }}
 */
export function fillHoles(mask, width, height) {
  const n = width * height;
  // 1: background reached from the border.
  const outside = new Uint8Array(n);
  // Each pixel is pushed at most once: a typed stack of n (a 12-megapixel mask: 48 MB, not an
  // array of boxed numbers).
  const stack = new Int32Array(n);
  let top = 0;
  const seed = (i) => {
    if (mask[i] === 0 && !outside[i]) {
      outside[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (top > 0) {
    const i = stack[--top];
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i + width < n) seed(i + width);
  }
  let filled = 0;
  let box = null;
  // Each hole takes the label of the pixel before it in reading order (left, or above at the
  // start of a row), which is never background-outside: a hole is enclosed by labelled pixels.
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 0 || outside[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    const before = x > 0 ? mask[i - 1] : mask[i - width];
    mask[i] = before || 1;
    filled++;
    box = grow(box, x, y);
  }
  return { filled, box };
}

function grow(box, x, y) {
  if (!box) return { x0: x, y0: y, x1: x + 1, y1: y + 1 };
  box.x0 = Math.min(box.x0, x);
  box.y0 = Math.min(box.y0, y);
  box.x1 = Math.max(box.x1, x + 1);
  box.y1 = Math.max(box.y1, y + 1);
  return box;
}

/** The union of two boxes (either may be null). */
export function union(a, b) {
  if (!a) return b ? { ...b } : null;
  if (!b) return { ...a };
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

/** The pixels of `mask` inside `box`, copied. */
export function crop(mask, width, box) {
  const w = box.x1 - box.x0;
  const out = new Uint8Array(w * (box.y1 - box.y0));
  for (let y = box.y0; y < box.y1; y++)
    out.set(mask.subarray(y * width + box.x0, y * width + box.x1), (y - box.y0) * w);
  return out;
}

/** Writes `patch` (a `crop` of `box`) back into `mask`. */
export function paste(mask, width, box, patch) {
  const w = box.x1 - box.x0;
  for (let y = box.y0; y < box.y1; y++)
    mask.set(patch.subarray((y - box.y0) * w, (y - box.y0 + 1) * w), y * width + box.x0);
}

/**
 * Undo and redo for one mask: each edit is the box it touched with the pixels before and after.
 * Unbounded but for memory: past `limitBytes` the oldest edits are forgotten (a stroke costs a few
 * kB; a whole-image change of a 12-megapixel photo 24 MB, so the default keeps four of those and
 * thousands of strokes; several big photos open in one visit still fit in a laptop's memory).
 */
export class History {
  #done = [];
  #undone = [];
  #bytes = 0;

  constructor({ limitBytes = 96 * 2 ** 20 } = {}) {
    this.limitBytes = limitBytes;
  }

  /**
   * Records an edit of `box`: `before` is the whole mask as it was (a snapshot taken when the edit
   * began), `after` the mask now. An edit that changed nothing is not recorded.
   * @returns {boolean}  whether anything changed
   */
  record(box, before, after, width) {
    if (!box) return false;
    const old = crop(before, width, box);
    const now = crop(after, width, box);
    if (old.every((v, i) => v === now[i])) return false;
    this.#done.push({ box, old, now });
    this.#bytes += old.length * 2;
    for (const edit of this.#undone) this.#bytes -= edit.old.length * 2;
    this.#undone = [];
    while (this.#bytes > this.limitBytes && this.#done.length > 1) {
      const dropped = this.#done.shift();
      this.#bytes -= dropped.old.length * 2;
    }
    return true;
  }

  get canUndo() {
    return this.#done.length > 0;
  }

  get canRedo() {
    return this.#undone.length > 0;
  }

  /** Steps back one edit in `mask`; the box it changed, or null when there is none. */
  undo(mask, width) {
    const edit = this.#done.pop();
    if (!edit) return null;
    paste(mask, width, edit.box, edit.old);
    this.#undone.push(edit);
    return edit.box;
  }

  /** Re-applies the last undone edit; the box it changed, or null. */
  redo(mask, width) {
    const edit = this.#undone.pop();
    if (!edit) return null;
    paste(mask, width, edit.box, edit.now);
    this.#done.push(edit);
    return edit.box;
  }
}

/**
 * Dice of two label masks of the same size: foreground (any label) overlap for one class, the mean
 * over the foreground classes present in either for several. 1 when both are empty.
 */
export function dice(a, b, classes = 1) {
  if (a.length !== b.length) throw new Error(`dice: masks of ${a.length} and ${b.length} pixels`);
  const labels = classes > 1 ? classes : 2;
  const inter = new Float64Array(labels);
  const sumA = new Float64Array(labels);
  const sumB = new Float64Array(labels);
  for (let i = 0; i < a.length; i++) {
    const la = classes > 1 ? a[i] : a[i] ? 1 : 0;
    const lb = classes > 1 ? b[i] : b[i] ? 1 : 0;
    sumA[la]++;
    sumB[lb]++;
    if (la === lb) inter[la]++;
  }
  let total = 0;
  let counted = 0;
  for (let c = 1; c < labels; c++) {
    if (sumA[c] + sumB[c] === 0) continue;
    total += (2 * inter[c]) / (sumA[c] + sumB[c]);
    counted++;
  }
  return counted ? total / counted : 1;
}

/** How many pixels differ between two masks. */
export function changedPixels(a, b) {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** @typedef {{ x0: number, y0: number, x1: number, y1: number }} Box  pixels [x0, x1) × [y0, y1) */
