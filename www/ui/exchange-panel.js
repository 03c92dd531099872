// The Fine-tune panel's Export and Import buttons: the user's pairs as a zip (exchange.js) and back.

import { $, announce, saveBlob, sentence } from './dom.js';
import { friendly } from './client.js';

// The zip code (exchange.js, zip.js) is fetched on the first export or import, not with the page.
const exchange = () => import('./exchange.js');

/**
 * @param {{ model: import('./model.js').Model, annotations: import('./annotations.js').Annotations, exportable: () => import('./annotations.js').Annotation[] }} parts
 */
export function setupExchange({ model, annotations, exportable }) {
  const pairsMessage = $('#pairs-message');
  const say = (text, error = false) => {
    pairsMessage.textContent = text;
    pairsMessage.className = `file-message${error ? ' error' : ''}`;
    pairsMessage.hidden = false;
    announce(text);
  };
  $('#export-pairs').addEventListener('click', async () => {
    const list = exportable();
    try {
      const zip = await (await exchange()).exportZip(list);
      saveBlob(zip, `tinyunet-pairs-${new Date().toISOString().slice(0, 10)}.zip`);
      say(
        `Exported ${list.length} pair${list.length === 1 ? '' : 's'} (images/ and masks/, as the command-line tool reads them).`,
      );
    } catch (e) {
      say(`The pairs could not be exported: ${sentence(e.message)}`, true);
    }
  });
  $('#import-pairs').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (file) await importFrom(file);
  });

  /** Brings back pairs from an exported zip (or any zip of images and masks) as the page's own. */
  async function importFrom(file) {
    const name = file.name || 'the zip';
    let found;
    try {
      found = await (await exchange()).importZip(file);
    } catch (e) {
      say(`${name}: ${sentence(e.message.replace(/^zip: /, ''))}`, true);
      return;
    }
    const problems = [...found.unpaired.map((n) => `${n}: no image or no mask`)];
    const arrived = [];
    const classes = model.state?.classes;
    let already = 0;
    for (const p of found.pairs) {
      // Masks of other labels would be read as something else (class 2 as background in a
      // one-class model): refused with the reason, never turned into empty masks.
      if (p.classes && classes && p.classes !== classes) {
        problems.push(`${p.name}: its mask has ${p.classes} classes, the weights in use ${classes}`);
        continue;
      }
      // The same zip twice must not make the same pair twice (it could be trained on and held back).
      if (await isHere(p)) {
        already++;
        continue;
      }
      try {
        const read = await model.inspect({ image: p.image, mask: p.mask, name: p.name, labels: true });
        arrived.push(
          annotations.add({
            name: p.name,
            image: p.image,
            width: read.width,
            height: read.height,
            classes: read.classes,
            mask: read.labels,
            corrected: p.corrected,
            inResults: p.inResults,
            inTraining: p.inTraining || !p.inResults,
          }),
        );
      } catch (err) {
        problems.push(friendly(err));
      }
    }
    annotations.dispatchEvent(new CustomEvent('restored', { detail: arrived.filter((a) => a.inResults) }));
    const got = `${name}: imported ${arrived.length} pair${arrived.length === 1 ? '' : 's'}${already ? ` (${already} already here)` : ''}`;
    say(
      problems.length
        ? `${got}; ${problems.length} not: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '…' : ''}`
        : `${got}.`,
      problems.length > 0,
    );
  }
  /** An annotation of the same name with the same image bytes already exists. */
  async function isHere(p) {
    const bytes = new Uint8Array(await p.image.arrayBuffer());
    for (const a of annotations.all.values()) {
      if (a.name !== p.name || a.image.size !== bytes.length) continue;
      const theirs = new Uint8Array(await a.image.arrayBuffer());
      if (theirs.every((v, i) => v === bytes[i])) return true;
    }
    return false;
  }

  return { importFrom };
}
