/**
 * tinyunet: TinyU-Net segmentation in the browser, on WebGPU or the CPU (WebAssembly).
 * Everything runs locally; no pixel leaves the page.
 */

/**
 * What went wrong, for programs to branch on: every `Error` tinyunet throws has a `kind`, and its
 * message starts with the same word (`input: lesion.png: …`) followed by what a person needs.
 * `input`: an image, mask or argument; `weights`: a weights file; `config`: an option or a call
 * out of order; `backend`: WebGPU or the WebAssembly module failed; `io`: a file (native only).
 * A cancelled call rejects with a `DOMException` named `AbortError` instead.
 */
export type ErrorKind = 'input' | 'weights' | 'config' | 'backend' | 'io';

/**
 * An error thrown by tinyunet (`error instanceof TinyunetError`): `kind` says which, the message
 * starts with it, and `cause` is the error it comes from where there is one (a failed fetch, the
 * GPU lost, the core's own error).
 */
export class TinyunetError extends Error {
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown });
  readonly name: 'TinyunetError';
  readonly kind: ErrorKind;
}

/** The former name of `TinyunetError`'s type. */
export type TinyUNetError = TinyunetError;

/**
 * Which compute backend to use. `auto` takes the CPU when there is no GPU or the only adapter is
 * a software renderer (SwiftShader, llvmpipe), which is far slower than the CPU build; on a
 * hardware GPU it times one warm inference at the working size on WebGPU and on the CPU build
 * (which it then fetches too) and keeps the faster (`backendTimings`, `backendReason`).
 * `webgpu` takes any adapter, untimed; `cpu` never looks at WebGPU.
 */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** Anything that holds an image. Encoded bytes must be PNG, JPEG (WebP, GIF, BMP) or a DICOM file. */
export type ImageSource =
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | Blob
  | Response
  | ArrayBuffer
  | Uint8Array
  | { data: Uint8Array | Uint8ClampedArray; width: number; height: number };

/**
 * Weights: safetensors bytes (ours or the PyTorch reference's names) or a PyTorch `.pth` state_dict,
 * as bytes, a Blob, a fetch `Response` (a non-2xx one is a `weights:` error), a URL (a `URL` or a
 * string, fetched), or a promise of one: `Segmenter.create({ weights: skinLesionWeightsUrl })` (from
 * `tinyunet/models/skin-lesion`; `lungCtWeightsUrl` from `tinyunet/models/lung-ct`) downloads them
 * while the core compiles.
 */
export type WeightsSource =
  | ArrayBuffer
  | Uint8Array
  | Blob
  | Response
  | URL
  | string
  | PromiseLike<ArrayBuffer | Uint8Array | Blob | Response | URL | string>;

export interface CreateOptions {
  /** Default `auto`. */
  backend?: BackendChoice;
  /** Weights to load; without them the network starts from a random initialisation. */
  weights?: WeightsSource;
  /** Output classes of a fresh network (ignored when `weights` are given). Default 1. */
  classes?: number;
  /** Side, in pixels, that images are resized to for the network (multiple of 16). Default 256. */
  inputSize?: number;
  /**
   * Mirrored passes averaged per image: 1 (the image only), 2 (and its left-right mirror) or 4
   * (and top-bottom). Default 1; 2 gave 0.1–0.4 points more Dice on real photos, for twice the work.
   */
  flips?: 1 | 2 | 4;
  /** What happens to each mask's stray pieces. Default: the model's (see `Islands`). */
  islands?: Islands;
  /**
   * Where each build of the core's `.wasm` is, if not next to this module (e.g. when a bundler
   * moves it): `cpu` (`wasm/tinyunet_cpu_bg.wasm`, CPU only, small) and `webgpu`
   * (`wasm/tinyunet_webgpu_bg.wasm`, WebGPU with the CPU as its fallback). Only the build that
   * the chosen backend needs is fetched.
   */
  wasmUrls?: { cpu?: string | URL; 'cpu-threads'?: string | URL; webgpu?: string | URL };
  /**
   * Threads for the CPU backend, 1 to 16. Default: the cores the browser reports
   * (`navigator.hardwareConcurrency`), at most 8. More than 1 runs the threaded build
   * (`wasm/tinyunet_cpu-threads_bg.wasm`, on a pool of Web Workers), which needs a cross-origin
   * isolated page (COOP `same-origin` + COEP `require-corp`) and the segmenter to be created in a
   * Web Worker (a page's main thread may not wait for other threads); anywhere else the 1-thread
   * build runs and `threadsReason` says why. The pool is started once per page: its size is the
   * first threaded segmenter's. Outputs agree with the 1-thread build's to 1e-5.
   */
  threads?: number;
  /**
   * Told of each file the package downloads or reads for this call, as its bytes arrive: the
   * core's `.wasm` (2.4 to 13 MB, see `Build`) and the `weights` when they are a URL or a
   * `Response` (bytes and Blobs are already in memory and are not told). For each file: `start`,
   * `progress` any number of times with `loaded` growing, then `done` with `loaded === total`.
   * A `.wasm` is fetched once per page: a call that finds it downloading (after `preload`, say)
   * is told `start` and where it stands, then the rest; one that finds it loaded is told `start`
   * and `done`. An exception thrown by the callback does not stop the download (it is rethrown
   * on its own, as an uncaught error). Like transformers.js's `progress_callback`.
   */
  onProgress?: (progress: LoadProgress) => void;
}

/**
 * One file's download progress (`CreateOptions.onProgress`).
 * @example
 * await Segmenter.create({
 *   weights: skinLesionWeightsUrl,
 *   onProgress: (p) => console.log(`${p.file} ${p.status}: ${p.loaded} of ${p.total ?? '?'} bytes`),
 * });
 */
export interface LoadProgress {
  /** `start` (the response's headers are in), `progress` (more bytes arrived), `done` (all of them). */
  status: 'start' | 'progress' | 'done';
  /** `wasm`: a build of the core; `weights`: the network's weights. */
  file: 'wasm' | 'weights';
  /** The build a `wasm` file is (`cpu`, `cpu-threads` or `webgpu`); null for weights. */
  build: Build | null;
  /** Where the file comes from; null for a `Response` made in the page. */
  url: string | null;
  /** Bytes received so far (after any `Content-Encoding` is undone). */
  loaded: number;
  /**
   * The file's size in bytes, from `Content-Length`; null while unknown: no such header, or a
   * file compressed in transit (whose `Content-Length` counts the compressed bytes). On `done`,
   * the bytes received.
   */
  total: number | null;
  /** `loaded` as a percentage of `total` (0 to 100); null while `total` is unknown. */
  progress: number | null;
}

/** Which build of the core runs: `cpu` (1 thread), `cpu-threads` (a pool of Workers) or `webgpu`. */
export type Build = 'cpu' | 'cpu-threads' | 'webgpu';

/** A CT display window in Hounsfield units: `center` ± `width`/2 map onto black … white. */
export interface CtWindow {
  center: number;
  /** Above 0. */
  width: number;
}

/**
 * What happens to a mask's stray pieces (marked pixels joined through their four neighbours):
 * `"keep"` every piece; `"main"`: the pieces smaller than the main piece (the lesion) go — ruler
 * text, glare, small stickers — and larger ones stay (a one-class model only); a number in
 * (0, 0.25]: pieces below that share of the image go, whatever their class. A one-class model
 * uses `"main"` unless told otherwise (on wide-field ISIC 2017 photos it raised mean Dice by
 * 0.014–0.036 and left PH2 and ISIC 2016 within 0.001), a multi-class one `"keep"`.
 */
export type Islands = 'keep' | 'main' | number;

export interface SegmentOptions {
  /** Also return per-class probabilities. Default false. */
  probabilities?: boolean;
  /**
   * The window a DICOM slice is mapped to grey through (e.g. `{ center: 40, width: 400 }` for the
   * mediastinum). Default: the model card's `window` (`Segmenter.model.window`), else the lung
   * window (level −600 HU, width 1500 HU). Ignored for other images.
   */
  window?: CtWindow;
  /** What happens to this mask's stray pieces. Default: the segmenter's `islands`. */
  islands?: Islands;
}

/** The result of `segment`, at the image's own size. */
export interface Segmentation {
  width: number;
  height: number;
  classes: number;
  /** One byte per pixel: 0/1 for one class, else the class index. */
  mask: Uint8Array;
  /** `[classes, height, width]` probabilities, when asked for. */
  probabilities?: Float32Array;
  /**
   * For a DICOM slice: its description (no patient data) and, as `dicom.window`, the window its
   * grey levels were made with. Absent for other images.
   */
  dicom?: DicomInfo;
  /** Fraction of pixels marked as foreground, 0..1. */
  foreground: number;
  /**
   * Mean probability of the marked class over the marked pixels, 0..1. Networks are
   * overconfident: this read 82–97 % on real masks with Dice below 0.7. Use `doubt` to judge a mask.
   */
  confidence: number;
  /**
   * How doubtful the mask is, 0..1: the share of the marked pixels (and of any the model was unsure
   * of) that are doubtful: their probability lies between 0.2 and 0.8, or they are marked outside
   * the mask's main piece (a sticker marked at the frame's edge next to the lesion; every marked
   * pixel when the mask reaches all four sides of the frame). On real dermoscopy it ranks masks by
   * their true Dice (the repository's docs/DOUBT.md); above 0.25, check the mask.
   */
  doubt: number;
  /** One byte per pixel: 1 where the pixel is doubtful (the pixels `doubt` counts), else 0. */
  doubtful: Uint8Array;
  /**
   * Each class of the model's card (`Segmenter.model.classes`), background first, with its share
   * of the image: a one-class model has two entries (e.g. skin and lesion; the lesion's
   * `fraction` is `foreground`).
   */
  classAreas: ClassArea[];
  /**
   * For a multi-class model, each foreground class's doubt, 0..1 (entry `i` is class `i + 1`):
   * among the pixels marked with the class or for which it is a plausible answer, the share the
   * model is unsure of. Empty for one class (use `doubt`).
   */
  classDoubt: Float64Array;
  /**
   * `null` for an image of the kind the model was made for (`Segmenter.model.imageKind`: a colour
   * photograph of skin for the skin-lesion model, a greyscale CT slice for the lung-CT one); else
   * why it is not, with a plain-language warning to show: a greyscale CT or X-ray slice, colours
   * with no skin tones, vivid colours of an object under the skin model; a colour photograph
   * under the CT model. The mask of such an image is likely meaningless however low its `doubt`.
   * A check of the image's colours, independent of the weights (the repository's docs/DOUBT.md, "Not what this
   * model was made for"); a model of `imageKind` `other` is not checked.
   */
  outOfDomain: OutOfDomain | null;
}

/** One class's area in a mask (`Segmentation.classAreas`). */
export interface ClassArea {
  /** The class's name on the model's card. */
  name: string;
  /** Its colour on the card, `#rrggbb`. */
  colour: string;
  /** Share of the image's pixels, 0..1. */
  fraction: number;
  pixels: number;
}

/** One class of a model (`ModelCard.classes`). */
export interface ModelClass {
  /** E.g. `"lesion"`, `"ground-glass opacity"`. */
  name: string;
  /** The colour to paint it in, `#rrggbb`. */
  colour: string;
}

/**
 * What a model is for, carried in its weights file (safetensors metadata `tinyunet.card`):
 * `Segmenter.model`. Files without a card read as the skin-lesion model (one class) or as
 * numbered classes of kind `other`.
 */
export interface ModelCard {
  /** Short name: `skin-lesion`, `lung-ct`, or a user's own (`custom` for a file without a card). */
  name: string;
  /** What it segments, for a person: e.g. "Lung infection (chest CT slice)". */
  title: string;
  /**
   * The images it expects: `dermoscopy` (colour photos of skin), `ctSlice` (greyscale axial CT
   * slices in a lung window) or `other`. Decides the out-of-domain check.
   */
  imageKind: 'dermoscopy' | 'ctSlice' | 'other';
  /** Background first; a one-class (binary) network has two entries. */
  classes: ModelClass[];
  /** The side images were resized to in training. */
  inputSize: number;
  /** For CT: the Hounsfield window that maps a scan onto the grey levels it was trained on. */
  window?: CtWindow;
  /** What it was trained on. */
  trainedOn: string;
  /** The terms the weights inherit from their training data. */
  terms: string;
  /** What to cite when using it. */
  citations: string[];
  /** The fine-tune's starting learning rate when `train` is given none (absent: the core's). */
  fineTuneLearningRate?: number;
  /** The fine-tune's epochs when `train` is given none (absent: the core's). */
  fineTuneEpochs?: number;
}

/** Why an image is not the kind the model was made for (`Segmentation.outOfDomain`). */
export interface OutOfDomain {
  /**
   * Under a dermoscopy model: `'greyscale'`: no colour (CT, MRI, X-ray); `'noSkinTones'`: mostly
   * blues, greens or purples; `'vividColours'`: saturated colours skin does not have (a photo of
   * an object, a drawing). Under a CT model: `'notGreyscale'`: a colour image, not a scan.
   */
  reason: 'greyscale' | 'noSkinTones' | 'vividColours' | 'notGreyscale';
  /** The warning in words a clinician understands, e.g. "This looks like a greyscale image …". */
  message: string;
}

/** An image and its ground-truth mask (same size; foreground ≥ 128 or label values). */
export interface Sample {
  image: ImageSource;
  mask: ImageSource;
  /** Used in error messages, e.g. a file name. */
  name?: string;
}

/** Progress of `train`: `phase` says what just happened. */
export type TrainProgress = StepProgress | ScoreProgress | EpochProgress | ClassesProgress;

/**
 * The run is over and a multi-class model's classes are being scored on the `total` held-back
 * pairs, before and after (the last progress before `train` resolves).
 */
export interface ClassesProgress {
  phase: 'classes';
  total: number;
  elapsedSeconds: number;
}

/** Held-back pairs being scored: before training (`before`, epoch 0) or after an epoch (`score`). */
export interface ScoreProgress {
  phase: 'before' | 'score';
  /** Epochs trained (0 before training). */
  epoch: number;
  /** Held-back pairs scored so far, of `total`. */
  done: number;
  total: number;
  /** The mean over all held-back pairs, once the last is scored (else null). */
  heldOut: Scores | null;
  elapsedSeconds: number;
}

/** An epoch ended: its mean loss and training Dice, and the held-back scores after it. */
export interface EpochProgress {
  phase: 'epoch';
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  loss: number;
  dice: number;
  heldOut: Scores | null;
  elapsedSeconds: number;
}

/** One optimiser step. */
export interface StepProgress {
  phase: 'train';
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  /** 1-based step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  stepsDone: number;
  totalSteps: number;
  loss: number;
  /** Mean soft Dice of the batch, 0..1. */
  dice: number;
  learningRate: number;
  /** Estimated seconds left. */
  etaSeconds: number;
  elapsedSeconds: number;
}

/** Settings of `train`; left out, each takes the core's default (`Segmenter#trainingDefaults`). */
export interface TrainOptions {
  /**
   * Pairs kept out of training to judge the run by: scored before training and after every
   * epoch, and the run ends with the last epoch's weights unless an earlier epoch's or the
   * previous ones scored better on them by more than `TrainResult.tolerance` (then those). Fewer than `trainingDefaults.minReliableHeldOut` (5) give a noisy figure (`reliable`).
   */
  heldOut?: Sample[];
  /** Default `trainingDefaults.epochs`: 10, or the model card's `fineTuneEpochs` (lung-CT: 40). */
  epochs?: number;
  /** Default 4. */
  batchSize?: number;
  /**
   * Starting learning rate (cosine-annealed to `minLearningRate`). Default
   * `trainingDefaults.learningRate`: 3e-5, or the model card's `fineTuneLearningRate` (lung-CT: 3e-4).
   */
  learningRate?: number;
  /** Default 1e-6 (or `learningRate` if lower). */
  minLearningRate?: number;
  /**
   * Normalise with the model's running BatchNorm statistics instead of each batch's. Default true:
   * the statistics of a few very different photos make the training forward a worse network.
   */
  freezeBatchNorm?: boolean;
  /** Before training, re-estimate the BatchNorm running statistics on the training images. */
  adaptBatchNorm?: boolean;
  /** Re-estimate them on the training images (with the weights so far) for every evaluation and the result. */
  recalibrateBatchNorm?: boolean;
  /** With `augment`, also zoom in and out at random: lesions at other scales, in a wider field of skin. */
  zoom?: boolean;
  /** Pull of every weight towards its value before the run (L2-SP strength, 0 to 1000; 0: none). */
  anchor?: number;
  /**
   * Most samples per forward/backward pass within a step: the batch runs as micro-batches whose
   * gradients are summed before the one update — the same update for the memory of this many
   * samples (a 256² sample needs ~400 MiB of wasm memory in training). With `freezeBatchNorm`
   * only: on batch statistics a batch always runs whole. Default: the core's automatic size
   * (`trainingDefaults.microBatchPixels` pixels a pass: 1 sample at 256², 4 at 128²).
   */
  microBatch?: number;
  /** Training resolution (square, multiple of 16). Default: the segmenter's `inputSize`. */
  size?: number;
  /** The window DICOM images (of `samples` and `heldOut`) go through, as in `SegmentOptions`. */
  window?: CtWindow;
  /** Random flips, 90° rotations and brightness/contrast jitter. Default true. */
  augment?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /**
   * Aborting stops after the current unit of work; the weights kept are chosen among those scored
   * so far, as at the end (the last step's when nothing is held back).
   */
  signal?: AbortSignal;
}

export interface TrainResult {
  /** True when `signal` stopped the run early. */
  cancelled: boolean;
  /** `diverged`: the loss stopped being a number (at `divergedAtStep`); lower the learning rate. */
  stop: 'completed' | 'cancelled' | 'diverged';
  divergedAtStep: number | null;
  /**
   * The weights in use now: `last` (the last scored epoch's, `chosenEpoch`: no other weights
   * scored more than `tolerance` better on the held-back pairs; or the last step's when nothing
   * was held back), `best` (an earlier epoch's, which beat the last scored one by more than
   * `tolerance`) or `previous` (the weights from before the run beat the last epoch by more than
   * `tolerance` and no epoch beat them; or no epoch was scored: no step finished, or the run was
   * cancelled or diverged before its first epoch's score).
   */
  kept: 'last' | 'best' | 'previous';
  /**
   * Why those weights were kept, decided once in the core for every skin: `diverged`, `unscored`
   * (no epoch was scored) or `startBeatLast` (with `kept: 'previous'`); `earlierBeatLast` (with
   * `kept: 'best'`); `withinTolerance` (the previous weights or an earlier epoch scored better, by
   * no more than `tolerance`), `lastAndBest` or `nothingHeldBack` (with `kept: 'last'`).
   */
  why:
    | 'diverged'
    | 'unscored'
    | 'startBeatLast'
    | 'earlierBeatLast'
    | 'withinTolerance'
    | 'lastAndBest'
    | 'nothingHeldBack';
  /** Whether the kept weights score better than the previous ones on the held-back pairs; null when not scored. */
  improved: boolean | null;
  /** The epoch with the best held-back Dice (0: the previous weights, or nothing scored; ties: the earlier). */
  bestEpoch: number;
  /**
   * How far (mean held-back Dice) the best scored weights may lead the last epoch's and the last
   * still be kept: on a handful of held-back pairs, closer than this cannot be told apart.
   */
  tolerance: number;
  /**
   * True when the last epoch was kept although the previous weights or an earlier epoch scored
   * better (not merely as well) on the held-back pairs, by no more than `tolerance`.
   */
  withinTolerance: boolean;
  /** At least `minReliableHeldOut` pairs were held back, so before/after means something. */
  reliable: boolean;
  /** The epoch whose weights are kept (0: the previous weights). */
  chosenEpoch: number;
  /** Names of the held-back pairs, in the order of `perPair`. */
  heldOut: string[];
  /** Held-back scores of the previous weights and of the kept ones (null when not scored). */
  before: (Scores & { epoch: number; perPair: Scores[] }) | null;
  after: (Scores & { epoch: number; perPair: Scores[] }) | null;
  /** Every finished epoch's mean loss and Dice, and its held-back scores. */
  epochs: { epoch: number; loss: number; dice: number; heldOut: Scores | null }[];
  /**
   * For a multi-class model with held-back pairs: each foreground class's mean scores over the
   * held-back pairs where it is in the truth or the mask, before the run and with the weights
   * kept (null: in none). Empty for one class, with nothing held back, or when the run stopped
   * before the previous weights were scored.
   */
  classScores: { name: string; colour: string; before: Scores | null; after: Scores | null }[];
  /** True when the last step's weights differ from those kept: `useLastTrainedWeights()` takes them. */
  lastAvailable: boolean;
  stepsDone: number;
  totalSteps: number;
  /**
   * Most samples a step put through one forward/backward pass: `microBatch` (or its automatic
   * size), or `batchSize` when BatchNorm used each batch's statistics (batches then run whole).
   */
  microBatch: number;
  /** Loss and Dice of every step. */
  history: { loss: number; dice: number }[];
  seconds: number;
  /**
   * A diagnostic: the bytes of WebAssembly memory the run's instance ended with (its peak: a wasm
   * memory never shrinks). On the CPU builds the run trains in an instance of its own, in a Worker
   * ended with the run (`memoryReleased`); on WebGPU, in the segmenter's own.
   */
  memoryBytes: number | null;
  /**
   * True when the run trained in an instance of its own that is now gone, its memory given back:
   * the segmenter's `memoryBytes` stays at what inference needs. False on WebGPU (the activations
   * live in GPU buffers, given back as `gpuMemory` says), in Node, and where the training Worker
   * could not start.
   */
  memoryReleased: boolean;
  /**
   * A diagnostic, on WebGPU: bytes of GPU buffers the device's pools (cubecl's) held; null on the
   * CPU. At its end the run gives back the buffers it leaves unused, so `afterReleaseBytes` is
   * what the weights (and the page's other WebGPU segmenters) keep, and `Segmenter.gpuMemoryBytes`
   * reads the same until the next call.
   */
  gpuMemory: GpuMemoryUse | null;
}

/** A fine-tune's GPU memory (`TrainResult.gpuMemory`), in bytes of buffers the pools held. */
export interface GpuMemoryUse {
  /** When the run started (what inference and earlier calls left). */
  beforeBytes: number;
  /**
   * The most held at the end of any unit of work (a training step, a held-back pair scored): the
   * pools give a buffer back only after long disuse, so a step's own peak is still held at its end.
   */
  peakBytes: number;
  /** When the run ended, before the release. */
  afterRunBytes: number;
  /** After the buffers the run left unused were given back. */
  afterReleaseBytes: number;
}

/** The core's training defaults. */
export interface TrainingDefaults {
  epochs: number;
  batchSize: number;
  learningRate: number;
  minLearningRate: number;
  augment: boolean;
  freezeBatchNorm: boolean;
  adaptBatchNorm: boolean;
  recalibrateBatchNorm: boolean;
  zoom: boolean;
  anchor: number;
  /** null: automatic, as many samples a pass as `microBatchPixels` pixels hold. */
  microBatch: number | null;
  /** Pixels a forward/backward pass takes when `microBatch` is automatic (256²). */
  microBatchPixels: number;
  /** Fewest held-back pairs whose before/after Dice means much (5). */
  minReliableHeldOut: number;
}

export interface Scores {
  dice: number;
  iou: number;
}

/** One foreground class's scores on one pair (null where the class is in neither mask). */
export interface ClassScores {
  name: string;
  colour: string;
  dice: number | null;
  iou: number | null;
}

export interface Evaluation extends Scores {
  /**
   * For a multi-class model: each foreground class's mean over the pairs where it was scored
   * (`images` of them); empty for one class. `dice`/`iou` above are the means over pairs of each
   * pair's mean over its classes.
   */
  classScores: (ClassScores & { images: number })[];
  /** Per pair, with the model's doubt about its own mask (0..1, see `Segmentation.doubt`). */
  perImage: (Scores & { name?: string; doubt: number; outOfDomain: OutOfDomain | null; classScores: ClassScores[] })[];
}

/** A mask image read as a model's labels (`Segmenter.readMask`). */
export interface MaskLabels {
  width: number;
  height: number;
  /** One byte per pixel: 0/1 for one class, else the class index. */
  labels: Uint8Array;
  /** Share of pixels that are not background (0..1). */
  foreground: number;
}

export declare class Segmenter {
  private constructor();
  /** Creates a segmenter; rejects with an `Error` saying what is wrong. */
  static create(options?: CreateOptions): Promise<Segmenter>;
  /** The backend in use: `webgpu` or `cpu`. */
  readonly backend: 'webgpu' | 'cpu';
  /** Why `auto` (or a lost GPU) ended up on the CPU, if it did. */
  readonly fallbackReason: string | null;
  /** Why the segmenter runs where it does, whatever the choice (e.g. "WebGPU on the GPU (nvidia ada)"). */
  readonly backendReason: string;
  /** The WebGPU adapter seen when choosing; `software` names a software renderer. Null when WebGPU was not looked at. */
  readonly adapter: { vendor: string; architecture: string; software: string | null } | null;
  /**
   * What `auto` timed on a hardware GPU to choose: one warm `size`² inference on each, in ms.
   * Null when nothing was timed (another choice, no GPU or a software one, or the CPU build
   * could not be tried).
   */
  readonly backendTimings: { webgpu: number; cpu: number; size: number } | null;
  /** The build of the core that runs. */
  readonly build: Build;
  /** The threads the network runs on: the pool's size on `cpu-threads`, else 1. */
  readonly threads: number;
  /** Why that many threads (e.g. "1 thread: the page is not cross-origin isolated …"). */
  readonly threadsReason: string;
  readonly classes: number;
  /**
   * What the model is for (its card, from the weights file): name, title, the images it expects,
   * its classes' names and colours, training data, terms and citations. A fresh copy per read;
   * `loadWeights` with a file that has a card changes it.
   */
  readonly model: ModelCard;
  readonly inputSize: number;
  /** Mirrored passes averaged per image. */
  readonly flips: 1 | 2 | 4;
  /** What happens to each mask's stray pieces unless a call says otherwise. */
  readonly islands: Islands;
  /** Trainable parameters (481,105 for one class). */
  readonly parameters: number;
  /**
   * A diagnostic: the bytes of WebAssembly memory of the instance this segmenter runs in (shared
   * by the page's segmenters on the same build); null when unknown. A wasm memory never shrinks;
   * CPU fine-tuning runs in an instance of its own (`TrainResult.memoryReleased`), so this stays
   * at what inference needs after a run.
   */
  readonly memoryBytes: number | null;
  /**
   * A diagnostic, on WebGPU: the bytes of GPU buffers the device's pools (cubecl's) hold now, in
   * use or kept for reuse (shared by the page's WebGPU segmenters); null on the CPU. A fine-tune
   * gives back what it leaves unused (`TrainResult.gpuMemory`). Answers even while a call runs.
   */
  readonly gpuMemoryBytes: number | null;
  /** What `train` uses for each setting left out, for this model: the core's defaults, with the
   * model card's `fineTuneLearningRate` and `fineTuneEpochs` when it has them (the lung-CT model:
   * 3e-4 and 40 epochs). */
  readonly trainingDefaults: TrainingDefaults;
  /**
   * Runs the network on blank input so that the first real call is fast (the browser's optimised
   * wasm code, or the GPU pipelines, get compiled; on the CPU the wasm heap is first grown to what
   * an inference at `inputSize` needs, up to 256 MiB). On the CPU it stops as soon as another call is made,
   * delaying it by one small step at most. Resolves to the number of runs made.
   */
  warmUp(): Promise<number>;
  /** Segments one image of any size (up to 8192 px a side and 40 megapixels). */
  segment(image: ImageSource, options?: SegmentOptions): Promise<Segmentation>;
  /**
   * Fine-tunes on `{image, mask}` pairs; with `heldOut` pairs, ends with the last epoch's weights
   * unless others scored clearly better on them (never worse than before by more than `tolerance`).
   */
  train(samples: Sample[], options?: TrainOptions): Promise<TrainResult>;
  /** After a run that kept other weights, takes its last step's; false when there are none. */
  useLastTrainedWeights(): Promise<boolean>;
  /** Dice and IoU on `{image, mask}` pairs (DICOM images through `options.window`, as `segment`). */
  evaluate(samples: Sample[], options?: { window?: CtWindow }): Promise<Evaluation>;
  /**
   * Reads a mask image as this model's labels, by the rule training and scoring use (alpha < 128
   * is background; else the brightest of R, G, B: lesion from 128, or from 1 in a 0/1 mask; a
   * mask drawn only in alpha is read from alpha; class indices for several classes). With
   * `options.image`, the sizes must match; `options.name` names the pair in errors; a DICOM
   * `options.image` goes through `options.window`, as in `segment`.
   */
  readMask(mask: ImageSource, options?: { image?: ImageSource; name?: string; window?: CtWindow }): Promise<MaskLabels>;
  /**
   * The current weights as safetensors bytes (the PyTorch reference's names), with the model's card:
   * a fresh, unshared buffer, so it goes straight into a `Blob` or a `Response` (typed as such for
   * TypeScript 5.7 and later).
   */
  exportWeights(): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * Replaces the weights (safetensors or `.pth`), and `model` with the file's card when it has
   * one; on error the current weights stay.
   */
  loadWeights(weights: WeightsSource): Promise<void>;
  /** Frees the model's memory; the segmenter is unusable afterwards. */
  dispose(): void;
}

/**
 * What a DICOM slice's header says (`decodeImage(...).dicom`): geometry, encoding and the values
 * that turn its stored pixels into Hounsfield units. It never holds patient data.
 */
export interface DicomInfo {
  rows: number;
  columns: number;
  /** `CT`, `MR`…, or null when the file does not say. */
  modality: string | null;
  /** The transfer syntax's name, e.g. "Explicit VR Little Endian", and its UID. */
  transferSyntax: string;
  transferSyntaxUid: string;
  /** `MONOCHROME2`, or `MONOCHROME1` (low values bright: shown inverted). */
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  /** Hounsfield units = stored × rescaleSlope + rescaleIntercept. */
  rescaleSlope: number;
  rescaleIntercept: number;
  /** The slice's own display window (its first Window Center/Width), or null. */
  sliceWindow: { center: number; width: number } | null;
  /** Pixel Spacing in mm: between rows, then between columns; null when the file does not say. */
  pixelSpacing: [number, number] | null;
  /** The window the pixels were made with (HU). */
  window: CtWindow;
}

/** Decoded pixels: RGBA, and for a DICOM file its description. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** Present for a DICOM file. */
  dicom?: DicomInfo;
}

/**
 * Decodes an image source to RGBA pixels (what `segment` does first). A DICOM Part 10 file (one
 * greyscale slice: uncompressed little endian, explicit or implicit VR, or baseline JPEG) is
 * rescaled to Hounsfield units and mapped to grey through `options.window` (default: the lung
 * window, level −600 HU, width 1500 HU) at its own size; other transfer syntaxes, multi-frame,
 * colour and truncated files are `input` errors that say which. Reading DICOM loads the CPU build
 * of the core when no build is loaded yet.
 */
export declare function decodeImage(
  image: ImageSource,
  what?: string,
  options?: { window?: CtWindow },
): Promise<DecodedImage>;

/**
 * Starts fetching and compiling the build of the core that `backend` needs in this browser, so
 * that a later `Segmenter.create` with the same `backend` and `wasmUrls` finds it ready (call it
 * when the page loads, while you fetch the weights). Resolves to the build: `cpu`, `cpu-threads` or
 * `webgpu` (the threaded build's pool is started too, of `threads` Workers). `onProgress` is told
 * of the `.wasm` download (`LoadProgress`).
 */
export declare function preload(
  options?: Pick<CreateOptions, 'backend' | 'wasmUrls' | 'threads' | 'onProgress'>,
): Promise<Build>;

/** Largest accepted image side in pixels. */
export declare const MAX_SIDE: number;
/** Largest accepted image area in pixels. */
export declare const MAX_PIXELS: number;
