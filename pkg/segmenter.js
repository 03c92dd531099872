// tinyunet: the public JavaScript API over the wasm core (the entries `tinyunet` and
// `tinyunet/cpu` register the builds of the core they offer and re-export this module).
//
// The Rust core (compiled into ./wasm/) does the network, the training and all checking; this
// wrapper decodes images, serialises calls (the core must not be re-entered), reports progress,
// honours AbortSignals and falls back from WebGPU to the CPU.

import { asError, failure } from './errors.js';
import { weightsOf } from './download.js';
import {
  booleanOption,
  integerOption,
  islandsOption,
  numberOption,
  segmenterOptions,
  sizeOption,
  windowOption,
} from './options.js';
import { decodeImage, MAX_PIXELS, MAX_SIDE } from './image.js';
import {
  GPU_THREADS,
  adapterName,
  backendOptions,
  chooseBuild,
  instances,
  loadCpu,
  loadWasm,
  raceCpu,
  spawnThread,
  spawnTraining,
} from './builds.js';
import { TrainingInstance, isLastingFailure } from './training-instance.js';

export { decodeImage, MAX_PIXELS, MAX_SIDE };
export { TinyunetError } from './errors.js';
export { registerBuilds, preload } from './builds.js';

/**
 * Each foreground class's mean `{ name, colour, dice, iou }` over the images where it was scored
 * (in the truth or the mask; `dice`/`iou` null where it never was); empty for one class.
 */
function meanClassScores(perImage) {
  return (perImage[0]?.classScores ?? []).map(({ name, colour }, c) => {
    const scored = perImage.map((r) => r.classScores[c]).filter((s) => s && s.dice !== null);
    const mean = (key) => (scored.length ? scored.reduce((sum, s) => sum + s[key], 0) / scored.length : null);
    return { name, colour, dice: mean('dice'), iou: mean('iou'), images: scored.length };
  });
}

/** A core evaluation `{ epoch, mean: { dice, iou }, perPair }` as `{ epoch, dice, iou, perPair }`. */
function evaluation(e) {
  return e ? { epoch: e.epoch, dice: e.mean.dice, iou: e.mean.iou, perPair: e.perPair } : null;
}

let trainingFailure = null; // why no training instance can start here, once that is known

/** What `train` takes (see `TrainOptions` in tinyunet.d.ts); anything else is a typo to report. */
const TRAIN_OPTIONS = [
  'heldOut',
  'epochs',
  'batchSize',
  'learningRate',
  'minLearningRate',
  'size',
  'augment',
  'seed',
  'freezeBatchNorm',
  'adaptBatchNorm',
  'recalibrateBatchNorm',
  'zoom',
  'anchor',
  'microBatch',
  'window',
  'onProgress',
  'signal',
];

/** Heap that one warm-up step grows and touches on the CPU: ~20 ms on a slow 2-core machine. */
const RESERVE_STEP_BYTES = 16 * 2 ** 20;

/** A TinyU-Net that segments images and learns from annotated ones, entirely in this page. */
export class Segmenter {
  #glue; // the build of the core this segmenter runs in
  #core;
  #queue = Promise.resolve();
  #calls = 0; // calls made so far, warm-up runs not counted
  #weights; // the latest weights, kept so a lost GPU can be replaced by the CPU without loss
  #inputSize;
  #fallbackReason = null;
  #backendReason;
  #adapter;
  #threads; // { build, threads, threadsReason }
  #timings; // auto's race on a hardware GPU: { webgpu, cpu, size } (ms), else null
  #lastTrained = null; // a run's last-step weights, when it trained in an instance of its own and kept others
  #gpu; // whether the network runs on the WebGPU device (its buffer pools: `gpuMemoryBytes`)
  #disposed = false;

  constructor(glue, core, weights, inputSize, { fallbackReason, backendReason, adapter, threads, timings }, token) {
    if (token !== Segmenter.#token) throw new Error('use `await Segmenter.create(options)`');
    this.#glue = glue;
    this.#core = core;
    this.#weights = weights;
    this.#inputSize = inputSize;
    this.#fallbackReason = fallbackReason;
    this.#backendReason = backendReason;
    this.#adapter = adapter;
    this.#threads = threads;
    this.#timings = timings;
    this.#gpu = core.backend === 'webgpu';
  }

  static #token = Symbol('create');

  /** Creates a segmenter (see `CreateOptions`). */
  static async create(options = {}) {
    const { backend, wasmUrls, threads: askedThreads, onProgress } = backendOptions(options);
    // Weights may still be on their way (a promise, say `fetch(url)`): they download while the
    // core below is fetched and compiled, and are needed only to build the network.
    const pendingWeights = weightsOf(options.weights, true, onProgress);
    pendingWeights.catch(() => {}); // awaited below; a failure meanwhile is not "unhandled"

    let { chosen, fallbackReason, backendReason, adapter } = await chooseBuild(backend);
    let core;
    let glue;
    let weights;
    let settings;
    let threads = GPU_THREADS;
    const load = async (build) => {
      if (build !== 'cpu') return loadWasm(build, wasmUrls, 1, onProgress);
      const { glue: cpuGlue, ...cpu } = await loadCpu(wasmUrls, askedThreads, onProgress);
      threads = cpu;
      return cpuGlue;
    };
    try {
      [glue, weights] = await Promise.all([load(chosen), pendingWeights]);
      settings = segmenterOptions(options, glue.limits());
      core = await glue.WasmSegmenter.create(chosen, settings, weights);
    } catch (e) {
      const error = asError(e);
      // Bad weights or settings fail the same way on every backend: report them as they are.
      if (chosen === 'cpu' || backend === 'webgpu' || error.kind !== 'backend') throw error;
      fallbackReason = `WebGPU failed to start (${error.message})`;
      backendReason = fallbackReason;
      weights = await pendingWeights;
      glue = await load('cpu');
      settings = segmenterOptions(options, glue.limits());
      core = await glue.WasmSegmenter.create('cpu', settings, weights).catch((e2) => {
        throw asError(e2);
      });
    }
    const inputSize = settings.inputSize;
    // A private copy: the caller may reuse their buffer.
    const kept = weights ? weights.slice() : await core.exportWeights();
    let timings = null;
    if (backend === 'auto' && chosen === 'webgpu' && core.backend === 'webgpu') {
      // A GPU is not always faster than the CPU build (a weak integrated one, a busy one): time
      // one warm inference at the working size on each and keep the faster.
      const race = await raceCpu(core, kept, inputSize, adapterName(adapter), () => load('cpu'), options);
      timings = race.timings;
      backendReason = race.backendReason;
      if (race.cpu) {
        try {
          core.free();
        } catch {
          /* the GPU side may already be gone */
        }
        ({ glue, core, fallbackReason } = race.cpu);
      } else {
        threads = GPU_THREADS;
      }
    }
    const choice = { fallbackReason, backendReason, adapter, threads, timings };
    return new Segmenter(glue, core, kept, inputSize, choice, Segmenter.#token);
  }

  /** `webgpu` or `cpu`. */
  get backend() {
    this.#alive();
    return this.#core.backend;
  }
  /** The build of the core that runs: `cpu` (1 thread), `cpu-threads` (a pool of Workers) or `webgpu`. */
  get build() {
    return this.#threads.build;
  }
  /** The threads the network runs on: the pool's size on `cpu-threads`, else 1. */
  get threads() {
    return this.#threads.threads;
  }
  /** Why that many threads, for every build ("1 thread: the page is not cross-origin isolated …"). */
  get threadsReason() {
    return this.#threads.threadsReason;
  }
  /** Why the segmenter runs on the CPU although WebGPU was allowed, if it does. */
  get fallbackReason() {
    return this.#fallbackReason;
  }
  /** Why the segmenter runs where it does, for every choice (`auto` picks the faster build). */
  get backendReason() {
    return this.#backendReason;
  }
  /**
   * The WebGPU adapter seen when choosing, `{ vendor, architecture, software }` (`software`
   * names the software renderer, or null on a real GPU); null when WebGPU was not looked at.
   */
  get adapter() {
    return this.#adapter;
  }
  /**
   * What `auto` measured on a hardware GPU to choose: `{ webgpu, cpu, size }`, one warm
   * `size`² inference on each in ms; null when it did not time them (another choice, no GPU, a
   * software one, or the CPU build could not be tried).
   */
  get backendTimings() {
    return this.#timings;
  }
  get classes() {
    this.#alive();
    return this.#core.classes;
  }
  /**
   * What the model is for, from its weights file (`ModelCard` in tinyunet.d.ts): `{ name, title,
   * imageKind, classes: [{ name, colour }] (background first), inputSize, window?, trainedOn,
   * terms, citations }`. Files without a card read as the skin-lesion model (one class) or as
   * numbered classes. A fresh copy on every read.
   */
  get model() {
    this.#alive();
    return this.#core.card;
  }
  get inputSize() {
    return this.#inputSize;
  }
  /** Mirrored passes averaged per image (1, 2 or 4). */
  get flips() {
    this.#alive();
    return this.#core.flips;
  }
  /** What happens to each mask's stray pieces unless a call says otherwise (see `Islands`). */
  get islands() {
    this.#alive();
    return this.#core.islands;
  }
  get parameters() {
    this.#alive();
    return this.#core.parameters;
  }
  /**
   * A diagnostic: the bytes of WebAssembly memory the instance this segmenter runs in holds now
   * (shared by the segmenters of the same build on this page); null when unknown. A wasm memory
   * never shrinks; fine-tuning on the CPU runs in an instance of its own, so this stays at what
   * inference needs (see `TrainResult.memoryBytes`).
   */
  get memoryBytes() {
    return instances.get(this.#threads.build)?.memory.buffer.byteLength ?? null;
  }
  /**
   * A diagnostic, on WebGPU: the bytes of GPU buffers the device's pools hold now (cubecl's pools,
   * shared by the page's WebGPU segmenters), in use or kept for reuse; null on the CPU. A run
   * gives back what it leaves unused (`TrainResult.gpuMemory`). Answers even while a call runs.
   */
  get gpuMemoryBytes() {
    return this.#gpu ? (this.#glue.gpuMemory?.()?.reservedBytes ?? null) : null;
  }

  /** The window DICOM slices go through in a call: its `window` option, else the model card's. */
  #window(value) {
    return windowOption(value, this.#core.card.window);
  }

  #alive() {
    if (this.#disposed) throw failure('config', 'this segmenter has been disposed');
  }

  /** Runs `job` after every earlier call has finished: the core must never be re-entered. */
  #exclusive(job, counted = true) {
    if (counted) this.#calls++;
    const run = this.#queue.then(async () => {
      this.#alive();
      // Memory a warm-up was reserving is this call's to use.
      if (counted) this.#core.releaseReservedMemory();
      try {
        return await job();
      } catch (e) {
        throw await this.#recover(asError(e));
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** On a GPU failure, moves to the CPU with the last known weights; returns the error to throw. */
  async #recover(error) {
    const gpuFailure =
      this.#core.backend === 'webgpu' && (error.kind === 'backend' || error instanceof WebAssembly.RuntimeError);
    if (!gpuFailure) return error;
    try {
      // The WebGPU build runs on the CPU too: no second download when the GPU is lost.
      const settings = { inputSize: this.#inputSize, flips: this.#core.flips, islands: this.#core.islands };
      const core = await this.#glue.WasmSegmenter.create('cpu', settings, this.#weights);
      try {
        this.#core.free();
      } catch {
        /* the GPU side may already be gone */
      }
      this.#core = core;
      this.#gpu = false;
      this.#threads = {
        ...GPU_THREADS,
        threadsReason: "1 thread: the WebGPU build's own CPU code runs since the GPU failed",
      };
      this.#fallbackReason = `the GPU failed (${error.message}); now running on the CPU with the same weights`;
      this.#backendReason = this.#fallbackReason;
      return failure(
        'backend',
        `${error.message.replace(/^backend: /, '')} — switched to the CPU, weights intact; please retry`,
        error,
      );
    } catch {
      return error;
    }
  }

  /**
   * Runs the network on blank input so that the first real call is fast: on the CPU the browser
   * compiles wasm in two tiers and the optimised code arrives only after the network has run a
   * while, and the heap must grow to what a full-size inference needs (grown first, up to 256
   * MiB, 16 MiB a step); on WebGPU the GPU pipelines are compiled on first use. On the CPU it goes one small
   * step at a time and stops as soon as another call is made, so it delays that call by one
   * small step at most. Resolves to the number of network runs made.
   */
  async warmUp() {
    const cpu = this.backend === 'cpu';
    const [size, runs] = cpu ? [64, 8] : [this.#inputSize, 1];
    const input = new Float32Array(3 * size * size);
    const calls = this.#calls;
    // A macrotask after each step, so that a request sent meanwhile is received and counted.
    const step = async (job) => {
      const result = await this.#exclusive(job, false);
      await new Promise((resolve) => setTimeout(resolve, 0));
      return result;
    };
    if (cpu) {
      while (!this.#disposed && this.#calls === calls) {
        if (await step(async () => this.#core.reserveInferenceMemory(RESERVE_STEP_BYTES))) break;
      }
    }
    let done = 0;
    while (done < runs && !this.#disposed && this.#calls === calls) {
      await step(() => this.#core.logits(input, [1, 3, size, size]));
      done++;
    }
    return done;
  }

  /**
   * Segments one image of any size. A DICOM slice is mapped to grey through `options.window`
   * (else the model card's window, else the lung window), and the result's `dicom` describes it.
   */
  segment(image, options = {}) {
    return this.#exclusive(async () => {
      const decoded = await decodeImage(image, 'image', { window: this.#window(options.window) });
      const islands = options.islands === undefined ? undefined : islandsOption(options.islands);
      const r = await this.#core.segment(decoded, Boolean(options.probabilities), islands);
      const out = {
        width: r.width,
        height: r.height,
        classes: r.classes,
        mask: r.mask,
        foreground: r.foreground,
        confidence: r.confidence,
        doubt: r.doubt,
        doubtful: r.doubtful,
        classAreas: r.classAreas,
        classDoubt: r.classDoubt,
        outOfDomain: r.outOfDomain,
      };
      if (decoded.dicom) out.dicom = decoded.dicom;
      if (options.probabilities) out.probabilities = r.probabilities;
      r.free();
      return out;
    });
  }

  /**
   * Fine-tunes on `{image, mask}` pairs; see `TrainOptions`. With `heldOut` pairs the run is
   * judged by them (scored before training and after every epoch) and ends with the last epoch's
   * weights, unless an earlier epoch's or the previous ones scored more than the tolerance better.
   */
  train(samples, options = {}) {
    return this.#exclusive(async () => {
      if (!Array.isArray(samples) || samples.length === 0) {
        throw failure('input', 'train() needs a non-empty array of {image, mask} samples');
      }
      const unknown = Object.keys(options).filter((k) => !TRAIN_OPTIONS.includes(k));
      if (unknown.length) {
        throw failure(
          'config',
          `unknown training option ${JSON.stringify(unknown[0])}; the options are ${TRAIN_OPTIONS.join(', ')}`,
        );
      }
      const heldOut = options.heldOut ?? [];
      if (!Array.isArray(heldOut)) throw failure('input', 'heldOut must be an array of {image, mask} samples');
      // Left out, a setting takes the core's default (Segmenter#trainingDefaults).
      const limits = this.#glue.limits();
      const settings = {
        epochs: integerOption(options.epochs, 'epochs', 1, limits.maxEpochs),
        batchSize: integerOption(options.batchSize, 'batchSize', 1, limits.maxBatchSize),
        learningRate: numberOption(
          options.learningRate,
          'learningRate',
          limits.minLearningRate,
          limits.maxLearningRate,
        ),
        augment: booleanOption(options.augment, 'augment'),
        seed: integerOption(options.seed, 'seed', 0, limits.maxSeed),
        freezeBatchNorm: booleanOption(options.freezeBatchNorm, 'freezeBatchNorm'),
        adaptBatchNorm: booleanOption(options.adaptBatchNorm, 'adaptBatchNorm'),
        recalibrateBatchNorm: booleanOption(options.recalibrateBatchNorm, 'recalibrateBatchNorm'),
        zoom: booleanOption(options.zoom, 'zoom'),
        anchor: numberOption(options.anchor, 'anchor', 0, limits.maxAnchor),
        microBatch: integerOption(options.microBatch, 'microBatch', 1, limits.maxBatchSize),
      };
      settings.minLearningRate = numberOption(
        options.minLearningRate,
        'minLearningRate',
        0,
        settings.learningRate ?? limits.maxLearningRate,
      );
      const size = sizeOption(options.size, 'size', limits, this.#inputSize);
      const signal = options.signal;
      const window = this.#window(options.window);
      if (signal?.aborted) throw new DOMException('training was aborted before it started', 'AbortError');

      // On the CPU builds the run trains in an instance of its own, dropped when it ends (see
      // training-instance.js); on WebGPU (activations in GPU buffers) in this segmenter's core,
      // which gives the buffers the run left unused back at its end (`gpuMemory`).
      const instance = await this.#trainingInstance();
      try {
        return await this.#train(instance, { samples, heldOut, settings, size, signal, window, options });
      } finally {
        instance?.close();
      }
    });
  }

  /**
   * A training instance for the next run (CPU builds, where Workers can start), built from this
   * segmenter's current weights; null to train in this segmenter's core.
   */
  async #trainingInstance() {
    const build = this.#threads.build;
    if (
      build === 'webgpu' ||
      this.#core.backend !== 'cpu' ||
      !spawnTraining ||
      trainingFailure ||
      typeof Worker === 'undefined'
    )
      return null;
    // The weights (and card) as the core has them now.
    const weights = await this.#core.exportWeights();
    const settings = { inputSize: this.#inputSize, flips: this.#core.flips, islands: this.#core.islands };
    try {
      return await TrainingInstance.open(spawnTraining, spawnThread, {
        build,
        module: instances.get(build)?.module ?? undefined,
        threads: this.#threads.threads,
        settings,
        weights,
      });
    } catch (e) {
      // This run trains in the segmenter's core (its memory then stays grown). Later ones do too
      // only when no training Worker can start in this page (it cannot be made, its script does
      // not load); after one that was slow to start or failed to build, the next run tries again.
      if (isLastingFailure(e)) trainingFailure = asError(e).message;
      return null;
    }
  }

  /** One run, in `instance` or (null) in this segmenter's core; see `train`. */
  async #train(instance, { samples, heldOut, settings, size, signal, window, options }) {
    const core = this.#core;
    const target = instance
      ? {
          add: (...args) => instance.call('add', ...args),
          start: (s) => instance.call('start', s),
          step: () => instance.call('step'),
          finish: (cancelled) => instance.call('finish', cancelled),
        }
      : {
          add: (...args) => core.addTrainingSample(...args),
          start: (s) => core.startTraining(s),
          step: () => core.trainStep(),
          finish: async (cancelled) => ({
            outcome: await core.finishTraining(cancelled),
            memoryBytes: this.memoryBytes,
          }),
        };
    if (!instance) core.clearTrainingSamples();
    const add = async (sample, i, held) => {
      const name = sample?.name ?? `${held ? 'held-back sample' : 'sample'} ${i}`;
      if (!sample || sample.image == null || sample.mask == null) {
        throw failure('input', `${name}: each sample needs an image and a mask`);
      }
      const image = await decodeImage(sample.image, name, { window });
      const mask = await decodeImage(sample.mask, `${name} (mask)`);
      await target.add(name, image, mask, size, held);
    };
    try {
      for (const [i, sample] of samples.entries()) await add(sample, i, false);
      for (const [i, sample] of heldOut.entries()) await add(sample, i, true);
    } catch (e) {
      if (!instance) core.clearTrainingSamples();
      throw asError(e);
    }
    await target.start(Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)));
    // A run that starts drops the last run's other weights (the core does so for its own).
    this.#lastTrained = null;

    const started = performance.now();
    const history = [];
    let cancelled = false;
    let epochs = 0;
    let outcome;
    let finished;
    try {
      while (true) {
        if (signal?.aborted) {
          cancelled = true;
          break;
        }
        const p = await target.step();
        if (p === null) break;
        const elapsed = (performance.now() - started) / 1000;
        if (p.kind === 'trained') {
          history.push({ loss: p.loss, dice: p.dice });
          epochs = Math.round(p.totalSteps / p.stepsPerEpoch);
          options.onProgress?.({
            phase: 'train',
            epoch: p.epoch + 1,
            epochs,
            step: p.stepInEpoch + 1,
            stepsPerEpoch: p.stepsPerEpoch,
            stepsDone: p.stepsDone,
            totalSteps: p.totalSteps,
            loss: p.loss,
            dice: p.dice,
            learningRate: p.learningRate,
            elapsedSeconds: elapsed,
            etaSeconds: (elapsed / p.stepsDone) * (p.totalSteps - p.stepsDone),
          });
        } else if (p.kind === 'scored') {
          options.onProgress?.({
            phase: p.epoch === 0 ? 'before' : 'score',
            epoch: p.epoch,
            done: p.done,
            total: p.total,
            heldOut: p.mean ?? null,
            elapsedSeconds: elapsed,
          });
        } else {
          options.onProgress?.({
            phase: 'epoch',
            epoch: p.epoch,
            epochs,
            loss: p.loss,
            dice: p.dice,
            heldOut: p.heldOut ?? null,
            elapsedSeconds: elapsed,
          });
        }
        // Let the event loop deliver aborts and repaint between units of work.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      // A multi-class model scores each class before and after on the held-back pairs here.
      if (heldOut.length && core.classes > 1)
        options.onProgress?.({
          phase: 'classes',
          total: heldOut.length,
          elapsedSeconds: (performance.now() - started) / 1000,
        });
      finished = await target.finish(cancelled);
      outcome = finished.outcome;
    } catch (e) {
      // A failed step leaves the weights as they were before the run (an instance of its own
      // never touched them).
      if (!instance) core.abandonTraining();
      throw e;
    }
    if (instance) {
      // The weights the run kept, into this segmenter's core (on error its own stay).
      if (finished.weights) core.loadWeights(finished.weights);
      this.#lastTrained = finished.last;
      if (finished.weights) this.#weights = finished.weights;
    } else if (outcome.kept !== 'previous') {
      this.#weights = await core.exportWeights();
    }
    return {
      cancelled: outcome.stop === 'cancelled',
      stop: outcome.stop,
      divergedAtStep: outcome.divergedAtStep ?? null,
      kept: outcome.kept,
      why: outcome.why,
      improved: outcome.improved ?? null,
      bestEpoch: outcome.bestEpoch,
      tolerance: outcome.tolerance,
      withinTolerance: outcome.withinTolerance,
      reliable: outcome.reliable,
      chosenEpoch: outcome.chosenEpoch,
      heldOut: outcome.heldOut,
      before: evaluation(outcome.before),
      after: evaluation(outcome.chosen),
      epochs: outcome.epochs.map((e) => ({ ...e, heldOut: e.heldOut ?? null })),
      classScores: outcome.classScores.map((c) => ({
        name: c.name,
        colour: c.colour,
        before: c.before ?? null,
        after: c.after ?? null,
      })),
      lastAvailable: outcome.lastAvailable,
      stepsDone: outcome.stepsDone,
      totalSteps: outcome.totalSteps,
      microBatch: outcome.microBatch,
      history,
      seconds: (performance.now() - started) / 1000,
      memoryBytes: finished.memoryBytes,
      memoryReleased: Boolean(instance),
      gpuMemory: outcome.gpuMemory ?? null,
    };
  }

  /**
   * After a run that kept other weights (an earlier epoch's, or the previous ones), switches to the
   * weights of its last step; resolves to false when there are none to switch to.
   */
  useLastTrainedWeights() {
    return this.#exclusive(async () => {
      if (this.#lastTrained) {
        // Kept from a run in an instance of its own.
        this.#core.loadWeights(this.#lastTrained);
        this.#weights = this.#lastTrained;
        this.#lastTrained = null;
        return true;
      }
      if (!this.#core.useLastTrainedWeights()) return false;
      this.#weights = await this.#core.exportWeights();
      return true;
    });
  }

  /** This model's training defaults (the core's, with its card's learning rate) and the fewest
   * held-back pairs whose Dice means much. */
  get trainingDefaults() {
    this.#alive();
    return this.#core.trainingDefaults();
  }

  /** Dice and IoU on `{image, mask}` pairs (DICOM slices through `options.window`, as `segment`). */
  evaluate(samples, options = {}) {
    return this.#exclusive(async () => {
      if (!Array.isArray(samples) || samples.length === 0) {
        throw failure('input', 'evaluate() needs a non-empty array of {image, mask} samples');
      }
      const window = this.#window(options?.window);
      const perImage = [];
      for (const [i, sample] of samples.entries()) {
        const name = sample?.name ?? `sample ${i}`;
        const image = await decodeImage(sample.image, name, { window });
        const mask = await decodeImage(sample.mask, `${name} (mask)`);
        const { dice, iou, doubt, outOfDomain, classScores } = await this.#core.evaluate(name, image, mask);
        perImage.push({ name, dice, iou, doubt, outOfDomain, classScores });
      }
      const mean = (key) => perImage.reduce((s, r) => s + r[key], 0) / perImage.length;
      return { dice: mean('dice'), iou: mean('iou'), classScores: meanClassScores(perImage), perImage };
    });
  }

  /**
   * Reads a mask image as this model's labels, by the core's rule (the one training and scoring
   * use): `{ width, height, labels, foreground }`, one label byte per pixel (0/1 for one class,
   * else class indices) and the share of pixels that are not background. With `options.image`
   * the two sizes must match; `options.name` names the pair in errors.
   */
  readMask(mask, options = {}) {
    return this.#exclusive(async () => {
      const name = options.name ?? 'mask';
      const pixels = await decodeImage(mask, `${name} (mask)`);
      const image =
        options.image == null
          ? undefined
          : await decodeImage(options.image, name, { window: this.#window(options.window) });
      const labels = this.#core.readMask(name, pixels, image);
      let marked = 0;
      for (const label of labels) if (label !== 0) marked++;
      return { width: pixels.width, height: pixels.height, labels, foreground: marked / labels.length };
    });
  }

  /** The current weights as safetensors bytes. */
  exportWeights() {
    return this.#exclusive(async () => this.#core.exportWeights());
  }

  /** Replaces the weights; on error the current ones stay. */
  loadWeights(weights) {
    return this.#exclusive(async () => {
      const bytes = await weightsOf(weights);
      this.#core.loadWeights(bytes);
      this.#weights = bytes.slice();
    });
  }

  /** Frees the model; the segmenter cannot be used afterwards. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#queue.then(() => this.#core.free());
  }
}
