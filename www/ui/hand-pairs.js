// The Fine-tune panel's pairs kept in this browser (annotations.js): each corrected mask added to
// the fine-tuning set, and each image + mask file pair once checked, is a row that follows its
// annotation (added, updated, removed as it changes), so all of them come back after a reload and
// go by the same storage and quota rules. A mask of another class count than the weights in use
// is flagged, not trained on.

import { announce, sentence } from './dom.js';
import { friendly } from './client.js';

/**
 * @param {object} panel
 * @param {Map<string, object>} panel.table  the panel's pairs, by key
 * @param {import('./annotations.js').Annotations} panel.annotations
 * @param {import('./editor/editor.js').MaskEditor} panel.editor
 * @param {import('./model.js').Model} panel.model
 * @param {() => void} panel.render
 * @param {HTMLElement} panel.body  the table body (for focus after editing)
 */
export function linkHandPairs({ table, annotations, editor, model, render, body }) {
  // A file pair keeps the key its files paired by, so that a file of the same name added later
  // replaces its side of the pair, as before the pair was kept (a mask corrected by hand excepted:
  // see keepCorrection).
  const keyOf = (a) => a.pairKey ?? `hand:${a.id}`;

  /**
   * Keeps a checked file pair (`read`: its mask as labels, from the worker) as an annotation; a
   * pair already kept under the same key gets the new file(s) instead.
   */
  function keepFilePair(entry, read) {
    const files = { image: entry.imagePath ?? null, mask: entry.maskPath ?? null };
    const fields = {
      image: entry.image,
      width: read.width,
      height: read.height,
      classes: read.classes,
      mask: read.labels,
      files,
    };
    const a = entry.annotation;
    if (a && annotations.all.has(a.id)) {
      // A mask corrected by hand is the user's work: a new mask file never replaces it (checked
      // before the files are read, and again here in case it was corrected meanwhile).
      if (entry.mask && a.corrected) {
        keepCorrection(entry);
        return;
      }
      entry.mask = null;
      Object.assign(a, fields);
      editor.forget(a);
      annotations.changed(a, { parts: true });
      return;
    }
    table.delete(entry.key);
    annotations.add({ name: entry.name, ...fields, inTraining: true, pairKey: entry.key });
  }

  /**
   * A kept pair corrected by hand that was given a new mask file: the correction stays (with its
   * image), the new file(s) are let go, and the row says so.
   */
  function keepCorrection(entry) {
    const a = entry.annotation;
    entry.token = null; // a check under way for earlier files ends unheard
    entry.mask = null;
    sync(a);
    entry.message = 'Corrected by hand: kept. Remove the pair to use the new mask file';
    render();
    announce(`${a.name}: ${entry.message}.`);
  }

  /** Takes a pair out; the corrected annotation this deleted (to be offered back), if any. */
  function removeEntry(entry) {
    table.delete(entry.key);
    entry.token = null;
    const gone = entry.annotation ? annotations.release(entry.annotation, 'inTraining') : null;
    render();
    return gone?.corrected ? gone : null;
  }

  /** Opens the editor on a pair; a file pair becomes one of the page's own (kept in this browser). */
  async function editEntry(entry) {
    let a = entry.annotation;
    if (!a) {
      try {
        const read = await model.inspect({ image: entry.image, mask: entry.mask, name: entry.name, labels: true });
        a = annotations.add({
          name: entry.name,
          image: entry.image,
          width: read.width,
          height: read.height,
          classes: read.classes,
          mask: read.labels,
          inTraining: true,
        });
      } catch (e) {
        announce(`${entry.name}: ${sentence(friendly(e))}`);
        return;
      }
      table.delete(entry.key);
    }
    await editor.edit(a);
    render();
    body.querySelector(`tr[data-key="${CSS.escape(keyOf(a))}"] button`)?.focus();
  }

  function sync(a) {
    const key = keyOf(a);
    if (!a.inTraining || !annotations.all.has(a.id)) {
      if (table.delete(key)) render();
      return;
    }
    const entry = table.get(key) ?? { key };
    const classes = model.state?.classes;
    const fits = !classes || a.classes === classes;
    Object.assign(entry, {
      annotation: a,
      name: a.name,
      image: a.image,
      width: a.width,
      height: a.height,
      imagePath: a.files?.image ?? null,
      maskPath: a.files?.mask ?? null,
      status: fits ? 'ok' : 'error',
      message: fits
        ? `${model.state?.model?.classes?.length > 2 ? 'Marked' : 'Lesion'} ${(a.foreground * 100).toFixed(0)}% of the mask`
        : `Its mask has ${a.classes} class${a.classes === 1 ? '' : 'es'}, the weights in use ${classes}: not trained on (load weights with ${a.classes}, or remove it)`,
    });
    table.set(key, entry);
    render();
  }
  annotations.addEventListener('change', (e) => sync(e.detail));
  annotations.addEventListener('remove', (e) => sync(e.detail));
  annotations.addEventListener('restored', (e) => e.detail.forEach(sync));
  // Weights of another class count make some pairs unusable, or usable again.
  let classes = null;
  model.addEventListener('change', () => {
    if (!model.state || model.state.classes === classes) return;
    classes = model.state.classes;
    for (const a of annotations.all.values()) if (a.inTraining) sync(a);
  });

  return { removeEntry, editEntry, keepFilePair, keepCorrection };
}
