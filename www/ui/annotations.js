// The user's annotation work: images whose mask was corrected by hand (in the editor) or that were
// added to the fine-tuning set from the page, and the image + mask file pairs they added there.
// It is data, so it is kept in IndexedDB as it changes (each change is written as soon as the one
// before it is), survives reloads, crashes and failed runs, and stays in memory when storage
// refuses it (tried again later). The mask and the flags are one small record; the image and the
// model's masks, which change far less often, another.
//
// Events: 'change' (detail: the annotation; also for new ones), 'remove' (detail: the annotation),
// 'restored' (detail: annotations back from storage, an import or an undone removal),
// 'storage' (the saving state changed: `saving`, `problem`).

import * as store from './store.js';
import { encodeMaskPng } from './png.js';

/** Changes within this many milliseconds become one write (a stroke's end and its flags). */
const COALESCE_MS = 30;
/** After a refused write, the next try: doubling from this up to a minute. */
const RETRY_MS = 5000;
/**
 * One tab writes at a time (a Web Lock): a second tab's stale copies would otherwise overwrite
 * or delete the first one's work. The second keeps its edits in memory and writes them once the
 * first is closed.
 */
const LOCK = 'tinyunet-demo-annotations';
const OTHER_TAB = 'this page is open in another tab, which keeps them; close that tab to save the ones made here';

export class Annotation {
  /**
   * @param {object} r
   * @param {string} r.id
   * @param {string} r.name          shown, and the stem of exported files
   * @param {Blob} r.image           the image file as the user gave it (a DICOM slice: its windowed
   *   picture, which exports and training take)
   * @param {Blob} [r.source]        a DICOM slice's own file, to window it anew (stays in the browser)
   * @param {object} [r.dicom]       a DICOM slice's description (`Segmentation.dicom`: no patient data),
   *   its window the one the picture was made with
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
   * @param {string} [r.model]       the model (ui/models.js) it belongs to: skin-lesion when unsaid
   * @param {string} [r.pairKey]     a pair made from files: the key its files paired by (pairs.js),
   *   so that a file added later with the same name replaces its side of the pair
   * @param {{ image: string | null, mask: string | null }} [r.files]  that pair's file paths, as shown
   */
  constructor(r) {
    Object.assign(
      this,
      {
        modelMask: null,
        doubtful: null,
        corrected: false,
        inResults: false,
        inTraining: false,
        stats: null,
        created: Date.now(),
      },
      r,
    );
    this.version = 0;
    /** Counts changes of the image, model mask or doubtful pixels (written with their own record). */
    this.partsVersion = 1;
    this.savedPartsVersion = r.fromStorage ? 1 : 0;
    delete this.fromStorage;
    this.#png = null;
  }

  #png;

  /** The mask as the PNG file that is downloaded, exported and trained on (cached per version). */
  maskPng() {
    if (!this.#png || this.#png.version !== this.version) {
      this.#png = { version: this.version, blob: encodeMaskPng(this.mask, this.classes, this.width, this.height) };
    }
    return this.#png.blob;
  }

  /** Fraction of the mask's pixels that are foreground. */
  get foreground() {
    let n = 0;
    for (let i = 0; i < this.mask.length; i++) if (this.mask[i]) n++;
    return n / this.mask.length;
  }

  /** The small record: the user's mask and what the page knows of it (written on every change). */
  record() {
    const {
      id,
      name,
      width,
      height,
      classes,
      mask,
      corrected,
      inResults,
      inTraining,
      stats,
      created,
      model,
      pairKey,
      files,
      dicom,
    } = this;
    return {
      id,
      name,
      width,
      height,
      classes,
      mask,
      corrected,
      inResults,
      inTraining,
      stats,
      created,
      model,
      pairKey,
      files,
      dicom,
      saved: Date.now(),
    };
  }

  /** The large, seldom changing record: the image as given and the model's side of the mask. */
  parts() {
    return { image: this.image, source: this.source, modelMask: this.modelMask, doubtful: this.doubtful };
  }
}

export class Annotations extends EventTarget {
  /** @type {Map<string, Annotation>} */
  all = new Map();
  /** True while a change or a deletion waits to be written. */
  saving = false;
  /** Why the last write failed (null when everything is stored). */
  problem = null;
  #dirty = new Set();
  /** Deletions queued and not yet done: "saved" must wait for them too (a reload would bring back what they delete). */
  #deleting = 0;
  #timer = 0;
  #retryMs = RETRY_MS;
  #writing = null;
  /** Resolves once this tab holds the lock (every write waits for it). */
  #owned;

  /**
   * @param {string} [model]  the model (ui/models.js) whose annotations these are: only its own are
   *   restored, and new ones are stored as its
   */
  constructor(model = 'skin-lesion') {
    super();
    this.model = model;
    this.#owned = this.#claim();
    // A hidden tab may be closed or discarded without another event: write now.
    addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && this.flush());
    addEventListener('pagehide', () => this.flush());
  }

  /** Reads what earlier visits stored; the annotations it could read (none when storage fails). */
  async restore() {
    let records;
    try {
      records = await store.loadAnnotations(this.model);
    } catch (e) {
      this.#setProblem(`saved annotations could not be read (${e.message})`);
      return [];
    }
    const out = [];
    for (const r of records) {
      if (!(r?.mask instanceof Uint8Array) || !(r.image instanceof Blob) || r.mask.length !== r.width * r.height)
        continue;
      const a = new Annotation({ ...r, model: store.modelOf(r), fromStorage: true });
      this.all.set(a.id, a);
      out.push(a);
    }
    return out;
  }

  /** A new annotation (stored at once), announced with 'change'. */
  add(fields) {
    const a = new Annotation({ id: newId(), ...fields, model: this.model });
    this.all.set(a.id, a);
    this.changed(a);
    return a;
  }

  /**
   * Call after changing `a` (its mask or its flags; `parts` when its image, model mask or
   * doubtful pixels changed): writes it as soon as possible and tells the panels.
   */
  changed(a, { parts = false } = {}) {
    a.version++;
    if (parts) a.partsVersion++;
    this.#dirty.add(a.id);
    this.saving = true;
    this.#emit('storage');
    this.#schedule(COALESCE_MS);
    this.dispatchEvent(new CustomEvent('change', { detail: a }));
  }

  /**
   * Drops `a` from the results or the training pairs; once it is in neither it is deleted, and
   * returned (so that the caller can offer to bring it back with `bringBack`).
   * @param {'inResults' | 'inTraining'} where
   * @returns {Annotation | null}
   */
  release(a, where) {
    if (!this.all.has(a.id)) return null;
    a[where] = false;
    if (a.inResults || a.inTraining) {
      this.changed(a);
      return null;
    }
    this.all.delete(a.id);
    this.#dirty.delete(a.id);
    this.#deleting++;
    this.saving = true;
    this.#emit('storage');
    this.#queue(() =>
      store
        .deleteAnnotation(a.id)
        .catch(() => {})
        .finally(() => {
          this.#deleting--;
          this.#updateSaving();
        }),
    );
    this.dispatchEvent(new CustomEvent('remove', { detail: a }));
    return a;
  }

  /**
   * Undoes removals: the annotations come back where they were (`where` says which place);
   * 'restored' tells the panels unless `quiet` (the caller shows them itself).
   */
  bringBack(list, where, { quiet = false } = {}) {
    for (const a of list) {
      a[where] = true;
      a.savedPartsVersion = 0;
      this.all.set(a.id, a);
      this.changed(a);
    }
    if (!quiet) this.dispatchEvent(new CustomEvent('restored', { detail: list }));
  }

  /** Writes every pending change now; resolves when they are written (or have failed). */
  flush() {
    clearTimeout(this.#timer);
    this.#timer = 0;
    return this.#queue(() => this.#write());
  }

  #schedule(ms) {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = 0;
      this.flush();
    }, ms);
  }

  #claim() {
    if (!navigator.locks) return Promise.resolve();
    return new Promise((resolve) => {
      // Held until the tab goes away: the callback's promise never settles.
      const hold = () => {
        resolve();
        if (this.problem === OTHER_TAB) this.#setProblem(null);
        return new Promise(() => {});
      };
      navigator.locks
        .request(LOCK, { ifAvailable: true }, (lock) => {
          if (lock) return hold();
          this.#setProblem(OTHER_TAB);
          navigator.locks.request(LOCK, hold);
          return undefined;
        })
        .catch(() => resolve());
    });
  }

  /** Runs storage jobs one after another (once this tab may write), so a deletion never overtakes a write. */
  #queue(job) {
    const run = (this.#writing ?? this.#owned).then(job);
    this.#writing = run.finally(() => {
      if (this.#writing === tail) this.#writing = null;
    });
    const tail = this.#writing;
    return run;
  }

  async #write() {
    const ids = [...this.#dirty];
    this.#dirty.clear();
    let failed = null;
    for (const id of ids) {
      const a = this.all.get(id);
      if (!a) continue;
      const partsVersion = a.partsVersion;
      try {
        await store.saveAnnotation(a.record(), a.savedPartsVersion === partsVersion ? null : a.parts());
        a.savedPartsVersion = partsVersion;
      } catch (e) {
        // Kept in memory, and tried again with the next change or after a while.
        this.#dirty.add(id);
        failed = e.quota
          ? "this browser's storage for the page is full"
          : `this browser refused to store them (${e.message})`;
      }
    }
    if (failed) {
      this.#setProblem(failed);
      clearTimeout(this.#timer);
      this.#timer = 0;
      this.#schedule(this.#retryMs);
      this.#retryMs = Math.min(60_000, this.#retryMs * 2);
    } else if (this.#dirty.size === 0) {
      this.#retryMs = RETRY_MS;
      if (this.problem && this.problem !== OTHER_TAB) this.#setProblem(null);
    }
    this.#updateSaving();
  }

  /** `saving` from what is still pending, told to the page. */
  #updateSaving() {
    this.saving = (this.#dirty.size > 0 || this.#deleting > 0) && !this.problem;
    this.#emit('storage');
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
