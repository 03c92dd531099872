// The Fine-tune panel's pairs made in the page (annotations.js): each corrected mask added to the
// fine-tuning set is a row that follows it (added, updated, removed as it changes); a pair from
// files opened in the editor becomes one of them. A mask of another class count than the
// weights in use is flagged, not trained on.

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
  const keyOf = (a) => `hand:${a.id}`;

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
          name: entry.name, image: entry.image, width: read.width, height: read.height, classes: read.classes,
          mask: read.labels, inTraining: true,
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
    const entry = table.get(key) ?? { key, annotation: a };
    const classes = model.state?.classes;
    const fits = !classes || a.classes === classes;
    Object.assign(entry, {
      name: a.name, image: a.image, width: a.width, height: a.height,
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

  return { removeEntry, editEntry };
}
