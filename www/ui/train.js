// The Fine-tune panel: collects image + mask pairs (files, and masks corrected in the page's
// editor: annotations), checks each file pair in the worker as it arrives (so a bad file is named
// next to itself, not at the end of a long run), trains with a live curve and ETA, can be
// cancelled, and reports Dice before and after on held-back pairs. Corrected pairs can be edited,
// exported as a zip and imported back.

import { $, el, announce, formatDuration, sentence } from './dom.js';
import { friendly, isAbort } from './client.js';
import { TrainingChart } from './chart.js';
import { MIN_RELIABLE_HELD_OUT, addToPairs, filesFromDrop, filesFromInput, heldOutKeys, isImageFile } from './pairs.js';
import { SAMPLES, fetchSample } from './samples.js';
import { enableDrop } from './segment.js';
import { setupExchange } from './exchange-panel.js';
import { linkHandPairs } from './hand-pairs.js';
import { offerBack } from './removed.js';
import { capitalised, swatch } from './classes.js';

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
  const resultLine = $('#train-result');
  const chart = new TrainingChart($('#train-chart'));
  const inputs = [$('#pair-input'), $('#folder-input'), $('#use-samples'), $('#clear-pairs'), $('#import-pairs')];
  let controller = null;
  let ignoredNote = '';

  async function addFiles(files) {
    const { changed, ignored } = addToPairs(table, files);
    ignoredNote = ignored.length ? `${ignored.length} file${ignored.length > 1 ? 's' : ''} ignored (not PNG or JPEG)` : '';
    for (const entry of changed) check(entry);
    render();
  }

  /** Asks the worker to decode both files and compare sizes. */
  async function check(entry) {
    if (!entry.image || !entry.mask) {
      entry.status = 'incomplete';
      entry.message = entry.image
        ? 'No mask yet: add NAME_mask.png or NAME_segmentation.png'
        : 'No image for this mask yet';
      return;
    }
    entry.status = 'checking';
    entry.message = 'Checking…';
    const token = (entry.token = {});
    try {
      const info = await model.inspect({ image: entry.image, mask: entry.mask, name: entry.name });
      if (entry.token !== token) return;
      Object.assign(entry, info, { status: 'ok', message: `${markedName(model)} ${(info.foreground * 100).toFixed(0)}% of the mask` });
    } catch (e) {
      if (entry.token !== token) return;
      entry.status = 'error';
      entry.message = sentence(friendly(e).replace(new RegExp(`^${escapeRegExp(entry.name)}( \\(mask\\))?:\\s*`), (m, isMask) => (isMask ? 'Mask: ' : '')));
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
    updateButtons();
    fitRows();
  }

  /** Ends the pairs' scroll box at a row's bottom (at most 18rem), never half-way through one. */
  function fitRows() {
    wrap.style.maxHeight = '';
    if (wrap.hidden) return;
    const limit = 18 * parseFloat(getComputedStyle(document.documentElement).fontSize);
    const top = wrap.getBoundingClientRect().top - wrap.scrollTop;
    const bottoms = [...body.rows].map((r) => r.getBoundingClientRect().bottom - top);
    if (!bottoms.length || bottoms.at(-1) <= limit) return;
    const fits = bottoms.filter((b) => b <= limit);
    wrap.style.maxHeight = `${Math.ceil(fits.at(-1) ?? limit) + 1}px`;
  }
  addEventListener('resize', fitRows);

  function row(entry, heldOut) {
    const remove = el('button', { type: 'button', class: 'button small subtle', 'aria-label': `Remove ${entry.name}` }, 'Remove');
    remove.addEventListener('click', () => offerBack(annotations, [removeEntry(entry)].filter(Boolean), 'inTraining'));
    remove.disabled = model.busy === 'training';
    const edit = entry.status === 'ok'
      ? el('button', { type: 'button', class: 'button small', 'aria-label': `Edit the mask of ${entry.name}` }, 'Edit')
      : null;
    edit?.addEventListener('click', () => editEntry(entry));
    if (edit) edit.disabled = model.busy === 'training';
    const tags = [
      heldOut ? el('span', { class: 'tag' }, 'held back') : null,
      entry.annotation?.corrected ? el('span', { class: 'tag hand' }, 'corrected by hand') : null,
    ];
    const files = entry.annotation ? 'mask made in this page' : [entry.imagePath, entry.maskPath].filter(Boolean).join(' + ');
    const statusClass = { ok: 'ok', error: 'error', incomplete: 'warn', checking: 'muted' }[entry.status] ?? 'muted';
    return el('tr', { dataset: { key: entry.key, status: entry.status, corrected: String(Boolean(entry.annotation?.corrected)) } },
      el('th', { scope: 'row' }, el('span', { class: 'pair-name' }, entry.name), ...tags,
        el('span', { class: 'pair-files' }, files)),
      el('td', {}, entry.width ? `${entry.width}×${entry.height}` : '—'),
      el('td', { class: `pair-status ${statusClass}` }, entry.message ?? ''),
      el('td', { class: 'pair-buttons' }, edit, remove));
  }

  const { removeEntry, editEntry } = linkHandPairs({ table, annotations, editor, model, render, body });

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

  // The last run's result speaks of the weights it left; once others are loaded (reset, upload)
  // it would mislead, so it gives way to a line that says so.
  let resultWeights = null; // the weights generation the result line describes
  model.addEventListener('weights', () => {
    if (resultWeights === null || model.busy === 'training' || resultLine.hidden) return;
    if (model.generation === resultWeights) return;
    queueMicrotask(() => {
      // A switch made from the result's own buttons updates resultWeights when it is done.
      if (switchingFromResult || model.generation === resultWeights) return;
      resultWeights = null;
      resultLine.hidden = true;
      $('#train-per-pair').hidden = true;
      $('#train-per-class').hidden = true;
      status.textContent = 'Other weights are in use since the last training run.';
    });
  });
  let switchingFromResult = false;

  $('#pair-input').addEventListener('change', (e) => {
    addFiles(filesFromInput(e.target));
    e.target.value = '';
  });
  $('#folder-input').addEventListener('change', (e) => {
    addFiles(filesFromInput(e.target));
    e.target.value = '';
  });
  enableDrop($('#train'), async (dataTransfer) => {
    if (model.busy === 'training') return;
    const files = await filesFromDrop(dataTransfer);
    // An exported zip dropped here is imported (told by its first bytes, whatever its name);
    // everything else is pairs of files.
    // The zip code loads only when something other than an image arrives (most drops are images);
    // if it cannot be fetched, such files go on as files and are refused by name there.
    const zips = [];
    const others = files.filter((f) => !isImageFile(f.path));
    const looksLikeZip = others.length ? await import('./zip.js').then((m) => m.looksLikeZip, () => () => false) : null;
    for (const f of others) {
      if (looksLikeZip(new Uint8Array(await f.file.slice(0, 4).arrayBuffer()))) zips.push(f);
    }
    for (const { file } of zips) await exchange.importFrom(file);
    if (zips.length < files.length) addFiles(files.filter((f) => !zips.includes(f)));
  }, { withPaths: true });
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
    const pair = async (e) => ({ name: e.name, image: e.image, mask: e.annotation ? await e.annotation.maskPng() : e.mask });
    let trainPairs = await Promise.all(ok.filter((e) => !held.has(e.key)).map(pair));
    const heldOut = await Promise.all(ok.filter((e) => held.has(e.key)).map(pair));
    if (trainPairs.length === 0) trainPairs = heldOut; // cannot happen with the 20% rule; be safe
    const scoredOn = `${heldOut.length} held-back pair${heldOut.length > 1 ? 's' : ''}`;

    controller = new AbortController();
    cancel.disabled = false;
    training.hidden = false;
    resultLine.hidden = true;
    $('#train-per-pair').hidden = true;
    $('#train-per-class').hidden = true;
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
      status.textContent =
        `Epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.stepsPerEpoch} · loss ${p.loss.toFixed(3)} · Dice ${p.dice.toFixed(3)}`;
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
      showResult(result, heldOut, (performance.now() - started) / 1000);
    } catch (e) {
      if (isAbort(e)) {
        status.textContent = 'Cancelled before training started; the weights are unchanged.';
      } else {
        status.textContent = '';
        resultLine.hidden = false;
        resultLine.className = 'train-result error';
        resultLine.setAttribute('role', 'alert');
        resultLine.textContent = `Training failed: ${sentence(friendly(e))}`;
        announce(resultLine.textContent);
      }
    } finally {
      controller = null;
      eta.textContent = '';
      updateButtons();
    }
  }

  /** Says how the run went, which weights are in use now, and offers the others. */
  function showResult(result, heldOut, seconds) {
    resultLine.className = 'train-result';
    resultLine.removeAttribute('role');
    if (result.stepsDone === 0) {
      status.textContent = 'Cancelled before the first step; the weights are unchanged.';
      resultLine.hidden = true;
      announce(status.textContent);
      return;
    }
    resultLine.hidden = false;
    const steps = `${result.stepsDone} of ${result.totalSteps} steps`;
    status.textContent = result.stop === 'diverged'
      ? `Stopped at step ${result.divergedAtStep}: the loss is no longer a number (try a lower learning rate).`
      : result.cancelled
        ? `Cancelled after ${steps} (${formatDuration(seconds)}).`
        : `Done: ${result.totalSteps} steps in ${formatDuration(seconds)}.`;
    const parts = [];
    const n = heldOut.length;
    const scoredOn = `${n} held-back pair${n > 1 ? 's' : ''}`;
    if (result.before && result.after) {
      const before = result.before.dice;
      const after = result.after.dice;
      const delta = after - before;
      parts.push(el('span', {}, `Dice on ${scoredOn}: `),
        el('strong', { class: 'dice-before' }, before.toFixed(3)), ' → ',
        el('strong', { class: 'dice-after' }, after.toFixed(3)),
        el('span', { class: delta > 0 ? 'delta up' : 'delta same' }, ` (${delta > 0 ? '+' : '±'}${Math.abs(delta).toFixed(3)}).`));
      if (result.kept === 'best') {
        parts.push(` Kept epoch ${result.chosenEpoch} of ${result.epochs.length}, the best on the held-back pairs.`);
      }
    }
    if (result.kept === 'previous') {
      const best = bestEpoch(result);
      parts.push(el('strong', { class: 'not-helped' }, ' This run did not improve on your previous weights, so they are kept'),
        best ? `: its best epoch scored ${best.heldOut.dice.toFixed(3)}.` : '.');
    } else if (result.kept === 'last') {
      parts.push('Nothing was held back to judge the run by (add a second pair): the last step\'s weights are in use.');
    }
    if (n > 0 && !result.reliable) {
      parts.push(el('span', { class: 'muted' }, ` With only ${scoredOn} this figure means little; from 10 pairs on, ${MIN_RELIABLE_HELD_OUT} are held back.`));
    }
    if (result.kept !== 'previous') {
      parts.push(result.persistError
        ? el('span', { class: 'error' }, ` The weights could not be saved in this browser (${result.persistError}); download them to keep them.`)
        : el('span', {}, ' The new weights are saved in this browser.'));
    }
    /** A button that switches weights and then says what is in use. */
    const offer = (id, label, action, done) => {
      const button = el('button', { type: 'button', class: 'button small', id }, label);
      button.addEventListener('click', async () => {
        for (const b of resultLine.querySelectorAll('button')) b.disabled = true;
        switchingFromResult = true;
        try {
          const problem = await action();
          resultWeights = model.generation;
          button.replaceWith(el('span', { class: 'ok' }, ` ${done}${problem ? ` (not saved in this browser: ${problem})` : ''}.`));
          for (const b of resultLine.querySelectorAll('button')) b.remove();
          announce(`${done}.`);
        } catch (e) {
          button.replaceWith(el('span', { class: 'error' }, ` ${sentence(friendly(e))}`));
        } finally {
          switchingFromResult = false;
        }
      });
      return button;
    };
    if (result.lastAvailable) {
      const label = result.kept === 'previous' ? 'Use the new weights anyway' : 'Use the last step\'s weights instead';
      parts.push(' ', offer('train-use-last', label, () => model.useLastTrained(), 'The last step\'s weights are in use'));
    }
    if (result.kept !== 'previous') {
      parts.push(' ', offer('train-use-previous', 'Keep my previous weights', () => model.usePrevious(), 'Your previous weights are back in use'));
    }
    resultLine.replaceChildren(...parts);
    resultWeights = model.generation;
    perPairTable(result, heldOut);
    perClassTable(result);
    announce(`${status.textContent} ${resultLine.textContent}`);
  }

  /** A multi-class model's held-back Dice before training and with the weights kept, per class. */
  function perClassTable(result) {
    const table = $('#train-per-class');
    const rows = result.classScores ?? [];
    table.hidden = rows.length === 0;
    if (table.hidden) return;
    const dice = (s) => (s ? s.dice.toFixed(3) : '—');
    table.tBodies[0].replaceChildren(...rows.map((c) => {
      const d = c.before && c.after ? c.after.dice - c.before.dice : null;
      return el('tr', { dataset: { class: c.name } },
        el('th', { scope: 'row' }, swatch(c.colour), capitalised(c.name)),
        el('td', { class: 'dice-before' }, dice(c.before)),
        el('td', { class: 'dice-after' }, dice(c.after)),
        d === null
          ? el('td', { class: 'delta same', title: 'in no held-back pair' }, '—')
          : el('td', { class: d > 0.0005 ? 'delta up' : d < -0.0005 ? 'delta down' : 'delta same' }, `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(3)}`));
    }));
  }

  /** Each held-back pair's Dice before training and with the weights kept. */
  function perPairTable(result, heldOut) {
    const table = $('#train-per-pair');
    const before = result.before?.perPair;
    const after = result.after?.perPair;
    table.hidden = !before || !after || result.kept === 'previous';
    if (table.hidden) return;
    const rows = heldOut.map((pair, i) => ({ name: pair.name, before: before[i].dice, after: after[i].dice }))
      .sort((a, b) => (a.after - a.before) - (b.after - b.before));
    table.tBodies[0].replaceChildren(...rows.map((r) => {
      const d = r.after - r.before;
      return el('tr', {},
        el('th', { scope: 'row' }, r.name),
        el('td', {}, r.before.toFixed(3)),
        el('td', {}, r.after.toFixed(3)),
        el('td', { class: d > 0.0005 ? 'delta up' : d < -0.0005 ? 'delta down' : 'delta same' }, `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(3)}`));
    }));
  }

  render();
}

/** What a pair's mask marks, as its check says: "Lesion" for one class, "Marked" for several. */
function markedName(model) {
  const classes = model.state?.model?.classes;
  return classes?.length === 2 ? capitalised(classes[1].name) : 'Marked';
}

/** The epoch with the best held-back Dice, if any was scored. */
function bestEpoch(result) {
  return result.epochs.filter((e) => e.heldOut).reduce((best, e) => (!best || e.heldOut.dice > best.heldOut.dice ? e : best), null);
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
