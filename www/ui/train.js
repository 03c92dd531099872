// The Fine-tune panel: collects image + mask pairs, checks each one in the worker as it arrives
// (so a bad file is named next to itself, not at the end of a long run), trains with a live
// curve and ETA, can be cancelled, and reports Dice before and after on held-back pairs.

import { $, el, announce, formatDuration, sentence } from './dom.js';
import { friendly, isAbort } from './client.js';
import { TrainingChart } from './chart.js';
import { addToPairs, filesFromDrop, filesFromInput, heldOutKeys } from './pairs.js';
import { SAMPLES, fetchSample } from './samples.js';
import { enableDrop } from './segment.js';

export function setupTrainPanel(model) {
  /** key → { key, name, image, mask, status, message, width, height, row } */
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
  const inputs = [$('#pair-input'), $('#folder-input'), $('#use-samples'), $('#clear-pairs')];
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
      Object.assign(entry, info, { status: 'ok', message: `Lesion ${(info.foreground * 100).toFixed(0)}% of the mask` });
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
    const problems = rows.filter((e) => e.status === 'error' || e.status === 'incomplete').length;
    const parts = [`${ok.length} pair${ok.length === 1 ? '' : 's'} ready`];
    if (held.size) parts.push(`${held.size} held back for Dice`);
    else if (ok.length === 1) parts.push('add a second pair to hold one back for a fair Dice');
    if (problems) parts.push(`${problems} need${problems === 1 ? 's' : ''} attention`);
    if (ignoredNote) parts.push(ignoredNote);
    summary.textContent = parts.join(' · ');
    updateButtons();
  }

  function row(entry, heldOut) {
    const remove = el('button', { type: 'button', class: 'button small subtle', 'aria-label': `Remove ${entry.name}` }, 'Remove');
    remove.addEventListener('click', () => {
      table.delete(entry.key);
      entry.token = null;
      render();
    });
    remove.disabled = model.busy === 'training';
    const tag = heldOut ? el('span', { class: 'tag' }, 'held back') : null;
    const statusClass = { ok: 'ok', error: 'error', incomplete: 'warn', checking: 'muted' }[entry.status] ?? 'muted';
    return el('tr', { dataset: { key: entry.key, status: entry.status } },
      el('th', { scope: 'row' }, el('span', { class: 'pair-name' }, entry.name), tag,
        el('span', { class: 'pair-files' }, [entry.imagePath, entry.maskPath].filter(Boolean).join(' + '))),
      el('td', {}, entry.width ? `${entry.width}×${entry.height}` : '—'),
      el('td', { class: `pair-status ${statusClass}` }, entry.message ?? ''),
      el('td', {}, remove));
  }

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
  }
  model.addEventListener('change', updateButtons);

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
    addFiles(await filesFromDrop(dataTransfer));
  }, { withPaths: true });
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
    table.clear();
    render();
  });

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
    const pair = (e) => ({ name: e.name, image: e.image, mask: e.mask });
    let trainPairs = ok.filter((e) => !held.has(e.key)).map(pair);
    const heldOut = ok.filter((e) => held.has(e.key)).map(pair);
    if (trainPairs.length === 0) trainPairs = heldOut; // cannot happen with the 20% rule; be safe
    const scoredOn = heldOut.length ? `${heldOut.length} held-back pair${heldOut.length > 1 ? 's' : ''}` : 'the training pair (nothing held back)';

    controller = new AbortController();
    cancel.disabled = false;
    training.hidden = false;
    resultLine.hidden = true;
    progressBar.removeAttribute('value'); // indeterminate until the first step
    eta.textContent = '';
    chart.reset(1);
    status.textContent = `Measuring Dice before training on ${scoredOn}…`;
    announce('Training started.');
    const started = performance.now();
    let lastAnnounced = 0;

    const onProgress = (p) => {
      if (p.phase === 'start') return;
      if (p.phase !== 'train') {
        const when = p.phase === 'before' ? 'before' : 'after';
        status.textContent = `Measuring Dice ${when} training on ${scoredOn}… (${p.done}/${p.total})`;
        if (p.phase === 'after') progressBar.value = progressBar.max;
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
      showResult(result, scoredOn, (performance.now() - started) / 1000);
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

  function showResult(result, scoredOn, seconds) {
    resultLine.className = 'train-result';
    resultLine.removeAttribute('role');
    if (!result.weights) {
      status.textContent = 'Cancelled before the first step; the weights are unchanged.';
      resultLine.hidden = true;
      announce(status.textContent);
      return;
    }
    resultLine.hidden = false;
    const saved = result.persistError
      ? el('span', { class: 'error' }, ` The weights could not be saved in this browser (${result.persistError}); download them to keep them.`)
      : el('span', {}, ' The new weights are saved in this browser.');
    if (result.cancelled) {
      status.textContent = `Cancelled after ${result.stepsDone} of ${result.totalSteps} steps (${formatDuration(seconds)}).`;
      resultLine.replaceChildren(`The weights of the last finished step are in use (not scored, since the run was cut short; Dice before was ${result.before.dice.toFixed(3)}).`, saved);
      announce(`${status.textContent} ${resultLine.textContent}`);
      return;
    }
    const before = result.before.dice;
    const after = result.after.dice;
    const delta = after - before;
    status.textContent = `Done: ${result.totalSteps} steps in ${formatDuration(seconds)}.`;
    resultLine.replaceChildren(
      el('span', {}, `Dice on ${scoredOn}: `),
      el('strong', { class: 'dice-before' }, before.toFixed(3)),
      ' → ',
      el('strong', { class: 'dice-after' }, after.toFixed(3)),
      el('span', { class: delta >= 0 ? 'delta up' : 'delta down' }, ` (${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(3)}).`),
      saved,
    );
    announce(`${status.textContent} Dice ${before.toFixed(2)} before, ${after.toFixed(2)} after.`);
  }

  render();
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
