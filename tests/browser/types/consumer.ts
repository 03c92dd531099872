// An app's TypeScript against the package's types: `tsc -p types` (strict) must pass. It is the
// example of pkg/README.md's "Use" section, made strict TypeScript (a parameter's type; the
// held-back scores, null without `heldOut`, read through `?.`), then the options the README's
// API table names (islands, load progress, every training option), each entry point's
// exports, and `@ts-expect-error` lines: mistakes the types must refuse (were a type `any`, the
// line would not be an error, and tsc fails on the unused directive).
import { Segmenter, preload, decodeImage, TinyunetError, MAX_PIXELS, MAX_SIDE } from 'tinyunet';
import type {
  Build,
  CreateOptions,
  Evaluation,
  GpuMemoryUse,
  Islands,
  LoadProgress,
  MaskLabels,
  Segmentation,
  TrainOptions,
  TrainProgress,
  TrainResult,
} from 'tinyunet';
import * as cpu from 'tinyunet/cpu';
import { demoWeightsUrl } from 'tinyunet/demo-weights';
import { lungCtWeightsUrl } from 'tinyunet/models/lung-ct';
import { skinLesionWeightsUrl } from 'tinyunet/models/skin-lesion';

// ---- pkg/README.md, "Use" ----

// WebGPU when the browser has a working adapter, else the CPU. The weights download while
// the WebAssembly core compiles (pass bytes, a Blob, a Response, a URL or a promise of one).
const segmenter = await Segmenter.create({ backend: 'auto', weights: fetch(skinLesionWeightsUrl) });
console.log(`running on ${segmenter.backend}`, segmenter.fallbackReason ?? '');
// What the model is for, from its weights file: title, classes, the images it expects, terms.
console.log(
  segmenter.model.title,
  segmenter.model.classes.map((c) => c.name),
);

// Any size; PNG/JPEG bytes, a Blob, ImageData, an ImageBitmap, a canvas or an <img>.
const photo = await fetch('lesion.jpg').then((r) => r.blob());
const result = await segmenter.segment(photo, { probabilities: true });
console.log(`${result.width}×${result.height} mask, lesion ${(100 * result.foreground).toFixed(1)}% of the image`);

// How sure is it? `doubt` (0..1) is the share of the mask that is doubtful: unsure pixels, and
// pieces marked apart from the lesion (a sticker at the frame's edge).
if (result.doubt > 0.25) console.log('doubtful mask: check it');
// Is it a photo of skin at all? `outOfDomain` is null, or says why not (a CT slice, an object).
if (result.outOfDomain) console.log(`not what the model was made for: ${result.outOfDomain.message}`);

// Fine-tune on your own annotated images, holding some back to judge the run by: it ends with
// the last epoch's weights unless an earlier epoch, or the previous weights, scored clearly
// better on them (by more than `result.tolerance`). Cancel any time with the AbortController.
const pair = async (name: string) => ({
  name,
  image: await fetch(`${name}.jpg`).then((r) => r.blob()),
  mask: await fetch(`${name}_mask.png`).then((r) => r.blob()),
});
const controller = new AbortController();
const run = await segmenter.train([await pair('lesion')], {
  heldOut: [await pair('lesion-2')],
  epochs: 2,
  size: 64,
  signal: controller.signal,
  onProgress: (p) => {
    if (p.phase === 'train')
      console.log(`epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)}, ${p.etaSeconds.toFixed(0)} s left`);
  },
});
console.log(
  `trained ${run.stepsDone} steps; held-back Dice ${run.before?.dice.toFixed(3)} → ${run.after?.dice.toFixed(3)}, kept the ${run.kept} weights`,
);

// Keep the result: safetensors bytes with the PyTorch reference's parameter names.
const trained = await segmenter.exportWeights();
const again = await Segmenter.create({ backend: 'cpu', weights: trained });
console.log(`reloaded: ${again.parameters} parameters`);

// ---- islands ----

const islands: Islands[] = ['keep', 'main', 0.01];
const kept = await Segmenter.create({ weights: skinLesionWeightsUrl, islands: 'keep', flips: 2, inputSize: 128 });
const strict: Segmentation = await kept.segment(photo, { islands: 0.05, window: { center: 40, width: 400 } });
const fromSegmenter: Islands = kept.islands;
console.log(
  islands,
  strict.classAreas.map((a) => `${a.name} ${a.colour} ${a.fraction} ${a.pixels}`),
  fromSegmenter,
);
// @ts-expect-error -- islands is 'keep', 'main' or a share of the image
await Segmenter.create({ islands: 'largest' });
// @ts-expect-error -- flips is 1, 2 or 4
await Segmenter.create({ flips: 3 });

// ---- load progress (README "Loading") ----

const files = new Map<LoadProgress['file'], LoadProgress>();
const onProgress = (p: LoadProgress) => {
  files.set(p.file, p);
  const loaded = [...files.values()].reduce((sum, f) => sum + f.loaded, 0);
  const total = [...files.values()].reduce((sum, f) => sum + (f.total ?? 0), 0);
  const build: Build | null = p.build;
  console.log(p.status, p.url, p.progress?.toFixed(0), build, `${loaded} of ${total}`);
};
const built: Build = await preload({
  backend: 'cpu',
  threads: 4,
  wasmUrls: { cpu: '/cpu.wasm', 'cpu-threads': new URL('https://example.org/t.wasm') },
  onProgress,
});
const options: CreateOptions = { backend: 'webgpu', classes: 3, threads: 2, onProgress };
const ct = await Segmenter.create({ ...options, weights: lungCtWeightsUrl });
console.log(
  built,
  ct.build,
  ct.threads,
  ct.threadsReason,
  ct.backendReason,
  ct.adapter?.software,
  ct.backendTimings?.cpu,
);
// @ts-expect-error -- a LoadProgress's status is start, progress or done
onProgress({ status: 'loading', file: 'wasm', build: 'cpu', url: null, loaded: 0, total: null, progress: null });
// @ts-expect-error -- preload takes no weights
await preload({ weights: demoWeightsUrl });

// ---- training options, progress and result ----

const everyOption: Required<TrainOptions> = {
  heldOut: [],
  epochs: 10,
  batchSize: 4,
  learningRate: 3e-5,
  minLearningRate: 1e-6,
  freezeBatchNorm: true,
  adaptBatchNorm: false,
  recalibrateBatchNorm: false,
  zoom: false,
  anchor: 0,
  microBatch: 1,
  size: 256,
  window: { center: -600, width: 1500 },
  augment: true,
  seed: 0,
  onProgress: (p: TrainProgress) => {
    switch (p.phase) {
      case 'train':
        console.log(p.step, p.stepsPerEpoch, p.stepsDone, p.totalSteps, p.dice, p.learningRate);
        break;
      case 'before':
      case 'score':
        console.log(p.done, p.total, p.heldOut?.iou);
        break;
      case 'epoch':
        console.log(p.epoch, p.epochs, p.loss, p.heldOut?.dice);
        break;
      case 'classes':
        console.log(p.total, p.elapsedSeconds);
        break;
      default: {
        const never: never = p;
        console.log(never);
      }
    }
  },
  signal: controller.signal,
};
const r: TrainResult = await ct.train([{ image: photo, mask: photo, name: 'a' }], everyOption);
const stop: 'completed' | 'cancelled' | 'diverged' = r.stop;
console.log(stop, r.divergedAtStep, r.improved, r.reliable, r.chosenEpoch, r.lastAvailable, r.microBatch);
// What the run's instance peaked at, and whether its memory is gone (a Worker of its own).
const peak: number | null = r.memoryBytes;
const released: boolean = r.memoryReleased;
const now: number | null = ct.memoryBytes;
console.log(peak, released, now);
// On WebGPU: the GPU buffers the run held at its peak and after giving back what it left unused.
const gpu: GpuMemoryUse | null = r.gpuMemory;
const gpuNow: number | null = ct.gpuMemoryBytes;
if (gpu) console.log(gpu.beforeBytes, gpu.peakBytes, gpu.afterRunBytes, gpu.afterReleaseBytes, gpuNow);
// @ts-expect-error -- a diagnostic, read-only
ct.gpuMemoryBytes = 0;
for (const c of r.classScores) console.log(c.name, c.before?.dice, c.after?.iou);
if (r.lastAvailable) console.log(await ct.useLastTrainedWeights());
const d = ct.trainingDefaults;
console.log(d.epochs, d.microBatch ?? d.microBatchPixels, d.minReliableHeldOut);
// @ts-expect-error -- a misspelt option (the core refuses it at run time too)
await ct.train([], { epoch: 2 });
// @ts-expect-error -- epochs is a number
await ct.train([], { epochs: '2' });

// ---- the rest of the API ----

const evaluation: Evaluation = await ct.evaluate([{ image: photo, mask: photo }], {
  window: { center: 40, width: 400 },
});
for (const p of evaluation.perImage)
  console.log(p.name, p.dice, p.doubt, p.outOfDomain?.reason, p.classScores[0]?.dice);
const labels: MaskLabels = await ct.readMask(photo, { image: photo, name: 'a' });
const decoded = await decodeImage(new Uint8Array(8), 'slice.dcm', { window: { center: 40, width: 400 } });
console.log(
  labels.labels.length,
  decoded.dicom?.transferSyntax,
  decoded.dicom?.pixelSpacing?.[0],
  MAX_PIXELS,
  MAX_SIDE,
);
await ct.loadWeights(Promise.resolve(trained));
// exportWeights' bytes are a plain ArrayBuffer's (`Uint8Array<ArrayBuffer>`), which a Blob takes as is.
const saved = new Blob([trained], { type: 'application/octet-stream' });
await ct.loadWeights(new Response(saved));
ct.dispose();
try {
  await Segmenter.create({ weights: 'missing.safetensors' });
} catch (e) {
  if (e instanceof TinyunetError && e.kind === 'weights') console.log(e.message, e.cause);
}
const onCpu: cpu.Segmenter = await cpu.Segmenter.create({ backend: 'cpu', weights: demoWeightsUrl });
const cpuKind: cpu.ErrorKind = 'config';
console.log(onCpu.backend, cpuKind, await cpu.preload());
// @ts-expect-error -- the URL exports are URLs, not strings
const notAString: string = lungCtWeightsUrl;
console.log(notAString);
