// The demo page: wires the panels to the model, which lives in a Web Worker (worker.js).
// Plain ES modules, no build step, no third-party code; see index.html for the layout.

import { $, el, notice, announce } from './ui/dom.js';
import { friendly } from './ui/client.js';
import { Model } from './ui/model.js';
import { MODELS } from './ui/models.js';
import { legend } from './ui/classes.js';

// The worker starts loading the network now; the panels' code loads meanwhile (a first mask
// comes ~0.1 s sooner than when the worker waited for every module of the page).
const model = new Model(new URL('worker.js', import.meta.url));
const [{ setupSegmentPanel }, { setupTrainPanel }, { setupWeightsPanel }, { Annotations }, { LazyEditor }] =
  await Promise.all([
    import('./ui/segment.js'),
    import('./ui/train.js'),
    import('./ui/weights.js'),
    import('./ui/annotations.js'),
    import('./ui/editor/lazy.js'),
  ]);

// A file dropped outside a drop zone would make the browser open it and leave the page.
for (const type of ['dragover', 'drop']) {
  window.addEventListener(type, (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
}

// The user's corrected masks and pairs of the chosen model (each model keeps its own): one
// collection that both panels and the editor share.
document.body.dataset.modelName = model.modelName;
const annotations = new Annotations(model.modelName);
const look = { opacity: () => Number($('#opacity').value) / 100 };
const editor = new LazyEditor(() =>
  import('./ui/editor/editor.js').then(({ MaskEditor }) => new MaskEditor(annotations, look)),
);
setupSegmentPanel(model, annotations, editor);
setupTrainPanel(model, annotations, editor);
setupWeightsPanel(model, switchModel);
setupEngine(model);
setupModelPicker(model);

/**
 * Switches to another model: the page starts again on it (its own weights, corrected masks and
 * pairs; the other model's stay stored for when it is chosen again), once the masks are saved.
 */
async function switchModel(name) {
  model.chooseModel(name);
  document.body.dataset.model = 'switching';
  await Promise.race([annotations.flush(), new Promise((resolve) => setTimeout(resolve, 3000))]);
  location.reload();
}

/** The model picker and the model's card (title, classes, training data, terms, citations). */
function setupModelPicker(model) {
  const select = $('#model-select');
  const card = $('#model-card');
  select.replaceChildren(...MODELS.map((m) => el('option', { value: m.name }, m.label)));
  select.value = model.modelName;
  select.addEventListener('change', () => {
    if (model.busy || select.value === model.modelName) {
      select.value = model.modelName;
      return;
    }
    announce(`Switching to the ${select.selectedOptions[0].textContent} model…`);
    switchModel(select.value);
  });
  let shown = null;
  function render() {
    select.disabled = Boolean(model.busy) || !model.state;
    const m = model.state?.model;
    if (!m || m === shown) return;
    shown = m;
    const foreground = m.classes.slice(1);
    $('#model-card-summary').replaceChildren(
      el('strong', {}, m.title),
      ` — marks ${foreground.map((c) => c.name).join(', ')}`,
    );
    const fact = (label, ...value) => [el('dt', {}, label), el('dd', {}, ...value)];
    $('#model-card-facts').replaceChildren(
      ...fact('Classes', legend(m.classes)),
      ...fact(
        'Images',
        {
          dermoscopy: 'colour dermoscopy photographs of the skin',
          ctSlice: `axial chest CT slices, greyscale${m.window ? ` (lung window: centre ${m.window.center} HU, width ${m.window.width} HU)` : ''}`,
        }[m.imageKind] ?? 'any',
      ),
      ...(m.trainedOn ? fact('Trained on', m.trainedOn) : []),
      ...(m.terms ? fact('Terms', m.terms) : []),
      ...(m.citations?.length
        ? fact(
            'Cite',
            el(
              'ul',
              {},
              m.citations.map((c) => el('li', {}, c)),
            ),
          )
        : []),
    );
    card.hidden = false;
    card.dataset.name = m.name;
    // The page's heading says what it segments now (the skin model keeps the words it had).
    if (m.name !== 'skin-lesion')
      $('.subtitle').textContent = `${m.title.replace(/^./, (c) => c.toLowerCase())} segmentation`;
    document.body.dataset.imageKind = m.imageKind;
    const hint = $('#segment-hint');
    hint.textContent =
      m.imageKind === 'ctSlice'
        ? `Add CT slices: DICOM files (.dcm, or without an extension: drop them here), or PNG or JPEG greyscale in a lung window; any size, one or many. Each gets its ${foreground.map((c) => c.name).join(' and ')} drawn over it; a DICOM slice's window can be changed on its card.`
        : m.imageKind === 'dermoscopy'
          ? 'Add dermoscopy images (PNG, JPEG or WebP, any size, one or many). Each gets its lesion mask drawn over it.'
          : `Add images (PNG, JPEG or WebP, any size, one or many). Each gets its mask (${foreground.map((c) => c.name).join(', ')}) drawn over it.`;
  }
  model.addEventListener('change', render);
  render();
  // No model, no description: its "loading…" line goes (the notice says why).
  model.addEventListener('crash', () => {
    if (!shown) card.hidden = true;
  });
}

// A full or refused storage loses nothing (the work stays in this tab) but must be said.
annotations.addEventListener('storage', () => {
  document.body.dataset.annotationsSaved = annotations.problem ? 'failed' : annotations.saving ? 'saving' : 'saved';
});
annotations.addEventListener('storage', () =>
  notice(
    'annotations-storage',
    'error',
    annotations.problem
      ? `Your pairs and corrected masks could not be saved in this browser: ${annotations.problem}. They stay in this tab; export them (Fine-tune → Export pairs) to keep them.`
      : null,
  ),
);
annotations.restore().then((list) => {
  annotations.dispatchEvent(new CustomEvent('restored', { detail: list }));
  if (list.length) announce(`${list.length} of your masks (pairs and corrections) restored from this browser.`);
  document.body.dataset.annotations = 'restored';
});

// The worker died (failed to load, or crashed later): one notice, whichever way it is learnt.
model.addEventListener('crash', (e) => {
  const what = model.state ? 'The model stopped working' : 'The model could not be started';
  notice('start', 'error', `${what}: ${e.detail}. Reload the page to try again.`);
});

model.start().then(
  (notices) => {
    for (const n of notices) notice(n.key, n.kind, n.text);
    announce(`Model ready on ${model.state.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}.`);
  },
  (e) => notice('start', 'error', `The model could not be started: ${friendly(e)}. Reload the page to try again.`),
);

/** Backend and resolution selects, the backend badge and the note on where the model runs. */
function setupEngine(model) {
  const backend = $('#backend-select');
  const size = $('#size-select');
  const badge = $('#backend-badge');
  backend.value = model.settings.backend;
  size.value = String(model.settings.inputSize);

  function render() {
    const s = model.state;
    backend.disabled = size.disabled = !s || Boolean(model.busy);
    badge.textContent = s ? (s.backend === 'webgpu' ? 'WebGPU' : 'CPU') : model.failed ? 'not running' : 'starting…';
    badge.dataset.backend = s?.backend ?? '';
    badge.title = [s?.backendReason, s?.backend === 'cpu' ? s.threadsReason : null].filter(Boolean).join('\n');
    // How many threads the CPU build runs on (the threaded build on a cross-origin isolated page
    // with more than one core), and why, as the package reports it.
    const threads = $('#backend-threads');
    const many = s?.backend === 'cpu' && s.threads > 1;
    threads.hidden = !many;
    threads.textContent = many ? `${s.threads} threads` : '';
    threads.title = many ? s.threadsReason : '';
    badge.dataset.threads = s?.backend === 'cpu' ? String(s.threads ?? 1) : '';
    document.body.dataset.backend = s?.backend ?? '';
    if (!s) return;
    $('#engine-note').textContent = engineNote(s);
    // The technical reason (the package's words) stays one hover away, for whoever asks.
    $('#engine-note').title = [s.fallbackReason, s.backendReason].filter(Boolean).join('\n');
    notice(
      'demo-weights',
      'warning',
      s.weightsKind === 'random'
        ? `The demo weights could not be loaded (${s.demoWeightsProblem ?? 'missing'}). The network is untrained, so its masks mean nothing until you fine-tune it or upload weights.`
        : null,
    );
  }
  model.addEventListener('change', render);
  render();
  // A model that never starts: the note's "starting…" would be untrue (the notice says why).
  model.addEventListener('crash', () => {
    $('#engine-note').textContent = 'The model is not running.';
  });

  async function change(patch, select, previous) {
    try {
      await model.changeSettings(patch);
      notice('switch', 'info', null);
      announce(
        `Now running on ${model.state.backend === 'webgpu' ? 'WebGPU' : 'the CPU'} at ${model.state.inputSize} px.`,
      );
    } catch (e) {
      select.value = previous;
      notice('switch', 'error', `Could not switch: ${friendly(e)}. The previous setting is still in use.`);
    }
  }
  backend.addEventListener('change', () => change({ backend: backend.value }, backend, model.settings.backend));
  size.addEventListener('change', () =>
    change({ inputSize: Number(size.value) }, size, String(model.settings.inputSize)),
  );
}

/**
 * Where the model runs, said for a clinician: no GPU jargon (the reasons stay in the note's
 * title). Short enough for the two lines (three on a phone) the page keeps for it.
 */
function engineNote(s) {
  if (s.backend === 'webgpu') return "The model runs on this device's graphics processor.";
  // `auto` timed both on a real GPU and the CPU build won: a choice, not a failure.
  const t = s.backendTimings;
  if (t && t.cpu < t.webgpu) {
    return `The model runs on the processor: faster here than the graphics processor (a mask in ${Math.round(t.cpu)} ms against ${Math.round(t.webgpu)} ms).`;
  }
  // No GPU for web pages, or only an emulated one (SwiftShader, llvmpipe: slower than the CPU build).
  if (s.fallbackReason)
    return 'This browser has no graphics acceleration available; the model runs on the processor, which is fast for this model.';
  return 'The model runs on the processor, as chosen under Backend.';
}
