// The Weights panel: what is in use, download, upload (ours or the PyTorch reference's) and
// reset to the demo weights.

import { $, el, announce, formatBytes, saveBlob, sentence } from './dom.js';
import { friendly } from './client.js';

/**
 * @param {import('./model.js').Model} model
 * @param {(name: string) => void} switchModel  starts the page again on another model
 */
export function setupWeightsPanel(model, switchModel) {
  const info = $('#weights-info');
  const download = $('#weights-download');
  const upload = $('#weights-input');
  const uploadLabel = $('#weights-upload-label');
  const reset = $('#weights-reset');
  const message = $('#weights-message');
  let confirming = null;

  function say(kind, text) {
    message.hidden = !text;
    message.className = `file-message ${kind}`;
    message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    message.textContent = text ?? '';
  }

  function render() {
    const s = model.state;
    const busy = Boolean(model.busy) || !model.ready;
    download.disabled = busy;
    upload.disabled = busy;
    uploadLabel.classList.toggle('disabled', busy);
    reset.disabled = busy || !model.meta;
    document.body.dataset.weights = s?.weightsKind ?? '';
    if (!s) {
      info.textContent = model.failed ? 'The model could not be started.' : 'Loading…';
      return;
    }
    const classes = `${s.parameters.toLocaleString('en')} parameters, ${s.classes} class${s.classes > 1 ? 'es' : ''}`;
    const m = model.meta;
    if (m?.source === 'trained') {
      const when = new Date(m.savedAt).toLocaleString();
      const dice =
        Number.isFinite(m.diceBefore) && Number.isFinite(m.diceAfter)
          ? ` Dice ${m.diceBefore.toFixed(3)} → ${m.diceAfter.toFixed(3)} on ${m.heldOut ? `${m.heldOut} held-back pair${m.heldOut > 1 ? 's' : ''}` : 'the training pair'}.`
          : '';
      const partial = m.cancelled ? ` (cancelled after ${m.stepsDone} of ${m.totalSteps} steps)` : '';
      const which = m.lastStep
        ? " The last step's weights, chosen by you."
        : m.chosenEpoch && m.epochs && m.heldOut
          ? ` Epoch ${m.chosenEpoch} kept, chosen on the held-back pairs.`
          : '';
      info.replaceChildren(
        el('strong', {}, 'Your fine-tuned weights'),
        ` — trained ${when} on ${m.pairs} pair${m.pairs > 1 ? 's' : ''}, ${m.epochs} epoch${m.epochs > 1 ? 's' : ''}${partial}.${which}${dice} ${classes}.`,
      );
    } else if (m?.source === 'uploaded') {
      info.replaceChildren(
        el('strong', {}, 'Uploaded weights'),
        ` — ${m.fileName}, added ${new Date(m.savedAt).toLocaleString()}. ${classes}.`,
      );
    } else if (s.weightsKind === 'demo' && s.model?.name !== 'skin-lesion') {
      info.replaceChildren(
        el('strong', {}, 'Demo weights'),
        ` — ${s.model?.title ?? 'the shipped model'}: trained on ${s.model?.trainedOn || 'data its card does not name'}. ${classes}. `,
        el('span', { class: 'terms' }, `${s.model?.terms || 'No terms given'}. Not a medical device.`),
      );
    } else if (s.weightsKind === 'demo') {
      info.replaceChildren(
        el('strong', {}, 'Demo weights'),
        ` — trained on 265 real dermoscopy photos (40 of them wide-field) and 200 generated images. On photos they never saw: Dice 0.92 (PH2), 0.90 (ISIC 2016), 0.83 (ISIC 2017, wide field). ${classes}. `,
        el(
          'span',
          { class: 'terms' },
          'For research use only (the terms of PH2: Mendonça et al., EMBC 2013; and of ISIC 2017: Codella et al., arXiv:1710.05006; ISIC 2016 is CC0: Gutman et al., arXiv:1605.01397). Not a medical device.',
        ),
      );
    } else {
      info.replaceChildren(
        el('strong', {}, 'Untrained network'),
        ` — the demo weights are missing, so masks are meaningless until you fine-tune or upload weights. ${classes}.`,
      );
    }
  }
  model.addEventListener('change', render);

  download.addEventListener('click', async () => {
    try {
      download.disabled = true;
      const bytes = await model.exportWeights();
      const kind =
        model.meta?.source === 'trained'
          ? 'finetuned'
          : model.meta
            ? 'uploaded'
            : model.state.weightsKind === 'demo'
              ? 'demo'
              : 'untrained';
      const date = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
      // Named after the model too, unless it is the first one (files keep the names they had).
      const which = model.modelName === 'skin-lesion' ? '' : `${model.modelName}-`;
      saveBlob(new Blob([bytes], { type: 'application/octet-stream' }), `tinyunet-${which}${kind}-${date}.safetensors`);
      say('ok', `Downloaded ${formatBytes(bytes.byteLength)} of weights (safetensors, PyTorch reference names).`);
    } catch (e) {
      say('error', `The weights could not be exported: ${friendly(e)}`);
    } finally {
      render();
    }
  });

  upload.addEventListener('change', async () => {
    const file = upload.files[0];
    upload.value = '';
    if (!file) return;
    say('muted', `Loading ${file.name}…`);
    try {
      const state = await model.useWeights(await file.arrayBuffer(), file.name);
      if (state.switchTo) {
        // Another shipped model's weights: kept as that model's, and the page switches to it.
        const text = `${file.name}: weights of the ${state.model.title} model, saved in this browser as that model's; switching to it…`;
        say('ok', text);
        announce(text);
        switchModel(state.switchTo);
        return;
      }
      say(
        'ok',
        `${file.name}: loaded (${state.model?.title ?? 'a model'}: ${state.parameters.toLocaleString('en')} parameters, ${state.classes} class${state.classes > 1 ? 'es' : ''}) and saved in this browser.`,
      );
      announce(`Weights ${file.name} loaded.`);
    } catch (e) {
      const text = `${file.name}: ${sentence(friendly(e))} The previous weights are still in use.`;
      say('error', text);
      announce(text);
    }
  });

  // Resetting throws the user's weights away, so it asks first (inline, keyboard-friendly).
  reset.addEventListener('click', () => {
    if (confirming) return;
    const yes = el(
      'button',
      { type: 'button', class: 'button danger small', id: 'weights-reset-confirm' },
      'Yes, reset',
    );
    const no = el('button', { type: 'button', class: 'button small' }, 'Keep them');
    confirming = el(
      'div',
      { class: 'confirm', role: 'group', 'aria-label': 'Confirm reset' },
      el(
        'p',
        {},
        'Remove your weights from this browser and use the demo weights again? Download them first if you want to keep them.',
      ),
      el('div', { class: 'button-row' }, yes, no),
    );
    reset.parentElement.after(confirming);
    yes.focus();
    const close = () => {
      confirming?.remove();
      confirming = null;
      reset.focus();
    };
    no.addEventListener('click', close);
    yes.addEventListener('click', async () => {
      close();
      try {
        await model.resetWeights();
        say('ok', 'Back to the demo weights; your weights were removed from this browser.');
        announce('Weights reset to the demo weights.');
      } catch (e) {
        say('error', `Reset failed: ${friendly(e)}`);
      }
    });
  });

  render();
}
