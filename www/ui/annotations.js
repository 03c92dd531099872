// The user's annotation work: images whose mask was corrected by hand (in the editor) or that were
// added to the fine-tuning set from the page. It is data, so it is kept in IndexedDB as it changes
// (a moment after each edit, and at once when the tab is hidden), survives reloads, crashes and
// failed runs, and stays in memory when storage refuses it.
//
// Events: 'change' (detail: the annotation; also for new ones), 'remove' (detail: the annotation),
// 'storage' (the saving state changed: `saving`, `problem`).

import * as store from './store.js';
import { encodeGreyPng, maskToGrey } from './png.js';

/** How long after an edit it is saved: strokes in quick succession become one write. */
const SAVE_AFTER_MS = 250;

export class Annotation {
  /**
   * @param {object} r
   * @param {string} r.id
   * @param {string} r.name          shown, and the stem of exported files
   * @param {Blob} r.image           the image file as the user gave it
   * @param {number} r.width
   * @param {number} r.height
   * @param {number} r.classes       of the model that made or will learn the mask
   * @param {Uint8Array} r.mask      the user's mask: labels, one byte per pixel, at the image's size
   * @param {Uint8Array | null} [r.modelMask]  the model's mask the editing started from
   * @param {Uint8Array | null} [r.doubtful]   the model's doubtful pixels
   * @param {boolean} [r.corrected]  changed by hand (or imported as such)
   * @param {boolean} [r.inResults]  shown in the results
   * @param {boolean} [r.inTraining] one of the fine-tuning pairs
   * @param {object} [r.stats]       the model's figures for its mask (foreground, doubt)
   */
  constructor(r) {
    Object.assign(this, {
      modelMask: null, doubtful: null, corrected: false, inResults: false, inTraining: false, stats: null,
      created: Date.now(),
    }, r);
    this.version = 0;
    this.#png = null;
  }

  #png;

  /** The mask as the PNG file that is downloaded, exported and trained on (cached per version). */
  maskPng() {
    if (!this.#png || this.#png.version !== this.version) {
      const grey = maskToGrey(this.mask, this.classes);
      this.#png = { version: this.version, blob: encodeGreyPng(grey, this.width, this.height) };
    }
    return this.#png.blob;
  }

  /** Fraction of the mask's pixels that are foreground. */
  get foreground() {
    let n = 0;
    for (let i = 0; i < this.mask.length; i++) if (this.mask[i]) n++;
    return n / this.mask.length;
  }

  record() {
    const { id, name, image, width, height, classes, mask, modelMask, doubtful, corrected, inResults, inTraining, stats, created } = this;
    return { id, name, image, width, height, classes, mask, modelMask, doubtful, corrected, inResults, inTraining, stats, created, saved: Date.now() };
  }
}

export class Annotations extends EventTarget {
  /** @type {Map<string, Annotation>} */
  all = new Map();
  /** True while an edit waits to be written. */
  saving = false;
  /** Why the last write failed (null when everything is stored). */
  problem = null;
  #dirty = new Set();
  #timer = 0;
  #writing = Promise.resolve();

  constructor() {
    super();
    // A hidden tab may be closed or discarded without another event: write now.
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && this.flush());
    addEventListener('pagehide', () => this.flush());
  }

  /** Reads what earlier visits stored; the annotations it could read (none when storage fails). */
  async restore() {
    let records;
    try {
      records = await store.loadAnnotations();
    } catch (e) {
      this.#setProblem(`saved annotations could not be read (${e.message})`);
      return [];
    }
    const out = [];
    for (const r of records) {
      if (!(r?.mask instanceof Uint8Array) || !(r.image instanceof Blob) || r.mask.length !== r.width * r.height) continue;
      const a = new Annotation(r);
      this.all.set(a.id, a);
      out.push(a);
    }
    return out;
  }

  /** A new annotation (stored at once), announced with 'change'. */
  add(fields) {
    const a = new Annotation({ id: newId(), ...fields });
    this.all.set(a.id, a);
    this.changed(a);
    return a;
  }

  /** Call after changing `a` (its mask or its flags): saves it soon and tells the panels. */
  changed(a) {
    a.version++;
    this.#dirty.add(a.id);
    this.saving = true;
    this.#emit('storage');
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.flush(), SAVE_AFTER_MS);
    this.dispatchEvent(new CustomEvent('change', { detail: a }));
  }

  /**
   * Drops `a` from the results or the training pairs; once it is in neither it is deleted.
   * @param {'inResults' | 'inTraining'} where
   */
  release(a, where) {
    if (!this.all.has(a.id)) return;
    a[where] = false;
    if (a.inResults || a.inTraining) {
      this.changed(a);
      return;
    }
    this.all.delete(a.id);
    this.#dirty.delete(a.id);
    this.#writing = this.#writing.then(() => store.deleteAnnotation(a.id)).catch(() => {});
    this.dispatchEvent(new CustomEvent('remove', { detail: a }));
  }

  /** Writes every pending change now; resolves when they are written (or have failed). */
  flush() {
    clearTimeout(this.#timer);
    const ids = [...this.#dirty];
    this.#dirty.clear();
    this.#writing = this.#writing.then(async () => {
      for (const id of ids) {
        const a = this.all.get(id);
        if (!a) continue;
        try {
          await store.saveAnnotation(a.record());
          if (this.problem) this.#setProblem(null);
        } catch (e) {
          // Kept in memory and tried again with the next change.
          this.#dirty.add(id);
          this.#setProblem(e.quota
            ? "this browser's storage for the page is full"
            : `this browser refused to store them (${e.message})`);
        }
      }
      this.saving = this.#dirty.size > 0 && !this.problem;
      this.#emit('storage');
    });
    return this.#writing;
  }

  #setProblem(problem) {
    this.problem = problem;
    this.#emit('storage');
  }

  #emit(type) {
    this.dispatchEvent(new Event(type));
  }
}

function newId() {
  return crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
