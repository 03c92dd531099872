/**
 * tinyunet: TinyU-Net segmentation in the browser, on WebGPU or the CPU (WebAssembly).
 * Everything runs locally; no pixel leaves the page.
 */

/** Which compute backend to use. `auto` tries WebGPU and falls back to the CPU. */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** Anything that holds an image. Encoded bytes must be PNG or JPEG. */
export type ImageSource =
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | Blob
  | ArrayBuffer
  | Uint8Array
  | { data: Uint8Array | Uint8ClampedArray; width: number; height: number };

/**
 * Weights: safetensors bytes (ours or the PyTorch reference's names) or a PyTorch `.pth` state_dict,
 * as bytes, a Blob or a fetch `Response` (a non-2xx one is a `weights:` error), or a promise of one:
 * `Segmenter.create({ weights: fetch(url) })` downloads them while the core compiles.
 */
export type WeightsSource = ArrayBuffer | Uint8Array | Blob | Response | PromiseLike<ArrayBuffer | Uint8Array | Blob | Response>;

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
   * Where each build of the core's `.wasm` is, if not next to this module (e.g. when a bundler
   * moves it): `cpu` (`wasm/tinyunet_cpu_bg.wasm`, CPU only, small) and `webgpu`
   * (`wasm/tinyunet_webgpu_bg.wasm`, WebGPU with the CPU as its fallback). Only the build that
   * the chosen backend needs is fetched.
   */
  wasmUrls?: { cpu?: string | URL; webgpu?: string | URL };
}

export interface SegmentOptions {
  /** Also return per-class probabilities. Default false. */
  probabilities?: boolean;
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
  /** Fraction of pixels marked as foreground, 0..1. */
  foreground: number;
  /** Mean probability of the marked class over the marked pixels, 0..1. */
  confidence: number;
}

/** An image and its ground-truth mask (same size; foreground ≥ 128 or label values). */
export interface Sample {
  image: ImageSource;
  mask: ImageSource;
  /** Used in error messages, e.g. a file name. */
  name?: string;
}

export interface TrainProgress {
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

export interface TrainOptions {
  /** Default 10. */
  epochs?: number;
  /** Default 4. */
  batchSize?: number;
  /** Starting learning rate (cosine-annealed to `minLearningRate`). Default 1e-4. */
  learningRate?: number;
  /** Default 1e-6. */
  minLearningRate?: number;
  /** Training resolution (square, multiple of 16). Default: the segmenter's `inputSize`. */
  size?: number;
  /** Random flips, 90° rotations and brightness/contrast jitter. Default true. */
  augment?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** Aborting stops after the current step; the weights of the last finished step are kept. */
  signal?: AbortSignal;
}

export interface TrainResult {
  /** True when `signal` stopped the run early. */
  cancelled: boolean;
  stepsDone: number;
  totalSteps: number;
  /** Loss and Dice of every step. */
  history: { loss: number; dice: number }[];
  seconds: number;
}

export interface Scores {
  dice: number;
  iou: number;
}

export interface Evaluation extends Scores {
  perImage: (Scores & { name?: string })[];
}

export declare class Segmenter {
  private constructor();
  /** Creates a segmenter; rejects with an `Error` saying what is wrong. */
  static create(options?: CreateOptions): Promise<Segmenter>;
  /** The backend in use: `webgpu` or `cpu`. */
  readonly backend: 'webgpu' | 'cpu';
  /** Why `auto` (or a lost GPU) ended up on the CPU, if it did. */
  readonly fallbackReason: string | null;
  readonly classes: number;
  readonly inputSize: number;
  /** Trainable parameters (481,105 for one class). */
  readonly parameters: number;
  /**
   * Runs the network on blank input so that the first real call is fast (the browser's optimised
   * wasm code, or the GPU pipelines, get compiled; on the CPU the wasm heap is first grown to what
   * an inference at `inputSize` needs, up to 256 MiB). On the CPU it stops as soon as another call is made,
   * delaying it by one small step at most. Resolves to the number of runs made.
   */
  warmUp(): Promise<number>;
  /** Segments one image of any size (up to 8192 px a side and 40 megapixels). */
  segment(image: ImageSource, options?: SegmentOptions): Promise<Segmentation>;
  /** Fine-tunes on `{image, mask}` pairs. */
  train(samples: Sample[], options?: TrainOptions): Promise<TrainResult>;
  /** Dice and IoU on `{image, mask}` pairs. */
  evaluate(samples: Sample[]): Promise<Evaluation>;
  /** The current weights as safetensors bytes (the PyTorch reference's names). */
  exportWeights(): Promise<Uint8Array>;
  /** Replaces the weights (safetensors or `.pth`); on error the current weights stay. */
  loadWeights(weights: WeightsSource): Promise<void>;
  /** Frees the model's memory; the segmenter is unusable afterwards. */
  dispose(): void;
}

/** Decodes an image source to RGBA pixels (what `segment` does first). */
export declare function decodeImage(
  image: ImageSource,
  what?: string,
): Promise<{ data: Uint8Array; width: number; height: number }>;

/** URL of the demo weights shipped with the package (trained on generated dermoscopy-like images). */
export declare const demoWeightsUrl: URL;

/**
 * Starts fetching and compiling the build of the core that `backend` needs in this browser, so
 * that a later `Segmenter.create` with the same `backend` and `wasmUrls` finds it ready (call it
 * when the page loads, while you fetch the weights). Resolves to the build: `cpu` or `webgpu`.
 */
export declare function preload(options?: Pick<CreateOptions, 'backend' | 'wasmUrls'>): Promise<'cpu' | 'webgpu'>;

/** Largest accepted image side in pixels. */
export declare const MAX_SIDE: number;
/** Largest accepted image area in pixels. */
export declare const MAX_PIXELS: number;
