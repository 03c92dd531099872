// The model's home: a dedicated module worker, so the page stays responsive while the network
// segments or trains. The page talks to it through ui/client.js; see PROTOCOL below.
//
// The package is imported exactly as a user would import it. `../pkg/` resolves to `/pkg/` both
// when www/ is served at `/` (www/serve.mjs mounts pkg/ at /pkg/) and when the repository root is
// served as is (`/www/worker.js` → `/pkg/tinyunet.js`).

import { Segmenter, decodeImage, preload } from '../pkg/tinyunet.js';
import { Download, declaredSize, readCounted } from '../pkg/download.js';
import { gunzipIfNeeded, unpackWeights } from './ui/packed-weights.js';
import { DEFAULT_MODEL, MODELS } from './ui/models.js';

const MODEL_NAMES = MODELS.map((m) => m.name);
/** Classes of each shipped model's network, for an untrained one when its weights are missing. */
const FRESH_CLASSES = Object.fromEntries(MODELS.map((m) => [m.name, m.classes]));

/*
 * PROTOCOL
 *
 * page → worker   { id, type, ...args }          a request; `id` is unique per page
 *                 { type: 'cancel', id }          abort request `id` (queued or running)
 * worker → page   { type: 'ready' }               sent once, when this module has loaded
 *                 { id, type: 'progress', phase, ... }   progress of request `id`: every request
 *                                                 gets phase 'start' when it leaves the queue
 *                 { id, type: 'result', value }   request `id` succeeded
 *                 { id, type: 'error', error: { name, message } }   it failed (AbortError when cancelled)
 *                 { type: 'state', state }        the model changed (backend, weights, fallback)
 *
 * page → worker   { type: 'preload', backend }   no reply: start compiling the core `backend`
 *                                                 needs, before `create` (which reports any failure)
 *
 * Requests (all run one at a time, in order of arrival):
 *   create   { backend, inputSize, weights: ArrayBuffer | 'demo', model, kind?, label? } → state
 *            'demo': the shipped weights of `model` (a name of ui/models.js: skin-lesion, lung-ct),
 *            fetched packed from models/NAME.packed.gz; the state's `model` is the weights' card.
 *            Builds the model, once per worker. Progress phase 'download' for each file it
 *            downloads (the core's .wasm, told by the package's onProgress, and the shipped weights):
 *            { file: 'wasm' | 'weights', status: 'start' | 'progress' | 'done', loaded, total|null }.
 *            The page starts a fresh worker to change backend
 *            or resolution: a clean slate, and a second WebGPU device in one wasm instance fails
 *            (burn's runtime registers the device once).
 *   load     { weights: ArrayBuffer, label? } → state. New weights for the same network; on error
 *            the current ones stay.
 *   segment  { image: Blob, name, window? } → { width, height, classes, mask: Uint8Array, doubtful: Uint8Array,
 *                                       foreground, doubt, classAreas, classDoubt: number[],
 *                                       outOfDomain: null | { reason, message },
 *                                       dicom: null | DicomInfo, picture: null | Blob }
 *            A DICOM file is read here (the package's decodeImage, in the core) through `window`
 *            ({ center, width } in HU; default: the model card's window): `dicom` describes the
 *            slice (no patient data) with the window applied, and `picture` is the windowed
 *            slice as a PNG for the page to show (a browser cannot show DICOM). Progress phase
 *            'dicom' while the file is read, 'segment' once the network runs.
 *   inspect  { image: Blob, mask: Blob, name, labels? } → { width, height, foreground }   (checks a training
 *            pair; with `labels`, also the mask as the model's labels and its `classes`, for the editor)
 *   train    { train: Pair[], heldOut: Pair[], epochs, learningRate, batchSize, augment }
 *            progress: the package's TrainProgress ({ phase: 'before' | 'score', epoch, done,
 *                      total } while held-back pairs are scored, 'train' after every step,
 *                      'epoch' with each epoch's means)
 *            progress 'classes' at the end for a multi-class model (each class scored before/after)
 *            → the package's TrainResult + { weights: ArrayBuffer | null, runPerPair }   (null: the
 *              previous weights stay, because they beat the run's epochs or no step finished; then
 *              `runPerPair` is each held-back pair's scores with the run's last weights, or null)
 *   useLastTrained {} → { weights: ArrayBuffer }   the last run's final weights instead of those
 *            it kept
 *   usePrevious {} → { weights: ArrayBuffer }   back to the weights from before the last run
 *   export   {} → ArrayBuffer (safetensors)
 */

/** Where a shipped model's weights are (same origin, under models/): packed by build.sh from
 * models/NAME.safetensors, 6 % smaller (ui/packed-weights.js). Fetched only for the model asked for. */
const shippedFile = (name) => `models/${name}.packed.gz`;

let segmenter = null;
/** The weights (and what they were) before the latest training run: `{ weights, kind, label }`. */
let previous = null;
/** The last run's final weights when it kept others and the page scored them (see scoreLastRun). */
let lastRun = null;
/** What the page shows about the model; sent with every change. */
let state = null;
/** Why the shipped weights could not be loaded, when they could not. */
let demoWeightsProblem = null;

const controllers = new Map(); // request id → AbortController
let queue = Promise.resolve();

/** Runs jobs strictly one after another: the model must never be used by two at once. */
function serially(id, job) {
  const controller = new AbortController();
  controllers.set(id, controller);
  const run = queue.then(() => {
    if (controller.signal.aborted) throw abortError('cancelled before it started');
    post({ id, type: 'progress', phase: 'start' });
    return job(controller.signal);
  });
  queue = run.catch(() => {});
  return run.finally(() => controllers.delete(id));
}

function abortError(message) {
  return new DOMException(message, 'AbortError');
}

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

/** The shipped weights of model `name` (a worker builds one model, once), or null when they
 * cannot be had (`demoWeightsProblem` says why). `onProgress` hears of the download, in the
 * package's `LoadProgress` shape (file 'weights'), so the page shows one progress for all files. */
async function loadDemoWeights(name, onProgress) {
  try {
    if (!MODEL_NAMES.includes(name))
      throw new Error(`there is no shipped model named ${JSON.stringify(name)} (${MODEL_NAMES.join(', ')})`);
    const file = shippedFile(name);
    const url = new URL(file, import.meta.url);
    // `no-cache`: revalidated on every visit (a 304 when unchanged), never a stale model.
    const response = await fetch(url, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`the server answered ${response.status} for ${file}`);
    // Counted as the package counts its own files (its `LoadProgress` events, file 'weights').
    const download = new Download('weights');
    download.listen(onProgress);
    download.start(String(url), declaredSize(response));
    return unpackWeights(await gunzipIfNeeded(await readCounted(response.body, download)));
  } catch (e) {
    demoWeightsProblem = e?.message ?? String(e);
    return null;
  }
}

function describe(s, weightsKind, label) {
  return {
    backend: s.backend,
    fallbackReason: s.fallbackReason,
    backendReason: s.backendReason,
    // The CPU build's threads: 1 (the 1-thread build) unless the threaded one runs (`build`).
    threads: s.threads,
    threadsReason: s.threadsReason,
    adapter: s.adapter,
    backendTimings: s.backendTimings,
    classes: s.classes,
    // The weights' card: title, classes (names and colours), the images it expects, terms.
    model: s.model,
    inputSize: s.inputSize,
    parameters: s.parameters,
    // The core's fine-tuning defaults: the Fine-tune form starts from them.
    trainingDefaults: s.trainingDefaults,
    weightsKind, // 'demo' | 'random' | 'user'
    weightsLabel: label ?? null,
    demoWeightsProblem: weightsKind === 'random' ? demoWeightsProblem : null,
  };
}

const handlers = {
  async create({ backend, inputSize, weights, model: name = DEFAULT_MODEL, kind = 'user', label }, signal, id) {
    if (segmenter)
      throw Object.assign(new Error('config: this worker already has a model; the page starts a new worker instead'), {
        kind: 'config',
      });
    // Each file's download, for the page's "Downloading the model… 1.2 of 3.1 MB".
    const onProgress = (p) => post({ id, type: 'progress', phase: 'download', ...p });
    // The shipped weights download while the package fetches and compiles the core.
    const demo = weights === 'demo' ? loadDemoWeights(name, onProgress) : null;
    const source = demo ? demo.then((bytes) => bytes ?? undefined) : new Uint8Array(weights);
    // Without its weights, the shipped model's network is still the right shape (its classes).
    const classes = demo ? (FRESH_CLASSES[name] ?? 1) : undefined;
    segmenter = await Segmenter.create({ backend, inputSize, weights: source, classes, onProgress });
    if (demo) kind = (await demo) ? 'demo' : 'random';
    state = describe(segmenter, kind, label);
    // Warm-up while the visitor looks at the page: the first inference would otherwise run in the
    // browser's baseline wasm code (or compile the GPU pipelines). On the CPU it gives way to a
    // request as soon as one arrives. After a macrotask, so that this reply reaches the page first.
    const warming = segmenter;
    setTimeout(() => warming.warmUp().catch(() => {}), 0);
    return state;
  },

  async load({ weights, label }) {
    await model().loadWeights(weights);
    state = { ...state, model: model().model, weightsKind: 'user', weightsLabel: label ?? null };
    return state;
  },

  async segment({ image, window }, signal, id) {
    const s = model();
    let input = image;
    let dicom = null;
    let picture = null;
    if (await isDicomFile(image)) {
      post({ id, type: 'progress', phase: 'dicom' });
      const decoded = await decodeImage(image, 'image', { window: window ?? s.model.window });
      if (signal.aborted) throw abortError('cancelled');
      dicom = decoded.dicom;
      picture = await pngOf(decoded);
      input = { data: decoded.data, width: decoded.width, height: decoded.height };
      post({ id, type: 'progress', phase: 'segment' });
    }
    const r = await s.segment(input);
    return {
      width: r.width,
      height: r.height,
      classes: r.classes,
      mask: r.mask,
      doubtful: r.doubtful,
      foreground: r.foreground,
      doubt: r.doubt,
      classAreas: r.classAreas,
      classDoubt: [...r.classDoubt],
      outOfDomain: r.outOfDomain,
      dicom,
      picture,
    };
  },

  async inspect({ image, mask, name, labels = false }) {
    // The core reads the mask (the rule training uses) and checks that the sizes match.
    const read = await model().readMask(mask, { image, name });
    const { width, height, foreground } = read;
    return labels
      ? { width, height, foreground, labels: read.labels, classes: model().classes }
      : { width, height, foreground };
  },

  async train({ train, heldOut, epochs, learningRate, batchSize, augment }, signal, id) {
    const s = model();
    // What to go back to if the user prefers the weights from before the run.
    previous = { weights: await s.exportWeights(), kind: state.weightsKind, label: state.weightsLabel };
    // The package scores the held-back pairs before training and after every epoch and keeps the
    // last epoch's weights unless others scored clearly better: the previous ones when they did.
    const result = await s.train(train, {
      heldOut,
      epochs,
      learningRate,
      batchSize,
      augment,
      size: s.inputSize,
      signal,
      onProgress: (p) => post({ id, type: 'progress', ...p }),
    });
    lastRun = null;
    // A run that did not help: what its last weights do to each held-back pair, for the page to
    // show beside the kept weights' (ui/train-result.js); the kept ones stay in use.
    const runPerPair =
      result.kept === 'previous' && result.lastAvailable && heldOut.length ? await scoreLastRun(s, heldOut) : null;
    return { ...result, runPerPair, weights: await changedWeights(s, result.kept !== 'previous') };
  },

  async usePrevious() {
    const s = model();
    if (!previous)
      throw Object.assign(new Error('config: there are no weights from before a run to go back to'), {
        kind: 'config',
      });
    await s.loadWeights(previous.weights);
    state = { ...state, model: s.model, weightsKind: previous.kind, weightsLabel: previous.label };
    post({ type: 'state', state });
    const { weights } = previous;
    return { weights: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) };
  },

  async useLastTrained() {
    const s = model();
    if (lastRun) {
      await s.loadWeights(lastRun);
      lastRun = null;
    } else if (!(await s.useLastTrainedWeights()))
      throw Object.assign(new Error('config: there are no other weights from the last run to use'), { kind: 'config' });
    return { weights: await changedWeights(s, true) };
  },

  async export() {
    const bytes = await model().exportWeights();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  },
};

/**
 * The held-back pairs' scores with the last run's final weights (null if they cannot be had),
 * which are kept in `lastRun` for "use them anyway"; the weights in use are put back after.
 */
async function scoreLastRun(s, heldOut) {
  const kept = await s.exportWeights();
  if (!(await s.useLastTrainedWeights())) return null;
  try {
    lastRun = await s.exportWeights();
    return (await s.evaluate(heldOut)).perImage;
  } catch {
    return null;
  } finally {
    await s.loadWeights(kept);
  }
}

/** Whether a Blob is a DICOM Part 10 file: "DICM" after its 128-byte preamble (any name). */
async function isDicomFile(blob) {
  if (!(blob instanceof Blob) || blob.size < 132) return false;
  const b = new Uint8Array(await blob.slice(128, 132).arrayBuffer());
  return b[0] === 0x44 && b[1] === 0x49 && b[2] === 0x43 && b[3] === 0x4d;
}

/** Decoded RGBA pixels as a PNG file, for an <img> and the editor. */
async function pngOf({ data, width, height }) {
  const canvas = new OffscreenCanvas(width, height);
  canvas
    .getContext('2d')
    .putImageData(
      new ImageData(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), width, height),
      0,
      0,
    );
  return canvas.convertToBlob({ type: 'image/png' });
}

/** The segmenter's weights after a change (null when there was none), and the page told. */
async function changedWeights(s, changed) {
  if (!changed) return null;
  const weights = await s.exportWeights();
  state = { ...state, weightsKind: 'user', weightsLabel: 'fine-tuned' };
  post({ type: 'state', state });
  return weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
}

function model() {
  if (!segmenter) throw Object.assign(new Error('config: the model is not ready yet'), { kind: 'config' });
  return segmenter;
}

/** ArrayBuffers in a result travel without a copy. */
function transferables(value) {
  if (value instanceof ArrayBuffer) return [value];
  const out = [];
  for (const v of Object.values(value ?? {})) {
    if (v instanceof ArrayBuffer) out.push(v);
    else if (ArrayBuffer.isView(v) && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.push(v.buffer);
  }
  return out;
}

self.onmessage = (event) => {
  const { id, type, ...args } = event.data ?? {};
  if (type === 'cancel') {
    controllers.get(id)?.abort();
    return;
  }
  if (type === 'preload') {
    // Not queued: it only warms the package's cache of compiled cores for `create`.
    preload({ backend: args.backend }).catch(() => {});
    return;
  }
  const handler = Object.hasOwn(handlers, type) ? handlers[type] : null;
  if (!handler) {
    post({ id, type: 'error', error: { name: 'Error', message: `config: unknown request ${JSON.stringify(type)}` } });
    return;
  }
  const backendBefore = segmenter ? segmenter.backend : null;
  serially(id, (signal) => handler(args, signal, id))
    .then((value) => post({ id, type: 'result', value }, transferables(value)))
    .catch((e) =>
      post({ id, type: 'error', error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), kind: e?.kind } }),
    )
    .finally(() => {
      // The package moves to the CPU by itself when the GPU fails mid-run; tell the page.
      if (segmenter && state && backendBefore && segmenter.backend !== state.backend) {
        state = {
          ...state,
          backend: segmenter.backend,
          fallbackReason: segmenter.fallbackReason,
          backendReason: segmenter.backendReason,
        };
        post({ type: 'state', state });
      }
    });
};

post({ type: 'ready' });
