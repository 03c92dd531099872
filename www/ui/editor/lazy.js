// The mask editor as the panels see it, its code (editor.js and its parts, ~8 KB gzip) fetched the
// first time a mask is opened instead of with the page: most visits never open it, and every byte
// before the first mask is start-up time.

import { $, notice } from '../dom.js';

/** What the panels call of the editor: `a`, `dialog`, `forget(a)`, `edit(a)` (see editor.js). */
export class LazyEditor {
  #editor = null;
  #loading = null;

  /**
   * @param {() => Promise<import('./editor.js').MaskEditor>} make  loads the module and builds it
   */
  constructor(make) {
    this.make = make;
    this.dialog = $('#editor');
  }

  /** The annotation open (or last opened) in the editor; null before it was ever opened. */
  get a() {
    return this.#editor?.a ?? null;
  }

  /** Drops `a`'s undo history; before the editor ever opened there is none. */
  forget(a) {
    this.#editor?.forget(a);
  }

  /**
   * Opens `a` for editing; resolves when the dialog closes. If the editor's code cannot be
   * fetched (offline, a server gone), says so and resolves: the mask is left as it was, and the
   * next attempt fetches again.
   * @param {import('../annotations.js').Annotation} a
   */
  async edit(a) {
    this.#loading ??= this.make();
    try {
      this.#editor = await this.#loading;
    } catch (e) {
      this.#loading = null;
      notice(
        'editor',
        'error',
        `The mask editor could not be loaded (${e.message ?? e}). Check the connection and try again.`,
      );
      return;
    }
    notice('editor', 'error', null);
    return this.#editor.edit(a);
  }
}
