// The npm package (pkg/) in headless Chromium, on the CPU backend and on WebGPU (SwiftShader):
// the PyTorch reference fixture, odd-sized images, training with cancel, weights round trips,
// every bad input of pkg/README.md, the README's own example, a Web Worker and a Vite bundle.
//
// Run: cd tests/browser && node --test --test-concurrency=1 package.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, onHelpersPage, evaluateWithTimeout } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = path.join(ROOT, 'pkg');
const SLOW = 900_000; // per test: SwiftShader is a CPU pretending to be a GPU
// Small working sizes keep SwiftShader runs to seconds; the code paths are the same at 256.
const GPU_SIZE = 64;

/** The README's JS example, as written. */
function readmeExample() {
  const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
  const match = readme.match(/```js\n([\s\S]*?)```/);
  assert.ok(match, 'pkg/README.md has no ```js example');
  return match[1];
}

let server;
let browser;

before(async () => {
  assert.ok(
    fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')) && fs.existsSync(path.join(PKG, 'wasm/tinyunet_webgpu.js')),
    'pkg/wasm/ is missing: run ./build.sh pkg first',
  );
  const sample = fs.readFileSync(path.join(ROOT, 'www/samples/sample-1.jpg'));
  const sampleMask = fs.readFileSync(path.join(ROOT, 'www/samples/sample-1_mask.png'));
  const second = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010206.jpg'));
  const secondMask = fs.readFileSync(path.join(ROOT, 'www/samples/isic-0010206_mask.png'));
  server = await startServer({
    root: path.join(HERE, 'package-pages'),
    mounts: {
      '/pkg/': PKG,
      '/fixtures/': path.join(ROOT, 'tests/fixtures/reference'),
      '/local-fixtures/': path.join(ROOT, 'tests/fixtures'),
    },
    routes: {
      // What the README example fetches, and the example itself as a module of this origin.
      '/lesion.jpg': { body: sample, type: 'image/jpeg' },
      '/lesion_mask.png': { body: sampleMask, type: 'image/png' },
      '/lesion-2.jpg': { body: second, type: 'image/jpeg' },
      '/lesion-2_mask.png': { body: secondMask, type: 'image/png' },
      '/readme-example.js': { body: readmeExample(), type: 'text/javascript' },
    },
  });
  browser = await launchBrowser({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page on the test site with helpers loaded; `fn` gets it and the console log. */
const onPage = (fn) => onHelpersPage(browser, server, fn);

const run = (page, fn, arg) => evaluateWithTimeout(page, fn, arg, SLOW);

describe('the PyTorch reference fixture in the browser', () => {
  for (const [backend, tolerance] of [
    ['cpu', 1e-4],
    ['webgpu', 1e-3],
  ]) {
    test(
      `eval logits match PyTorch on ${backend} (max abs ≤ ${tolerance}), from .safetensors and .pth`,
      { timeout: SLOW },
      async () => {
        const results = await onPage((page) =>
          run(
            page,
            async (backend) => {
              const caseFile = window.parseSafetensors(
                (await window.fetchBytes('/fixtures/tinyunet_c1_s1_64x64.case.safetensors')).buffer,
              );
              const out = {};
              for (const ext of ['safetensors', 'pth']) {
                const weights = await window.fetchBytes(`/fixtures/tinyunet_c1_s1_64x64.weights.${ext}`);
                await window.tinyunet.Segmenter.create({ backend }); // loads this backend's wasm module
                const core = await window.glue[backend].WasmSegmenter.create(backend, { inputSize: 64 }, weights);
                const logits = await core.logits(caseFile.input.data, caseFile.input.shape);
                out[ext] = { backend: core.backend, diff: window.maxAbsDiff(logits, caseFile.eval_logits.data) };
                core.free();
              }
              return out;
            },
            backend,
          ),
        );
        for (const [ext, r] of Object.entries(results)) {
          assert.equal(r.backend, backend);
          console.log(`reference logits via .${ext} on ${backend}: max abs diff ${r.diff.toExponential(3)}`);
          assert.ok(r.diff <= tolerance, `.${ext} on ${backend}: logits differ by ${r.diff}`);
        }
      },
    );
  }
});

test('an odd-sized image gets a mask of its own size, and CPU and WebGPU agree', { timeout: SLOW }, async () => {
  const r = await onPage((page) =>
    run(
      page,
      async (size) => {
        const weights = await window.fetchBytes('/fixtures/tinyunet_c1_s1_64x64.weights.safetensors');
        const image = window.blobImage(601, 449);
        const out = {};
        for (const backend of ['cpu', 'webgpu']) {
          const seg = await window.tinyunet.Segmenter.create({ backend, weights, inputSize: size });
          const result = await seg.segment(image, { probabilities: true });
          out[backend] = {
            backend: seg.backend,
            width: result.width,
            height: result.height,
            mask: result.mask,
            probabilities: result.probabilities,
          };
        }
        const diff = window.maxAbsDiff(out.cpu.probabilities, out.webgpu.probabilities);
        // Pixels may only disagree where the probability sits at the threshold.
        let disagreements = 0;
        out.cpu.mask.forEach((m, i) => {
          if (m !== out.webgpu.mask[i] && Math.abs(out.cpu.probabilities[i] - 0.5) > 1e-3) disagreements++;
        });
        return {
          sizes: [out.cpu.width, out.cpu.height, out.webgpu.width, out.webgpu.height, out.cpu.mask.length],
          backends: [out.cpu.backend, out.webgpu.backend],
          diff,
          disagreements,
        };
      },
      GPU_SIZE,
    ),
  );
  assert.deepEqual(r.backends, ['cpu', 'webgpu']);
  assert.deepEqual(r.sizes, [601, 449, 601, 449, 601 * 449]);
  console.log(`601×449: CPU vs WebGPU probabilities differ by at most ${r.diff.toExponential(3)}`);
  assert.ok(r.diff <= 1e-3, `probabilities differ by ${r.diff}`);
  assert.equal(r.disagreements, 0);
});

describe('training in the browser', () => {
  for (const backend of ['cpu', 'webgpu']) {
    test(
      `on ${backend}: the loss falls, cancel keeps the last finished step (nothing held back), export → create gives the same output, the GPU pools are reported and given back`,
      { timeout: SLOW },
      async () => {
        const r = await onPage((page) =>
          run(
            page,
            async (backend) => {
              const { Segmenter } = window.tinyunet;
              const samples = [1, 2].map((seed) => ({
                image: window.blobImage(80, 72, seed),
                mask: window.blobMask(80, 72, seed),
                name: `blob-${seed}`,
              }));
              const seg = await Segmenter.create({ backend, inputSize: 32 });
              // The GPU pools' figures (gpuMemoryBytes; the run's gpuMemory) are read from the same
              // run: on SwiftShader each page that trains on WebGPU first compiles every training
              // kernel (about a minute of a CI run), so the pools are checked here, not on a page
              // of their own.
              await seg.segment(window.blobImage(48, 48, 9));
              const poolsBefore = seg.gpuMemoryBytes;
              const poolsDuring = [];
              const progress = [];
              // Few steps: on SwiftShader a training step takes half a minute (it is a CPU posing as a
              // GPU; the step is dispatch-bound), and this test once took seven minutes of a CI run.
              const run = await seg.train(samples, {
                epochs: 4,
                batchSize: 2,
                learningRate: 5e-3,
                minLearningRate: 1e-3,
                size: 32,
                augment: false,
                onProgress: (p) => {
                  if (p.phase !== 'train') return;
                  progress.push(p);
                  poolsDuring.push(seg.gpuMemoryBytes);
                },
              });
              const pools = {
                before: poolsBefore,
                during: poolsDuring,
                after: seg.gpuMemoryBytes,
                run: run.gpuMemory,
                released: run.memoryReleased,
              };
              // Cancel in the middle of an epoch: 2 samples in batches of 1.
              const before = await seg.exportWeights();
              const controller = new AbortController();
              const cancelled = await seg.train(samples, {
                epochs: 50,
                batchSize: 1,
                size: 32,
                onProgress: (p) => {
                  if (p.stepsDone === 1) controller.abort();
                },
                signal: controller.signal,
              });
              const after = await seg.exportWeights();
              const changed = before.length !== after.length || before.some((b, i) => b !== after[i]);
              // The exported weights make an identical segmenter.
              const image = window.blobImage(50, 40, 3);
              const a = await seg.segment(image, { probabilities: true });
              const copy = await Segmenter.create({ backend, weights: after, inputSize: 32 });
              const b = await copy.segment(image, { probabilities: true });
              return {
                backend: seg.backend,
                losses: run.history.map((h) => h.loss),
                stepsDone: run.stepsDone,
                progress: progress.map((p) => [
                  p.epoch,
                  p.step,
                  p.stepsDone,
                  p.totalSteps,
                  Number.isFinite(p.etaSeconds),
                ]),
                cancelled: [cancelled.cancelled, cancelled.stepsDone, cancelled.totalSteps, cancelled.kept],
                kept: [run.kept, run.improved, run.epochs.length],
                changed,
                sameOutput: window.maxAbsDiff(a.probabilities, b.probabilities),
                pools,
              };
            },
            backend,
          ),
        );
        assert.equal(r.backend, backend);
        console.log(`${backend}: loss ${r.losses.map((l) => l.toFixed(3)).join(' → ')}`);
        assert.equal(r.stepsDone, 4);
        assert.deepEqual(r.progress[0], [1, 1, 1, 4, true]);
        assert.deepEqual(r.progress.at(-1), [4, 1, 4, 4, true]);
        assert.ok(r.losses.at(-1) < 0.8 * r.losses[0], `loss did not fall: ${r.losses}`);
        assert.deepEqual(r.cancelled, [true, 1, 100, 'last']);
        // Nothing held back: the run ends with its last weights, unjudged.
        assert.deepEqual(r.kept, ['last', null, 4]);
        assert.ok(r.changed, 'the cancelled run did not keep its finished steps');
        assert.equal(r.sameOutput, 0);
        checkPools(backend, r.pools);
      },
    );
  }
});

/**
 * On WebGPU a run reports the GPU pools' buffers (`gpuMemory`) and gives back what it left unused,
 * and the segmenter says what its pools hold (`gpuMemoryBytes`) before, during and after it; the
 * run stays in the segmenter's instance (its activations are GPU buffers), so no wasm memory is
 * given back. The CPU has no pools, and its run's own instance is dropped
 * (memory-release.test.mjs). No sizes of this machine are asserted: only before against after.
 */
function checkPools(backend, pools) {
  if (backend === 'cpu') {
    assert.deepEqual([pools.before, pools.after, pools.run, pools.released], [null, null, null, true]);
    assert.ok(
      pools.during.every((n) => n === null),
      `gpuMemoryBytes on the CPU: ${pools.during}`,
    );
    return;
  }
  const mib = (n) => (n / 2 ** 20).toFixed(1);
  const g = pools.run ?? {};
  console.log(
    `WebGPU pools (MiB): ${mib(pools.before)} after an inference; run ${mib(g.beforeBytes)} → peak ${mib(g.peakBytes)} → end ${mib(g.afterRunBytes)} → released ${mib(g.afterReleaseBytes)}; ${mib(pools.after)} after`,
  );
  const positive = (what, n) => assert.ok(Number.isInteger(n) && n > 0, `${what}: ${n}`);
  positive('gpuMemoryBytes after an inference', pools.before);
  assert.equal(pools.during.length, 4);
  for (const n of pools.during) positive('gpuMemoryBytes while the run is going', n);
  positive('gpuMemoryBytes after the run', pools.after);
  assert.ok(pools.run, 'a WebGPU run reported no gpuMemory');
  for (const key of ['beforeBytes', 'peakBytes', 'afterRunBytes', 'afterReleaseBytes']) positive(key, pools.run[key]);
  assert.ok(pools.run.peakBytes >= pools.run.afterRunBytes, JSON.stringify(pools.run));
  assert.ok(pools.run.peakBytes >= pools.run.beforeBytes, JSON.stringify(pools.run));
  // The release: what the run's end held, no more.
  assert.ok(pools.run.afterReleaseBytes <= pools.run.afterRunBytes, JSON.stringify(pools.run));
  assert.equal(pools.released, false);
}

test('a lost GPU device: the segmenter moves to the CPU with its weights and says so', { timeout: SLOW }, async () => {
  const r = await onPage((page) =>
    run(
      page,
      async (size) => {
        // Keep every GPUDevice the page opens, to end them the way a GPU process crash or a driver
        // reset would: `destroy()` loses the device for good.
        const devices = [];
        const requestDevice = GPUAdapter.prototype.requestDevice;
        GPUAdapter.prototype.requestDevice = async function (...args) {
          const device = await requestDevice.apply(this, args);
          devices.push(device);
          return device;
        };
        const weights = await window.fetchBytes('/fixtures/tinyunet_c1_s1_64x64.weights.safetensors');
        const seg = await window.tinyunet.Segmenter.create({ backend: 'webgpu', weights, inputSize: size });
        const image = window.blobImage(97, 75);
        const backendBefore = seg.backend;
        const before = await seg.segment(image, { probabilities: true });
        for (const device of devices) device.destroy();
        let message = null;
        try {
          await seg.segment(image);
        } catch (e) {
          message = e.message;
        }
        const after = await seg.segment(image, { probabilities: true });
        return {
          devices: devices.length,
          backendBefore,
          backendAfter: seg.backend,
          message,
          fallbackReason: seg.fallbackReason,
          diff: window.maxAbsDiff(before.probabilities, after.probabilities),
        };
      },
      GPU_SIZE,
    ),
  );
  console.log(
    `lost device: "${r.message}"; then on ${r.backendAfter}, probabilities differ by ${r.diff.toExponential(3)}`,
  );
  assert.equal(r.backendBefore, 'webgpu');
  assert.ok(r.devices >= 1, 'no GPUDevice was opened');
  assert.match(r.message ?? '', /switched to the CPU, weights intact/);
  assert.equal(r.backendAfter, 'cpu');
  assert.match(r.fallbackReason ?? '', /GPU failed/);
  assert.ok(r.diff <= 1e-3, `the CPU gives other probabilities than the GPU did: ${r.diff}`);
});

test(
  'every bad input of the README gets a clear error, and the segmenter carries on unchanged',
  { timeout: SLOW },
  async () => {
    const r = await onPage((page) =>
      run(page, async () => {
        const { Segmenter } = window.tinyunet;
        const { errorOf, blobImage, blobMask, pngBytes } = window;
        const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
        const weightsBefore = await seg.exportWeights();
        const good = blobImage(40, 30);
        const png = await pngBytes(good);
        const hugePng = png.slice();
        new DataView(hugePng.buffer).setUint32(16, 10000); // IHDR width
        const errors = {
          corrupt: await errorOf(() => seg.segment(png.slice(0, 60))),
          notImage: await errorOf(() => seg.segment(new TextEncoder().encode('just some text, no image here'))),
          huge: await errorOf(() => seg.segment(hugePng)),
          badRgba: await errorOf(() => seg.segment({ data: new Uint8Array(10), width: 4, height: 4 })),
          unsupported: await errorOf(() => seg.segment(42)),
          maskSize: await errorOf(() =>
            seg.train([{ image: good, mask: blobMask(20, 20), name: 'lesion' }], { size: 32 }),
          ),
          noMask: await errorOf(() => seg.train([{ image: good, name: 'lonely' }], { size: 32 })),
          noSamples: await errorOf(() => seg.train([], {})),
          epochs: await errorOf(() => seg.train([{ image: good, mask: blobMask(40, 30) }], { epochs: 0 })),
          learningRate: await errorOf(() => seg.train([{ image: good, mask: blobMask(40, 30) }], { learningRate: -1 })),
          heldOutType: await errorOf(() =>
            seg.train([{ image: good, mask: blobMask(40, 30) }], { heldOut: 'the last two' }),
          ),
          heldOutSize: await errorOf(() =>
            seg.train([{ image: good, mask: blobMask(40, 30) }], {
              size: 32,
              heldOut: [{ image: good, mask: blobMask(20, 20), name: 'held' }],
            }),
          ),
          unknownOption: await errorOf(() => seg.train([{ image: good, mask: blobMask(40, 30) }], { epoch: 2 })),
          freezeType: await errorOf(() =>
            seg.train([{ image: good, mask: blobMask(40, 30) }], { freezeBatchNorm: 'yes' }),
          ),
          flips: await errorOf(() => Segmenter.create({ backend: 'cpu', flips: 3 })),
          truncatedWeights: await errorOf(() => seg.loadWeights(weightsBefore.slice(0, 5000))),
          garbageWeights: await errorOf(() => seg.loadWeights(new Uint8Array(4096).fill(7))),
          otherNetwork: await errorOf(async () =>
            seg.loadWeights(await window.fetchBytes('/local-fixtures/weights/small.safetensors')),
          ),
          twoClasses: await errorOf(async () => {
            const two = await Segmenter.create({ backend: 'cpu', classes: 2, inputSize: 32 });
            await seg.loadWeights(await two.exportWeights());
          }),
          backend: await errorOf(() => Segmenter.create({ backend: 'tpu' })),
          inputSize: await errorOf(() => Segmenter.create({ inputSize: 100 })),
          createWeights: await errorOf(() => Segmenter.create({ backend: 'cpu', weights: new Uint8Array([1, 2, 3]) })),
          weightsNotFound: await errorOf(() =>
            Segmenter.create({ backend: 'cpu', weights: fetch('/no-such-weights.safetensors') }),
          ),
          weightsFetchFailed: await errorOf(() =>
            Segmenter.create({ backend: 'cpu', weights: Promise.reject(new TypeError('Failed to fetch')) }),
          ),
          loadNotFound: await errorOf(() => seg.loadWeights(fetch('/no-such-weights.safetensors'))),
          oldWasmUrl: await errorOf(() => Segmenter.create({ backend: 'cpu', wasmUrl: '/x.wasm' })),
          wasmUrls: await errorOf(() => Segmenter.create({ backend: 'cpu', wasmUrls: { gpu: '/x.wasm' } })),
          gpuInCpuBuild: await errorOf(() =>
            window.glue.cpu.WasmSegmenter.create('webgpu', { inputSize: 32 }, undefined),
          ),
          coreUnknownOption: await errorOf(() =>
            window.glue.cpu.WasmSegmenter.create('cpu', { inputSize: 32, size: 64 }, undefined),
          ),
          coreBadImage: await errorOf(() =>
            seg.evaluate([{ image: good, mask: { data: new Uint8Array(16), width: 2, height: 2 }, name: 'tiny' }]),
          ),
          readMaskSize: await errorOf(() => seg.readMask(blobMask(20, 20), { image: good, name: 'lesion' })),
        };
        const weightsAfter = await seg.exportWeights();
        const still = await seg.segment(png);
        return {
          errors,
          unchanged:
            weightsBefore.length === weightsAfter.length && weightsBefore.every((b, i) => b === weightsAfter[i]),
          stillWorks: [still.width, still.height],
        };
      }),
    );
    const expect = {
      corrupt: /^input: image: the PNG data is corrupt or truncated/,
      notImage: /^input: image: not a PNG, JPEG or DICOM image, nor WebP, GIF or BMP \(unrecognised file signature\)$/,
      huge: /^input: image: 10000×30 pixels is too large/,
      badRgba: /^input: image: 4×4 RGBA needs 64 bytes, got 10/,
      unsupported: /^input: image: unsupported image type/,
      maskSize: /^input: lesion: the mask is 20×20 but the image is 40×30; they must match/,
      noMask: /^input: lonely: each sample needs an image and a mask/,
      noSamples: /^input: train\(\) needs a non-empty array/,
      epochs: /^config: epochs must be an integer from 1 to 10000, got 0/,
      learningRate: /^config: learningRate must be a number/,
      heldOutType: /^input: heldOut must be an array of \{image, mask\} samples/,
      heldOutSize: /^input: held: the mask is 20×20 but the image is 40×30; they must match/,
      unknownOption: /^config: unknown training option "epoch"; the options are /,
      freezeType: /^config: freezeBatchNorm must be true or false, got "yes"/,
      flips: /^config: flips must be 1 \(no mirroring\), 2 \(left-right\) or 4/,
      truncatedWeights: /^weights: /,
      garbageWeights: /^weights: /,
      otherNetwork: /^weights: .*missing/,
      twoClasses: /^weights: `final_conv\.bias` has shape \[2\], the model needs \[1\].*2 class\(es\)/,
      backend: /^config: backend must be "auto", "webgpu" or "cpu", got "tpu"/,
      inputSize: /^config: inputSize must be a multiple of 16, got 100/,
      createWeights: /^weights: the file is only 3 bytes long/,
      weightsNotFound:
        /^weights: the server answered 404( Not Found)? for http:\/\/127\.0\.0\.1:\d+\/no-such-weights\.safetensors$/,
      weightsFetchFailed: /^weights: they could not be loaded: Failed to fetch$/,
      loadNotFound: /^weights: the server answered 404/,
      oldWasmUrl: /^config: wasmUrl was replaced by wasmUrls: \{ cpu, webgpu \}/,
      wasmUrls: /^config: wasmUrls must be an object with the keys "cpu", "cpu-threads" and\/or "webgpu"/,
      gpuInCpuBuild: /^backend: this build has no GPU backend/,
      coreUnknownOption: /^config: segmenter options: unknown field `size`/,
      coreBadImage: /^input: tiny: the mask is 2×2 but the image is 40×30; they must match/,
      readMaskSize: /^input: lesion: the mask is 20×20 but the image is 40×30; they must match/,
    };
    for (const [name, pattern] of Object.entries(expect)) {
      const e = r.errors[name];
      assert.ok(e, `${name}: no error was thrown`);
      assert.ok(e.isError, `${name}: a non-Error was thrown: ${e.message}`);
      assert.match(e.message, pattern, name);
      // Programs branch on `kind`, the message's first word, whether the package or the core threw.
      assert.equal(e.kind, pattern.source.match(/^\^(\w+):/)[1], `${name}: kind ${e.kind} for "${e.message}"`);
    }
    assert.ok(r.unchanged, 'a failed call changed the weights');
    assert.deepEqual(r.stillWorks, [40, 30]);
  },
);

test(
  "readMask reads masks by the core's rule, and the package checks with the core's limits",
  { timeout: SLOW },
  async () => {
    const r = await onPage((page) =>
      run(page, async () => {
        const { Segmenter, MAX_SIDE, MAX_PIXELS } = window.tinyunet;
        const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
        const two = await Segmenter.create({ backend: 'cpu', classes: 2, inputSize: 32 });
        // 4×2 masks, one per rule: 0/255, 0/1, drawn only in alpha, and class indices.
        const rgba = (pixels) => ({ data: new Uint8Array(pixels.flat()), width: 4, height: 2 });
        const gray = (values) => rgba(values.map((v) => [v, v, v, 255]));
        const read = async (s, mask) => {
          const m = await s.readMask(mask);
          return { labels: Array.from(m.labels), foreground: m.foreground, width: m.width, height: m.height };
        };
        const limits = window.glue.cpu.limits();
        return {
          white: await read(seg, gray([0, 255, 255, 0, 0, 0, 130, 127])),
          zeroOne: await read(seg, gray([0, 1, 1, 0, 0, 0, 1, 0])),
          alphaOnly: await read(
            seg,
            rgba([
              [0, 0, 0, 255],
              [0, 0, 0, 0],
              [0, 0, 0, 0],
              [0, 0, 0, 255],
              [0, 0, 0, 0],
              [0, 0, 0, 0],
              [0, 0, 0, 0],
              [0, 0, 0, 0],
            ]),
          ),
          classes: await read(two, gray([0, 1, 1, 0, 0, 0, 0, 1])),
          badClass: await window.errorOf(() => two.readMask(gray([0, 2, 1, 0, 0, 0, 0, 1]), { name: 'labels.png' })),
          // Class indices under a one-class model would read as no lesion at all: refused.
          labelsForOneClass: await window.errorOf(() =>
            seg.readMask(gray([0, 2, 2, 0, 0, 0, 0, 1]), { name: 'ct.png' }),
          ),
          limits,
          constants: { MAX_SIDE, MAX_PIXELS },
          tooBig: await window.errorOf(() =>
            seg.train([{ image: window.blobImage(40, 30), mask: window.blobMask(40, 30) }], {
              size: limits.maxInputSize + limits.sizeMultiple,
            }),
          ),
          tooManyEpochs: await window.errorOf(() =>
            seg.train([{ image: window.blobImage(40, 30), mask: window.blobMask(40, 30) }], {
              epochs: limits.maxEpochs + 1,
            }),
          ),
        };
      }),
    );
    assert.deepEqual(r.white, { labels: [0, 1, 1, 0, 0, 0, 1, 0], foreground: 3 / 8, width: 4, height: 2 });
    assert.deepEqual(r.zeroOne.labels, [0, 1, 1, 0, 0, 0, 1, 0]);
    assert.deepEqual(r.alphaOnly.labels, [1, 0, 0, 1, 0, 0, 0, 0]);
    assert.deepEqual(r.classes, { labels: [0, 1, 1, 0, 0, 0, 0, 1], foreground: 3 / 8, width: 4, height: 2 });
    assert.equal(r.badClass.kind, 'input');
    assert.match(r.badClass.message, /^input: labels\.png \(mask\): mask value 2 is not a class index/);
    assert.equal(r.labelsForOneClass.kind, 'input');
    assert.match(
      r.labelsForOneClass.message,
      /^input: ct\.png \(mask\): the mask's largest value is 2, so a one-class model/,
    );
    // The two limits image.js must know before any module is loaded are the core's.
    assert.deepEqual(r.constants, { MAX_SIDE: r.limits.maxSide, MAX_PIXELS: r.limits.maxPixels });
    assert.deepEqual(r.limits.flips, [1, 2, 4]);
    assert.equal(r.limits.maxInputSize, 1024);
    assert.match(r.tooBig.message, /^config: size must be an integer from 16 to 1024, got 1040/);
    assert.match(r.tooManyEpochs.message, /^config: epochs must be an integer from 1 to 10000, got 10001/);
  },
);

test("the README's example runs as written", { timeout: SLOW }, async () => {
  await onPage(async (page, log) => {
    await run(page, async () => {
      await import('/readme-example.js');
    });
    const text = log.messages.map((m) => m.text).join('\n');
    assert.match(text, /running on (webgpu|cpu)/);
    assert.match(text, /320×320 mask, lesion \d+(\.\d)?% of the image/);
    assert.match(text, /epoch 2\/2 loss \d\.\d{3}, \d+ s left/);
    assert.match(text, /trained 2 steps; held-back Dice \d\.\d{3} → \d\.\d{3}, kept the (last|best|previous) weights/);
    assert.match(text, /reloaded: 481105 parameters/);
    assert.deepEqual(log.errors, []);
  });
});

for (const backend of ['cpu', 'webgpu']) {
  test(`the package works inside a module Web Worker on ${backend}`, { timeout: SLOW }, async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}worker.html${backend === 'webgpu' ? '?webgpu' : ''}`);
      const r = await evaluateWithTimeout(page, () => window.workerResult, undefined, SLOW);
      assert.equal(r.error, undefined, r.error);
      assert.deepEqual(r, { backend, width: 97, height: 61, maskLength: 97 * 61, same: true, probabilities: 97 * 61 });
    } finally {
      await context.close();
    }
  });
}

test('warmUp runs the network, on the CPU giving way to the first real call', { timeout: SLOW }, async () => {
  const r = await onPage((page) =>
    run(page, async () => {
      const { Segmenter } = window.tinyunet;
      const alone = await (await Segmenter.create({ backend: 'cpu', inputSize: 64 })).warmUp();
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
      const warming = seg.warmUp();
      const result = await seg.segment(window.blobImage(40, 30));
      const interrupted = await warming;
      const gpu = await (await Segmenter.create({ backend: 'webgpu', inputSize: 32 })).warmUp();
      return { alone, interrupted, gpu, size: [result.width, result.height] };
    }),
  );
  // Interrupted: the heap reservation (warm-up's first step) ran before the call, no run after it.
  assert.deepEqual(r, { alone: 8, interrupted: 0, gpu: 1, size: [40, 30] });
});

test(
  'on the CPU, warmUp grows the heap once, so that the first full-size inference does not',
  { timeout: SLOW },
  async () => {
    const r = await onPage((page) =>
      run(page, async () => {
        const seg = await window.tinyunet.Segmenter.create({ backend: 'cpu', inputSize: 256 });
        const wasm = await window.glue.cpu.default(); // the instance the segmenter runs in
        const mib = () => wasm.memory.buffer.byteLength / 2 ** 20;
        const created = mib();
        await seg.warmUp();
        const warmed = mib();
        await seg.segment(window.blobImage(320, 240));
        return { created, warmed, afterInference: mib() };
      }),
    );
    assert.ok(r.warmed - r.created >= 140, `warm-up grew the heap by ${r.warmed - r.created} MiB only`);
    assert.equal(
      r.afterInference,
      r.warmed,
      `the first 256² inference grew the heap from ${r.warmed} to ${r.afterInference} MiB`,
    );
  },
);

test("on the CPU, warmUp reserves at most 256 MiB however large the network's input", { timeout: SLOW }, async () => {
  const grown = await onPage((page) =>
    run(page, async () => {
      const seg = await window.tinyunet.Segmenter.create({ backend: 'cpu', inputSize: 1024 });
      const wasm = await window.glue.cpu.default();
      const before = wasm.memory.buffer.byteLength;
      await seg.warmUp();
      return (wasm.memory.buffer.byteLength - before) / 2 ** 20;
    }),
  );
  // A 1024² inference needs ~2.4 GB; warm-up takes 256 MiB plus what its 64² runs use.
  assert.ok(grown >= 250 && grown <= 280, `warm-up grew the heap by ${grown} MiB`);
});

test(
  'a CPU segmenter fetches only the CPU build of the core, from where wasmUrls says',
  { timeout: SLOW },
  async () => {
    const r = await onPage(async (page) => {
      const wasm = [];
      page.on('request', (request) => {
        if (request.url().includes('.wasm')) wasm.push(new URL(request.url()).pathname + new URL(request.url()).search);
      });
      const out = await run(page, async () => {
        const seg = await window.tinyunet.Segmenter.create({
          backend: 'cpu',
          inputSize: 32,
          wasmUrls: { cpu: '/pkg/wasm/tinyunet_cpu_bg.wasm?moved' },
        });
        const result = await seg.segment(window.blobImage(40, 30));
        return { backend: seg.backend, size: [result.width, result.height] };
      });
      return { ...out, wasm };
    });
    assert.deepEqual(r, { backend: 'cpu', size: [40, 30], wasm: ['/pkg/wasm/tinyunet_cpu_bg.wasm?moved'] });
  },
);

test('preload compiles the build a backend needs, once; create then fetches no more', { timeout: SLOW }, async () => {
  const r = await onPage(async (page) => {
    const wasm = [];
    page.on('request', (request) => {
      if (request.url().includes('.wasm')) wasm.push(new URL(request.url()).pathname);
    });
    const out = await run(page, async () => {
      const { preload, Segmenter } = window.tinyunet;
      const build = await preload({ backend: 'cpu' });
      const again = await preload({ backend: 'cpu' });
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
      const result = await seg.segment(window.blobImage(20, 10));
      const bad = await window.errorOf(() => preload({ backend: 'tpu' }));
      return { build, again, size: [result.width, result.height], bad: bad.message };
    });
    return { ...out, wasm };
  });
  assert.deepEqual(r.wasm, ['/pkg/wasm/tinyunet_cpu_bg.wasm']);
  assert.deepEqual([r.build, r.again, r.size], ['cpu', 'cpu', [20, 10]]);
  assert.match(r.bad, /^config: backend must be "auto", "webgpu" or "cpu", got "tpu"/);
});

test('auto on SwiftShader chooses the CPU and says why; webgpu still forces WebGPU', { timeout: SLOW }, async () => {
  const r = await onPage((page) =>
    run(page, async () => {
      const { Segmenter } = window.tinyunet;
      const describe = async (backend) => {
        const seg = await Segmenter.create({ backend, inputSize: 32 });
        const mask = (await seg.segment(window.blobImage(20, 10))).mask.length;
        const out = {
          backend: seg.backend,
          reason: seg.backendReason,
          fallback: seg.fallbackReason,
          adapter: seg.adapter,
          mask,
          timings: seg.backendTimings,
        };
        seg.dispose();
        return out;
      };
      return { auto: await describe('auto'), webgpu: await describe('webgpu'), cpu: await describe('cpu') };
    }),
  );
  console.log(`auto: ${r.auto.backend} (${r.auto.reason}); webgpu: ${r.webgpu.backend} (${r.webgpu.reason})`);
  assert.equal(r.auto.backend, 'cpu');
  assert.equal(r.auto.adapter.software, 'swiftshader');
  assert.match(
    r.auto.reason,
    /^the only WebGPU adapter here is a software renderer \(swiftshader\), far slower than the CPU build$/,
  );
  assert.match(r.auto.fallback, /software renderer \(swiftshader\)/);
  assert.equal(r.webgpu.backend, 'webgpu');
  assert.equal(r.webgpu.fallback, null);
  assert.match(r.webgpu.reason, /^WebGPU on a software renderer \(swiftshader\), because WebGPU was asked for$/);
  assert.deepEqual(
    { ...r.cpu, mask: 0 },
    { backend: 'cpu', reason: 'the CPU was asked for', fallback: null, adapter: null, mask: 0, timings: null },
  );
  assert.equal(r.auto.mask, 200);
  assert.equal(r.webgpu.mask, 200);
  // Nothing is timed: a software adapter is ruled out without a run, `webgpu` is never raced.
  assert.equal(r.auto.timings, null);
  assert.equal(r.webgpu.timings, null);
});

test(
  'auto on a hardware GPU times one inference on WebGPU and on the CPU build and keeps the faster, saying why',
  { timeout: SLOW },
  async () => {
    const r = await onPage((page) =>
      run(page, async () => {
        // SwiftShader's adapter made to say it is hardware, so that `auto` races the two: a real
        // WebGPU device against the CPU build, which wins here (a software GPU is far slower).
        window.poseAsHardwareAdapter();
        const seg = await window.tinyunet.Segmenter.create({ backend: 'auto', inputSize: 32 });
        const result = await seg.segment(window.blobImage(20, 10));
        return {
          backend: seg.backend,
          build: seg.build,
          reason: seg.backendReason,
          fallback: seg.fallbackReason,
          timings: seg.backendTimings,
          adapter: seg.adapter,
          size: [result.width, result.height],
        };
      }),
    );
    console.log(`auto on a "hardware" SwiftShader: ${r.backend} (${r.reason})`);
    assert.equal(r.backend, 'cpu');
    assert.equal(r.build, 'cpu');
    assert.deepEqual(r.adapter, { vendor: 'test', architecture: 'hardware', software: null });
    assert.equal(r.timings.size, 32);
    assert.ok(r.timings.cpu > 0 && r.timings.webgpu > r.timings.cpu, JSON.stringify(r.timings));
    const figures = `32² inference: WebGPU ${r.timings.webgpu.toFixed(0)} ms, the CPU build ${r.timings.cpu.toFixed(0)} ms`;
    assert.equal(r.reason, `the CPU build was faster than WebGPU on this GPU (test hardware; ${figures})`);
    assert.equal(r.fallback, r.reason);
    assert.deepEqual(r.size, [20, 10]);
  },
);

test(
  'auto falls back to the CPU build when the WebGPU build cannot be fetched, and says why',
  { timeout: SLOW },
  async () => {
    const r = await onPage((page) =>
      run(page, async () => {
        // SwiftShader would make `auto` choose the CPU before fetching anything: the adapter says it
        // is a hardware one here, so that `auto` tries the WebGPU build, whose fetch fails.
        window.poseAsHardwareAdapter();
        const seg = await window.tinyunet.Segmenter.create({
          backend: 'auto',
          inputSize: 32,
          wasmUrls: { webgpu: '/missing/tinyunet_webgpu_bg.wasm' },
        });
        const result = await seg.segment(window.blobImage(20, 10));
        return { backend: seg.backend, reason: seg.fallbackReason, size: [result.width, result.height] };
      }),
    );
    assert.equal(r.backend, 'cpu');
    assert.deepEqual(r.size, [20, 10]);
    assert.match(r.reason, /WebGPU failed to start \(backend: the WebAssembly module \(webgpu\) could not be loaded/);
  },
);

test('the package works through a bundler (a Vite production build)', { timeout: SLOW }, async () => {
  const { build } = await import('vite');
  const os = await import('node:os');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-vite-'));
  try {
    await build({
      root: path.join(HERE, 'vite-app'),
      configFile: path.join(HERE, 'vite-app/vite.config.js'),
      build: { outDir, emptyOutDir: true },
    });
    const emitted = fs.readdirSync(path.join(outDir, 'assets'));
    for (const build of ['cpu', 'webgpu']) {
      assert.ok(
        emitted.some((f) => f.startsWith(`tinyunet_${build}_bg`) && f.endsWith('.wasm')),
        `Vite did not emit the ${build} .wasm: ${emitted}`,
      );
    }
    // The app has weights of its own (here a fresh network): the demo weights stay out.
    assert.ok(
      !emitted.some((f) => /^(demo-weights|skin-lesion|lung-ct)/.test(f)),
      `Vite emitted shipped weights unasked: ${emitted}`,
    );
    const app = await startServer({ root: outDir });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(app.url);
      const r = await evaluateWithTimeout(page, () => window.viteResult, undefined, SLOW);
      const { wasm, ...rest } = r;
      assert.deepEqual(rest, { backend: 'cpu', width: 123, height: 45, probabilities: 123 * 45 });
      // The CPU build came from the URL the app took through the package's `wasm/*` export.
      assert.match(wasm, /^\/assets\/tinyunet_cpu_bg-.+\.wasm$/);
    } finally {
      await context.close();
      await app.close();
    }
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});
