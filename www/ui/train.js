// The Fine-tune panel: collects image + mask pairs (files, and masks corrected in the page's
// editor: annotations), checks each file pair in the worker as it arrives (so a bad file is named
// next to itself, not at the end of a long run), trains with a live curve and ETA, can be
// cancelled, and reports Dice before and after on held-back pairs (train-result.js). Every usable
// pair is kept in this browser (hand-pairs.js); pairs can be edited, exported as a zip and
// imported back.

import { $, el, announce, formatDuration, sentence } from './dom.js';
import { friendly, isAbort } from './client.js';
import { TrainingChart } from './chart.js';
import { addToPairs, filesFromDrop, filesFromInput, heldOutKeys, isImageFile } from './pairs.js';
import { SAMPLES, fetchSample } from './samples.js';
import { enableDrop } from './segment.js';
import { setupExchange } from './exchange-panel.js';
import { linkHandPairs } from './hand-pairs.js';
import { offerBack } from './removed.js';
import { setupTrainResult } from './train-result.js';

/**
 * @param {import('./model.js').Model} model
 * @param {import('./annotations.js').Annotations} annotations
 * @param {import('./editor/editor.js').MaskEditor} editor
 */
export function setupTrainPanel(model, annotations, editor) {
  /** key → { key, name, image, mask, status, message, width, height, annotation? } */
  const table = new Map();
  const body = $('#pairs-body');
  const wrap = $('#pairs-wrap');
  const summary = $('#pairs-summary');
  const form = $('#train-form');
  const start = $('#train-start');
  const cancel = $('#train-cancel');
  const formError = $('#train-form-error');
  const training = $('#training');
  const progressBar = $('#train-progress');
  const eta = $('#train-eta');
  const status = $('#train-status');
  const chart = new TrainingChart($('#train-chart'));
  const shown = setupTrainResult(model, status);
  const inputs = [$('#pair-input'), $('#folder-input'), $('#use-samples'), $('#clear-pairs'), $('#import-pairs')];
  let controller = null;
  let ignoredNote = '';

  async function addFiles(files) {
    const { changed, ignored } = addToPairs(table, files);
    ignoredNote = ignored.length
      ? `${ignored.length} file${ignored.length > 1 ? 's' : ''} ignored (not PNG or JPEG)`
      : '';
    for (const entry of changed) check(entry);
    render();
  }

  /**
   * Asks the worker to decode both files and compare sizes; a good pair is then kept in this
   * browser (hand-pairs.js), where its row comes from from then on.
   */
  async function check(entry) {
    const kept = entry.annotation;
    // A mask corrected by hand is never replaced by a mask file (hand-pairs.js says so on the row).
    if (kept?.corrected && entry.mask && annotations.all.has(kept.id)) {
      keepCorrection(entry);
      return;
    }
    if (!entry.image || !(entry.mask || kept)) {
      entry.status = 'incomplete';
      entry.message = entry.image
        ? 'No mask yet: add NAME_mask.png or NAME_segmentation.png'
        : 'No image for this mask yet';
      return;
    }
    // Checking from here on (Train waits), and only the latest files' check counts.
    entry.status = 'checking';
    entry.message = 'Checking…';
    const token = (entry.token = {});
    render();
    try {
      // A kept pair given only one new file keeps its other side.
      const mask = entry.mask ?? (await kept.maskPng());
      if (entry.token !== token) return;
      const read = await model.inspect({ image: entry.image, mask, name: entry.name, labels: true });
      if (entry.token !== token) return;
      keepFilePair(entry, read);
    } catch (e) {
      if (entry.token !== token) return;
      entry.status = 'error';
      entry.message = sentence(
        friendly(e).replace(new RegExp(`^${escapeRegExp(entry.name)}( \\(mask\\))?:\\s*`), (m, isMask) =>
          isMask ? 'Mask: ' : '',
        ),
      );
      announce(`${entry.name}: ${entry.message}`);
    }
    render();
  }

  function usable() {
    return [...table.values()].filter((e) => e.status === 'ok');
  }

  function render() {
    const ok = usable();
    const held = heldOutKeys(ok.map((e) => e.key));
    const rows = [...table.values()].sort((a, b) => a.key.localeCompare(b.key));
    body.replaceChildren(...rows.map((entry) => row(entry, held.has(entry.key))));
    wrap.hidden = table.size === 0;
    $('#clear-pairs').hidden = table.size === 0;
    updateExport();
    const problems = rows.filter((e) => e.status === 'error' || e.status === 'incomplete').length;
    const hand = rows.filter((e) => e.annotation?.corrected).length;
    const parts = [`${ok.length} pair${ok.length === 1 ? '' : 's'} ready`];
    if (hand) parts.push(`${hand} corrected by hand`);
    if (held.size) parts.push(`${held.size} held back for Dice`);
    else if (ok.length === 1) parts.push('add a second pair to hold one back for a fair Dice');
    if (problems) parts.push(`${problems} need${problems === 1 ? 's' : ''} attention`);
    if (ignoredNote) parts.push(ignoredNote);
    summary.textContent = parts.join(' · ');
    showStorage();
    updateButtons();
    fitRows();
  }

  /** Says whether the pairs are kept in this browser (the annotations' storage, its quota rules). */
  function showStorage() {
    const line = $('#pairs-storage');
    const kept = [...table.values()].filter((e) => e.annotation).length;
    const loose = [...table.values()].filter(
      (e) => !e.annotation && (e.status === 'error' || e.status === 'incomplete'),
    ).length;
    line.hidden = table.size === 0;
    const { problem, saving } = annotations;
    line.classList.toggle('error', Boolean(problem) && kept > 0);
    line.textContent =
      problem && kept
        ? `Not kept in this browser: ${problem}. These pairs stay in this tab until it is closed; export them (Export pairs) to keep them.`
        : [
            kept
              ? saving
                ? 'Saving the pairs in this browser…'
                : 'Kept in this browser: these pairs come back when this page is opened again.'
              : '',
            loose
              ? `${loose === 1 ? 'A pair' : 'Pairs'} without a mask or with a problem ${loose === 1 ? 'is' : 'are'} not kept.`
              : '',
          ]
            .filter(Boolean)
            .join(' ');
  }
  annotations.addEventListener('storage', showStorage);

  /** Ends the pairs' scroll box at a row's bottom (at most its CSS max-height), never half-way through one. */
  function fitRows() {
    wrap.style.maxHeight = '';
    if (wrap.hidden) return;
    const limit = parseFloat(getComputedStyle(wrap).maxHeight);
    const top = wrap.getBoundingClientRect().top - wrap.scrollTop;
    const bottoms = [...body.rows].map((r) => r.getBoundingClientRect().bottom - top);
    if (!bottoms.length || bottoms.at(-1) <= limit) return;
    const fits = bottoms.filter((b) => b <= limit);
    wrap.style.maxHeight = `${Math.ceil(fits.at(-1) ?? limit) + 1}px`;
  }
  addEventListener('resize', fitRows);

  function row(entry, heldOut) {
    const remove = el(
      'button',
      { type: 'button', class: 'button small subtle', 'aria-label': `Remove ${entry.name}` },
      'Remove',
    );
    remove.addEventListener('click', () => offerBack(annotations, [removeEntry(entry)].filter(Boolean), 'inTraining'));
    remove.disabled = model.busy === 'training';
    const edit =
      entry.status === 'ok'
        ? el(
            'button',
            { type: 'button', class: 'button small', 'aria-label': `Edit the mask of ${entry.name}` },
            'Edit',
          )
        : null;
    edit?.addEventListener('click', () => editEntry(entry));
    if (edit) edit.disabled = model.busy === 'training';
    const tags = [
      heldOut ? el('span', { class: 'tag' }, 'held back') : null,
      entry.annotation?.corrected ? el('span', { class: 'tag hand' }, 'corrected by hand') : null,
    ];
    // Its size and files on one line under its name (no column of their own: the table must fit a phone).
    const files = [
      entry.width ? `${entry.width}×${entry.height}` : null,
      [entry.imagePath, entry.maskPath].filter(Boolean).join(' + ') || 'mask made in this page',
    ]
      .filter(Boolean)
      .join(' · ');
    const statusClass = { ok: 'ok', error: 'error', incomplete: 'warn', checking: 'muted' }[entry.status] ?? 'muted';
    return el(
      'tr',
      { dataset: { key: entry.key, status: entry.status, corrected: String(Boolean(entry.annotation?.corrected)) } },
      el(
        'th',
        { scope: 'row' },
        el('span', { class: 'pair-name' }, entry.name),
        ...tags,
        el('span', { class: 'pair-files', title: files }, files),
      ),
      el('td', { class: `pair-status ${statusClass}` }, entry.message ?? ''),
      el('td', { class: 'pair-buttons' }, el('div', {}, edit, remove)),
    );
  }

  const { removeEntry, editEntry, keepFilePair, keepCorrection } = linkHandPairs({
    table,
    annotations,
    editor,
    model,
    render,
    body,
  });

  function updateButtons() {
    const checking = [...table.values()].some((e) => e.status === 'checking');
    const trainingNow = model.busy === 'training';
    start.disabled = !model.ready || Boolean(model.busy) || checking || usable().length === 0;
    start.hidden = trainingNow;
    cancel.hidden = !trainingNow;
    const hint = $('#train-hint');
    hint.hidden = trainingNow || !start.disabled;
    hint.textContent = checking
      ? 'Checking the pairs…'
      : usable().length === 0
        ? 'Add at least one image with its mask to start.'
        : model.failed
          ? 'The model is not running.'
          : 'Waiting for the model…';
    for (const control of [...inputs, ...form.querySelectorAll('input')]) {
      control.disabled = trainingNow || model.failed;
      // File inputs are hidden inside their label, which is what looks like the button.
      control.closest('label.button')?.classList.toggle('disabled', control.disabled);
    }
    $('#train-drop').classList.toggle('disabled', trainingNow);
    // The pairs stay as they are while a run reads them.
    for (const b of [...body.querySelectorAll('button'), $('#clear-pairs')]) b.disabled = trainingNow;
  }
  model.addEventListener('change', updateButtons);

  // The form starts from the core's defaults (the package's and `tinyunet fine-tune`'s), so the
  // page never trains with settings of its own; a field the user changed stays as they set it.
  const edited = new Set();
  for (const id of ['epochs', 'lr', 'batch', 'augment']) {
    for (const type of ['input', 'change']) $(`#${id}`).addEventListener(type, () => edited.add(id));
  }
  let applied = null; // the defaults last written into the form
  model.addEventListener('change', () => {
    const d = model.state?.trainingDefaults;
    if (!d || JSON.stringify(d) === applied) return;
    applied = JSON.stringify(d);
    const values = { epochs: d.epochs, lr: d.learningRate, batch: d.batchSize };
    for (const [id, value] of Object.entries(values)) if (!edited.has(id)) $(`#${id}`).value = String(value);
    if (!edited.has('augment')) $('#augment').checked = d.augment;
  });

  $('#pair-input').addEventListener('change', (e) => {
    addFiles(filesFromInput(e.target));
    e.target.value = '';
  });
  $('#folder-input').addEventListener('change', (e) => {
    addFiles(filesFromInput(e.target));
    e.target.value = '';
  });
  enableDrop(
    $('#train'),
    async (dataTransfer) => {
      if (model.busy === 'training') return;
      const files = await filesFromDrop(dataTransfer);
      // An exported zip dropped here is imported (told by its first bytes, whatever its name);
      // everything else is pairs of files.
      // The zip code loads only when something other than an image arrives (most drops are images);
      // if it cannot be fetched, such files go on as files and are refused by name there.
      const zips = [];
      const others = files.filter((f) => !isImageFile(f.path));
      const looksLikeZip = others.length
        ? await import('./zip.js').then(
            (m) => m.looksLikeZip,
            () => () => false,
          )
        : null;
      for (const f of others) {
        if (looksLikeZip(new Uint8Array(await f.file.slice(0, 4).arrayBuffer()))) zips.push(f);
      }
      for (const { file } of zips) await exchange.importFrom(file);
      if (zips.length < files.length) addFiles(files.filter((f) => !zips.includes(f)));
    },
    { withPaths: true },
  );
  // The label counts what the button adds (the HTML says the same for the first paint).
  $('#use-samples').textContent = `Use the ${SAMPLES.length} samples`;
  $('#use-samples').addEventListener('click', async () => {
    try {
      const files = [];
      for (const sample of SAMPLES) {
        for (const which of ['image', 'mask']) {
          const file = await fetchSample(sample, which);
          files.push({ file, path: file.name });
        }
      }
      addFiles(files);
    } catch (e) {
      announce(`The samples could not be loaded: ${e.message}`);
    }
  });
  $('#clear-pairs').addEventListener('click', () => {
    offerBack(annotations, [...table.values()].map((entry) => removeEntry(entry)).filter(Boolean), 'inTraining');
    render();
  });

  /** The page's own pairs and corrected masks: what the user made here. */
  function exportable() {
    return [...annotations.all.values()].filter((a) => a.corrected || a.inTraining);
  }
  function updateExport() {
    $('#export-pairs').hidden = exportable().length === 0;
  }
  for (const type of ['change', 'remove', 'restored']) annotations.addEventListener(type, updateExport);

  const exchange = setupExchange({ model, annotations, exportable });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  cancel.addEventListener('click', () => {
    controller?.abort();
    cancel.disabled = true;
    status.textContent = 'Cancelling after the current step…';
  });

  /** Reads and checks the settings; shows what is wrong next to the form. */
  function settings() {
    const fields = [
      ['epochs', 'Epochs', (v) => Number.isInteger(v) && v >= 1 && v <= 500, 'a whole number from 1 to 500'],
      ['lr', 'Learning rate', (v) => v >= 1e-6 && v <= 0.1, 'a number from 0.000001 to 0.1'],
      ['batch', 'Batch size', (v) => Number.isInteger(v) && v >= 1 && v <= 32, 'a whole number from 1 to 32'],
    ];
    for (const [id, label, ok, expected] of fields) {
      const input = $(`#${id}`);
      input.removeAttribute('aria-invalid');
      if (!ok(Number(input.value)) || input.value.trim() === '') {
        input.setAttribute('aria-invalid', 'true');
        formError.textContent = `${label} must be ${expected}.`;
        formError.hidden = false;
        input.focus();
        return null;
      }
    }
    formError.hidden = true;
    return {
      epochs: Number($('#epochs').value),
      learningRate: Number($('#lr').value),
      batchSize: Number($('#batch').value),
      augment: $('#augment').checked,
    };
  }

  async function run() {
    const options = settings();
    if (!options) return;
    const ok = usable();
    const held = heldOutKeys(ok.map((e) => e.key));
    // A corrected mask goes as the PNG the page downloads: what is trained on is what was seen.
    const pair = async (e) => ({
      name: e.name,
      image: e.image,
      mask: e.annotation ? await e.annotation.maskPng() : e.mask,
    });
    let trainPairs = await Promise.all(ok.filter((e) => !held.has(e.key)).map(pair));
    const heldOut = await Promise.all(ok.filter((e) => held.has(e.key)).map(pair));
    if (trainPairs.length === 0) trainPairs = heldOut; // cannot happen with the 20% rule; be safe
    const scoredOn = `${heldOut.length} held-back pair${heldOut.length > 1 ? 's' : ''}`;

    controller = new AbortController();
    cancel.disabled = false;
    training.hidden = false;
    shown.clear();
    progressBar.removeAttribute('value'); // indeterminate until the first step
    eta.textContent = '';
    chart.reset(1);
    status.textContent = heldOut.length ? `Measuring Dice before training on ${scoredOn}…` : 'Starting…';
    announce('Training started.');
    const started = performance.now();
    let lastAnnounced = 0;

    const onProgress = (p) => {
      if (p.phase === 'start') return;
      if (p.phase === 'before' || p.phase === 'score') {
        const what = p.phase === 'before' ? 'before training' : `after epoch ${p.epoch}`;
        status.textContent = `Measuring Dice ${what} on ${scoredOn}… (${p.done}/${p.total})`;
        if (p.heldOut) chart.pushHeldOut(p.epoch, p.heldOut.dice);
        // The estimate from the last step still holds (it counts the scoring); none yet before.
        if (p.phase === 'before') eta.textContent = '';
        return;
      }
      if (p.phase === 'epoch') {
        chart.pushEpoch(p);
        return;
      }
      if (p.phase === 'classes') {
        status.textContent = `Scoring each class before and after on ${scoredOn}…`;
        eta.textContent = '';
        return;
      }
      progressBar.max = p.totalSteps;
      progressBar.value = p.stepsDone;
      chart.push(p);
      status.textContent = `Epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.stepsPerEpoch} · loss ${p.loss.toFixed(3)} · Dice ${p.dice.toFixed(3)}`;
      eta.textContent = p.stepsDone < p.totalSteps ? `about ${formatDuration(p.etaSeconds)} left` : '';
      // Screen readers get a summary now and then, not every step.
      if (performance.now() - lastAnnounced > 15_000) {
        lastAnnounced = performance.now();
        announce(`Training: epoch ${p.epoch} of ${p.epochs}, ${eta.textContent}`);
      }
    };

    try {
      const result = await model.train(
        { train: trainPairs, heldOut, ...options },
        { onProgress, signal: controller.signal },
      );
      progressBar.value = result.stepsDone;
      progressBar.max = Math.max(1, result.totalSteps);
      shown.show(result, heldOut, (performance.now() - started) / 1000);
    } catch (e) {
      if (isAbort(e)) {
        status.textContent = 'Cancelled before training started; the weights are unchanged.';
      } else {
        shown.fail(e);
      }
    } finally {
      controller = null;
      eta.textContent = '';
      updateButtons();
    }
  }

  render();
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
