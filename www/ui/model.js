// The page's view of the model in the worker: which backend and weights are in use, the user's
// settings, and the weights kept in IndexedDB. Panels listen for its events:
//   'change'   state, busy or settings changed (re-render)
//   'weights'  the weights changed (earlier masks are now out of date)
//   'trained'  a training run's weights are in use now (after 'weights'): at its end, or when the
//              user takes its last step's weights

import { ModelClient } from './client.js';
import * as store from './store.js';
import { DEFAULT_MODEL, isModelName } from './models.js';
import { setPalette } from './overlay.js';

const SETTINGS_KEY = 'tinyunet-demo:settings';
export const SIZES = [64, 128, 256, 384, 512];
const BACKENDS = ['auto', 'webgpu', 'cpu'];

export class Model extends EventTarget {
  /** Worker state (see worker.js `describe`), null until the first model exists. */
  state = null;
  /** Metadata of the user's stored weights, null when the demo weights are in use. */
  meta = null;
  /** What is running: null, 'starting', 'switching', 'training'. */
  busy = 'starting';
  /** True once the worker could not start at all. */
  failed = false;
  /**
   * The files the model being started downloads (the core's .wasm, the weights), summed:
   * `{ loaded, total, done }` in bytes (`total` null while a file's size is unknown); null before
   * the first byte. The page shows it in #model-progress until the model is ready.
   */
  loadProgress = null;
  /** Each file's latest download progress (the worker's 'download' phase), by file and build. */
  #downloads = new Map();
  settings;

  constructor(workerUrl) {
    super();
    this.workerUrl = workerUrl;
    this.settings = readSettings();
    this.client = this.#newClient();
    // The worker compiles the core while the page reads the stored weights (opening IndexedDB
    // takes a while on a first visit) and before it knows which weights it will load.
    this.client.notify('preload', { backend: this.settings.backend });
    // The chosen model's own weights: each model keeps its own (store.js).
    this.#stored = store.loadWeights(this.settings.model).then(
      (record) => ({ record }),
      (error) => ({ error }),
    );
  }

  /** The user's stored weights, read once at start-up: `{ record }` or `{ error }`. */
  #stored;
  /** What the last training run was, for its last step's weights if the user takes them. */
  #lastRun = null;
  /** The stored weights' metadata before the last run (null: the demo weights). */
  #beforeRun = null;
  /** Which weights are in use, counted up on every change; masks remember the one they used. */
  generation = 0;
  #generations = 0;
  /** The generation before the last run, for going back to it. */
  #beforeRunGeneration = 0;

  /** A worker whose state and crashes count only while it is the current one. */
  #newClient() {
    const client = new ModelClient(this.workerUrl, {
      onState: (state) => client === this.client && this.#setState(state),
      onCrash: (message) => {
        if (client !== this.client) return;
        this.failed = true;
        this.busy = null;
        this.dispatchEvent(new CustomEvent('crash', { detail: message }));
        this.#changed();
      },
    });
    return client;
  }

  /**
   * Builds the model in a fresh worker and switches to it once it works; on failure the current
   * one stays. The old worker finishes what it was asked to do, then stops.
   */
  async #fresh({ weights, kind, label, backend = this.settings.backend, inputSize = this.settings.inputSize }) {
    const client = this.#newClient();
    let state;
    this.#downloads.clear();
    try {
      await client.ready();
      state = await client.request(
        'create',
        { backend, inputSize, weights, kind, label, model: this.settings.model },
        { onProgress: (p) => this.#onDownload(p) },
      );
    } catch (e) {
      client.terminate();
      throw e;
    }
    const old = this.client;
    this.client = client;
    old.retire();
    this.#setState(state);
    return state;
  }

  /**
   * Loads the package and the weights: the user's from IndexedDB when there are any, else the
   * demo weights. Resolves to a list of notices `{ key, kind, text }` for the page to show.
   */
  start() {
    this.#started ??= this.#start().catch((e) => {
      this.failed = true;
      this.busy = null;
      this.#changed();
      throw e;
    });
    return this.#started;
  }

  #started = null;

  /** Resolves once the first model exists; requests wait for it (and fail if it never will). */
  async #whenStarted() {
    await this.start().catch(() => {});
    if (this.failed) throw new Error('the model could not be started (see the message at the top of the page)');
  }

  async #start() {
    const notices = [];
    // Requests sent before the worker has loaded wait in its queue: no need to wait for `ready`.
    const stored = await this.#stored;
    let record = stored.record ?? null;
    if (stored.error) {
      notices.push({
        key: 'storage',
        kind: 'warning',
        text: `Saved weights could not be read from this browser's storage (${stored.error.message}); trained weights will not be kept.`,
      });
    }
    const create = (weights, label) =>
      this.client.request(
        'create',
        {
          backend: this.settings.backend,
          inputSize: this.settings.inputSize,
          weights,
          label,
          model: this.settings.model,
        },
        { onProgress: (p) => this.#onDownload(p) },
      );
    if (record) {
      try {
        this.#setState(await create(record.bytes, labelOf(record.meta)));
        this.meta = record.meta;
      } catch (e) {
        notices.push({
          key: 'stored-weights',
          kind: 'error',
          text: `Your saved weights could not be loaded (${e.message}); the demo weights are used instead. Reset them under Weights to remove them.`,
        });
        record = null;
      }
    }
    // A failed create leaves the worker without a model, free to try the demo weights.
    if (!record) this.#setState(await create('demo'));
    this.busy = null;
    this.#changed();
    return notices;
  }

  get ready() {
    return Boolean(this.state) && !this.failed;
  }

  #setState(state) {
    const before = this.state;
    // Masks, here and in the editor, are painted in the colours of the model's card.
    if (state.model) setPalette(state.model.classes);
    // Only the worker that fetched the demo weights knows why they are missing; keep the reason.
    if (state.weightsKind === 'random' && !state.demoWeightsProblem)
      state.demoWeightsProblem = before?.demoWeightsProblem ?? null;
    this.state = state;
    this.#changed();
    if (before && (before.weightsKind !== state.weightsKind || before.weightsLabel !== state.weightsLabel)) {
      this.#weightsChanged();
    }
  }

  /**
   * The weights in use changed (to `generation` when going back to earlier ones): masks made with
   * another generation are out of date.
   */
  #weightsChanged(generation = ++this.#generations) {
    this.generation = generation;
    this.dispatchEvent(new Event('weights'));
  }

  #changed() {
    document.body.dataset.model = this.failed ? 'failed' : this.busy ? 'busy' : this.state ? 'ready' : 'loading';
    this.#showProgress();
    this.dispatchEvent(new Event('change'));
  }

  /** A file's download progress from the worker (`create`'s 'download' phase), summed over files. */
  #onDownload(p) {
    if (p.phase !== 'download') return;
    this.#downloads.set(`${p.file}:${p.build ?? ''}`, p);
    const files = [...this.#downloads.values()];
    const loaded = files.reduce((sum, f) => sum + f.loaded, 0);
    const total = files.every((f) => f.total !== null) ? files.reduce((sum, f) => sum + f.total, 0) : null;
    this.loadProgress = { loaded, total, done: files.every((f) => f.status === 'done') };
    this.#showProgress();
  }

  /**
   * "Downloading the model… 1.2 of 3.1 MB" while the files arrive (on a slow connection the
   * first visit's 4 MB take a while, and "starting…" alone looks stuck), then "Preparing the
   * model…" while it compiles; nothing once it is ready. Rewritten only when the text changes.
   */
  #showProgress() {
    const line = document.getElementById('model-progress');
    if (!line) return;
    const p = this.loadProgress;
    const loading = (this.busy === 'starting' || this.busy === 'switching') && !this.failed && p;
    const mb = (bytes) => (bytes / 1e6).toFixed(1);
    const text = !loading
      ? ''
      : p.done
        ? 'Preparing the model…'
        : p.total
          ? `Downloading the model… ${mb(p.loaded)} of ${mb(p.total)} MB`
          : `Downloading the model… ${mb(p.loaded)} MB`;
    if (line.textContent !== text) line.textContent = text;
    line.hidden = !text;
  }

  /** Runs `job` with `busy` set, so panels lock what must not change meanwhile. */
  async #while(what, job) {
    if (this.busy) throw new Error(`please wait: the model is ${this.busy}`);
    this.busy = what;
    this.#changed();
    try {
      return await job();
    } finally {
      this.busy = null;
      this.#changed();
    }
  }

  /** Switches backend or resolution, keeping the current weights. */
  changeSettings(patch) {
    return this.#while('switching', async () => {
      const next = { ...this.settings, ...patch };
      const weights = await this.client.request('export');
      await this.#fresh({ weights, kind: this.state.weightsKind, label: this.state.weightsLabel, ...next });
      this.settings = next;
      writeSettings(next);
    });
  }

  /**
   * Replaces the weights with uploaded ones and keeps them; on error the old ones stay. Weights
   * for the same network load in place; others (say, two classes) get a network of their own.
   * Weights whose card names another shipped model (a fine-tuned lung-CT file while the skin model
   * is chosen) are that model's: they are stored as its, and `switchTo` says which model to
   * switch to (the page then reloads on it); the current model's weights stay as they were.
   */
  useWeights(bytes, fileName) {
    return this.#while('switching', async () => {
      const meta = { source: 'uploaded', fileName, savedAt: new Date().toISOString() };
      let state;
      try {
        state = await this.client.request('load', { weights: bytes.slice(0), label: labelOf(meta) });
      } catch {
        state = null;
      }
      const owner = state?.model?.name;
      if (state && isModelName(owner) && owner !== this.settings.model) {
        // Not this model's: back to its own weights, and the file goes to the model it is for.
        const stored = await store.loadWeights(this.settings.model).catch(() => null);
        await this.#fresh(
          stored ? { weights: stored.bytes, kind: 'user', label: labelOf(stored.meta) } : { weights: 'demo' },
        );
        const problem = await this.#persist(bytes, meta, owner);
        if (problem) throw new Error(`these are ${owner} weights, but they could not be stored for it: ${problem}`);
        return { ...state, switchTo: owner };
      }
      if (state) this.#setState(state);
      else state = await this.#fresh({ weights: bytes.slice(0), kind: 'user', label: labelOf(meta) });
      const other = state.model?.name;
      if (isModelName(other) && other !== this.settings.model) {
        // A network of another shape that is another shipped model's: stored as that model's.
        const problem = await this.#persist(bytes, meta, other);
        if (problem) throw new Error(`these are ${other} weights, but they could not be stored for it: ${problem}`);
        return { ...state, switchTo: other };
      }
      this.meta = meta;
      this.#weightsChanged();
      await this.#persist(bytes, meta);
      return state;
    });
  }

  /** The shipped model in use (a name of ui/models.js). */
  get modelName() {
    return this.settings.model;
  }

  /**
   * Chooses another model for the next start of the page (the caller reloads it): remembered with
   * the other settings, and written into the address when the address names a model.
   */
  chooseModel(name) {
    if (!isModelName(name)) throw new Error(`there is no model named ${JSON.stringify(name)}`);
    this.settings = { ...this.settings, model: name };
    writeSettings(this.settings);
    const url = new URL(location.href);
    if (url.searchParams.has('model')) {
      url.searchParams.set('model', name);
      history.replaceState(null, '', url);
    }
  }

  /** Forgets the user's weights and goes back to the demo weights. */
  resetWeights() {
    return this.#while('switching', async () => {
      await store.clearWeights(this.settings.model).catch(() => {});
      await this.#fresh({ weights: 'demo' });
      this.meta = null;
      this.#weightsChanged();
    });
  }

  /**
   * Fine-tunes (see worker.js `train`); stores the weights the run kept when they changed (the
   * last epoch's unless others scored clearly better on the held-back pairs; the previous ones
   * stay when they did).
   */
  async train(options, { onProgress, signal }) {
    const result = await this.#while('training', async () => {
      const basedOnUser = this.state.weightsKind === 'user';
      this.#beforeRun = this.meta;
      this.#beforeRunGeneration = this.generation;
      const result = await this.client.request('train', options, { onProgress, signal });
      const meta = {
        source: 'trained',
        savedAt: new Date().toISOString(),
        pairs: options.train.length,
        heldOut: options.heldOut.length,
        epochs: options.epochs,
        chosenEpoch: result.chosenEpoch,
        stepsDone: result.stepsDone,
        totalSteps: result.totalSteps,
        cancelled: result.cancelled,
        diceBefore: result.before?.dice,
        diceAfter: result.after?.dice,
        resolution: this.state.inputSize,
        backend: this.state.backend,
        basedOnUser,
      };
      this.#lastRun = meta;
      if (result.weights) result.persistError = await this.#keep(result.weights, meta);
      return result;
    });
    // After the run, not during it: the results are made again with the new weights.
    if (result.weights) this.dispatchEvent(new Event('trained'));
    return result;
  }

  /** After a run that kept other weights, takes its last step's weights and stores them. */
  async useLastTrained() {
    const problem = await this.#while('switching', async () => {
      const { weights } = await this.client.request('useLastTrained');
      const meta = {
        ...this.#lastRun,
        savedAt: new Date().toISOString(),
        chosenEpoch: null,
        lastStep: true,
        diceAfter: undefined,
      };
      return this.#keep(weights, meta);
    });
    // The run's weights after all: the results show what they change, as after any run.
    this.dispatchEvent(new Event('trained'));
    return problem;
  }

  /** Goes back to the weights from before the last run (the demo weights, or the user's). */
  usePrevious() {
    return this.#while('switching', async () => {
      const { weights } = await this.client.request('usePrevious');
      if (this.#beforeRun) return this.#keep(weights, this.#beforeRun, this.#beforeRunGeneration);
      await store.clearWeights(this.settings.model).catch(() => {});
      this.meta = null;
      this.#weightsChanged(this.#beforeRunGeneration);
      this.#changed();
      return null;
    });
  }

  /** New weights in use: remember them, tell the panels, store them; the storage error or null. */
  async #keep(weights, meta, generation) {
    this.meta = meta;
    const problem = await this.#persist(weights, meta);
    this.#weightsChanged(generation);
    this.#changed();
    return problem;
  }

  async #persist(bytes, meta, model = this.settings.model) {
    try {
      await store.saveWeights(bytes, meta, model);
      return null;
    } catch (e) {
      return e.message;
    }
  }

  /**
   * `onStart` is called when the worker begins on it (it may wait behind a training run), and
   * `onPhase` with each later phase ('dicom' while a DICOM file is read, 'segment'); `window`
   * (`{ center, width }` in HU) maps a DICOM slice to grey, the model's own window when left out.
   */
  async segment(image, signal, onStart, { window, onPhase } = {}) {
    await this.#whenStarted();
    return this.client.request(
      'segment',
      { image, window },
      {
        signal,
        onProgress: (p) => (p.phase === 'start' ? onStart?.() : onPhase?.(p.phase)),
      },
    );
  }

  async inspect(pair) {
    await this.#whenStarted();
    return this.client.request('inspect', pair);
  }

  /** @returns {Promise<ArrayBuffer>} */
  async exportWeights() {
    await this.#whenStarted();
    return this.client.request('export');
  }
}

/** Short description of stored weights, for the worker's state. */
function labelOf(meta) {
  return meta?.source === 'uploaded' ? `uploaded (${meta.fileName})` : 'fine-tuned';
}

/**
 * Model, backend and resolution: `?model=`, `?backend=` and `?size=` in the URL win (handy for
 * links and for the tests' small, fast runs), then the choices saved from the last visit, then
 * the defaults.
 */
function readSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') ?? {};
  } catch {
    saved = {};
  }
  const params = new URLSearchParams(location.search);
  const backend = [params.get('backend'), saved.backend].find((b) => BACKENDS.includes(b)) ?? 'auto';
  const inputSize = [Number(params.get('size')), saved.inputSize].find((s) => SIZES.includes(s)) ?? 256;
  const model = [params.get('model'), saved.model].find(isModelName) ?? DEFAULT_MODEL;
  return { backend, inputSize, model };
}

function writeSettings(settings) {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Storage can be off (private mode); the choice then lasts for this visit only.
  }
}
