// Real photos in the browser, through the npm package on the CPU: the clinic's fine-tune with the
// package's defaults (weights that never saw ISIC 2017's wide-field photos, fine-tuned on a few of
// them, judged on held-back ones and on others it never saw) makes them better, a run that does
// not help leaves the previous weights in place, and a camera-size (12-megapixel) photo segments.
//
// The photos are read from ../shared/data (PH2: research use, Mendonça et al., EMBC 2013; ISIC
// 2017: research use, Codella et al., arXiv:1710.05006) by the test server on 127.0.0.1; nothing
// leaves the machine.
//
// Run: cd tests/browser && node --test --test-concurrency=1 real-photos.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer,
  launchBrowser,
  onHelpersPage,
  cameraJpegInPage,
  evaluateWithTimeout,
  sharedData,
  SHARED_DIR,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const DATA = path.join(SHARED_DIR, 'data');
// Each test skips, naming the folder, where ../shared/data lacks its set (see sharedData).
const ISIC2017 = sharedData('isic2017');
const PH2 = sharedData('ph2');
const SLOW = 900_000;

/** A set split as ../shared/data/README.md suggests: sorted by stem, every 5th pair is validation. */
function split(set) {
  const stems = fs
    .readdirSync(path.join(DATA, set, 'images'))
    .map((f) => f.replace(/\.jpg$/, ''))
    .sort();
  const pair = (stem) => ({
    name: stem,
    image: `/data/${set}/images/${stem}.jpg`,
    mask: `/data/${set}/masks/${stem}_segmentation.png`,
  });
  return {
    train: stems.filter((_, i) => (i + 1) % 5 !== 0).map(pair),
    val: stems.filter((_, i) => (i + 1) % 5 === 0).map(pair),
  };
}

let server;
let browser;

before(async () => {
  assert.ok(
    fs.existsSync(path.join(ROOT, 'pkg/wasm/tinyunet_cpu.js')),
    'pkg/wasm/ is missing: run ./build.sh pkg first',
  );
  server = await startServer({
    root: path.join(HERE, 'package-pages'),
    mounts: {
      '/pkg/': path.join(ROOT, 'pkg'),
      '/local-fixtures/': path.join(ROOT, 'tests/fixtures'),
      '/data/': DATA,
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const onPage = (fn) => onHelpersPage(browser, server, fn);

const run = (page, fn, arg) => evaluateWithTimeout(page, fn, arg, SLOW);

test(
  'fine-tuning with the defaults on 8 ISIC 2017 photos raises Dice on ISIC 2017 photos it never saw',
  { timeout: SLOW, skip: ISIC2017.skip },
  async () => {
    const { train, val } = split('isic2017');
    const r = await onPage((page) =>
      run(
        page,
        async ({ train, heldOut, unseen }) => {
          const { Segmenter } = window.tinyunet;
          const blobs = async (pairs) =>
            Promise.all(
              pairs.map(async (p) => ({
                name: p.name,
                image: new Blob([await window.fetchBytes(p.image)], { type: 'image/jpeg' }),
                mask: new Blob([await window.fetchBytes(p.mask)], { type: 'image/png' }),
              })),
            );
          // The demo weights from before ISIC 2017 was added to their training.
          const weights = await window.fetchBytes('/local-fixtures/no-isic2017.safetensors');
          const seg = await Segmenter.create({ backend: 'cpu', weights, inputSize: 128 });
          const [trainPairs, heldPairs, unseenPairs] = await Promise.all([blobs(train), blobs(heldOut), blobs(unseen)]);
          const before = await seg.evaluate(unseenPairs);
          const phases = new Set();
          // Every setting the package's default.
          const result = await seg.train(trainPairs, { heldOut: heldPairs, onProgress: (p) => phases.add(p.phase) });
          const after = await seg.evaluate(unseenPairs);
          return {
            before: before.dice,
            after: after.dice,
            result,
            phases: [...phases].sort(),
            defaults: seg.trainingDefaults,
          };
        },
        { train: train.slice(0, 8), heldOut: train.slice(8, 13), unseen: val.slice(0, 8) },
      ),
    );
    const { result } = r;
    console.log(
      `ISIC 2017 fine-tune in the browser (CPU, 128 px, defaults): held-back Dice ${result.before.dice.toFixed(4)} → ${result.after.dice.toFixed(4)} (epoch ${result.chosenEpoch} kept); unseen ${r.before.toFixed(4)} → ${r.after.toFixed(4)}`,
    );
    assert.deepEqual(r.phases, ['before', 'epoch', 'score', 'train']);
    assert.equal(result.stop, 'completed');
    assert.equal(result.reliable, true);
    assert.equal(result.heldOut.length, 5);
    assert.equal(result.before.perPair.length, 5);
    assert.equal(result.epochs.length, r.defaults.epochs);
    // The last epoch is kept (no other scored weights beat it by more than the tolerance), and on
    // these five held-back photos it scores better than the starting weights.
    assert.equal(result.kept, 'last', `kept ${result.kept}, epoch ${result.chosenEpoch} (best ${result.bestEpoch})`);
    assert.equal(result.chosenEpoch, r.defaults.epochs);
    assert.equal(result.tolerance, 0.005);
    assert.equal(result.improved, true);
    assert.ok(result.after.dice > result.before.dice);
    assert.ok(r.after > r.before + 0.01, `Dice on unseen ISIC 2017 photos: ${r.before} → ${r.after}`);
    assert.equal(r.defaults.minReliableHeldOut, 5);
    assert.equal(r.defaults.freezeBatchNorm, true);
  },
);

test(
  'a run that does not help leaves the previous weights in place, and offers the new ones',
  { timeout: SLOW, skip: PH2.skip },
  async () => {
    const { val } = split('ph2');
    const r = await onPage((page) =>
      run(
        page,
        async ({ held }) => {
          const { Segmenter } = window.tinyunet;
          const weights = await window.fetchBytes('/local-fixtures/no-ph2.safetensors');
          const seg = await Segmenter.create({ backend: 'cpu', weights, inputSize: 64 });
          const heldOut = await Promise.all(
            held.map(async (p) => ({
              name: p.name,
              image: new Blob([await window.fetchBytes(p.image)], { type: 'image/jpeg' }),
              mask: new Blob([await window.fetchBytes(p.mask)], { type: 'image/png' }),
            })),
          );
          // Teaching it that the lesion is skin and the skin lesion, fast: worse on every real photo.
          const inverted = await Promise.all(
            heldOut.slice(0, 2).map(async (p) => {
              const m = await window.tinyunet.decodeImage(p.mask);
              for (let i = 0; i < m.data.length; i += 4) m.data[i] = m.data[i + 1] = m.data[i + 2] = 255 - m.data[i];
              return { name: `${p.name}-inverted`, image: p.image, mask: m };
            }),
          );
          const start = await seg.exportWeights();
          const result = await seg.train(inverted, { heldOut, epochs: 2, batchSize: 2, learningRate: 3e-3 });
          const kept = await seg.exportWeights();
          const same = kept.length === start.length && kept.every((b, i) => b === start[i]);
          const took = await seg.useLastTrainedWeights();
          const lastScore = await seg.evaluate(heldOut);
          const again = await seg.useLastTrainedWeights();
          return { result, same, took, again, lastScore: lastScore.dice };
        },
        { held: val.slice(0, 5) },
      ),
    );
    const { result } = r;
    console.log(
      `inverted masks: held-back Dice ${result.before.dice.toFixed(4)}; epochs ${result.epochs.map((e) => e.heldOut.dice.toFixed(4)).join(', ')}`,
    );
    assert.equal(result.kept, 'previous');
    assert.equal(result.improved, false);
    assert.equal(result.chosenEpoch, 0);
    assert.equal(result.bestEpoch, 0);
    assert.equal(result.withinTolerance, false);
    assert.equal(result.why, 'startBeatLast');
    assert.ok(
      result.epochs.at(-1).heldOut.dice < result.before.dice - result.tolerance,
      'the last epoch is not clearly worse',
    );
    assert.equal(result.after.dice, result.before.dice);
    assert.ok(r.same, 'the weights changed although the run made them worse');
    assert.equal(result.lastAvailable, true);
    assert.equal(r.took, true);
    assert.ok(r.lastScore < result.before.dice, "the last step's weights are not the ruined ones");
    assert.equal(r.again, false, 'the last weights can be taken once');
  },
);

test(
  'a 12-megapixel camera photo (4288×2848) segments through the package at its own size',
  { timeout: SLOW },
  async () => {
    const r = await onPage(async (page) =>
      run(
        page,
        async (photo) => {
          const { Segmenter } = window.tinyunet;
          const weights = await window.fetchBytes('/pkg/models/skin-lesion.safetensors');
          const seg = await Segmenter.create({ backend: 'cpu', weights });
          await seg.warmUp();
          // A camera-size JPEG as a phone or dermatoscope writes it: a lesion on skin, encoded.
          const jpeg = new Blob([Uint8Array.from(atob(photo.base64), (c) => c.charCodeAt(0))], { type: 'image/jpeg' });
          const wasm = await window.glue.cpu.default(); // the instance the segmenter runs in
          const heapBefore = wasm.memory.buffer.byteLength;
          const started = performance.now();
          const result = await seg.segment(jpeg);
          const seconds = (performance.now() - started) / 1000;
          const heapGrowth = (wasm.memory.buffer.byteLength - heapBefore) / 2 ** 20;
          const truth = photo.lesionShare;
          return {
            width: result.width,
            height: result.height,
            mask: result.mask.length,
            doubtful: result.doubtful.length,
            foreground: result.foreground,
            truth,
            seconds,
            jpegBytes: jpeg.size,
            heapGrowth,
            heap: wasm.memory.buffer.byteLength / 2 ** 20,
          };
        },
        await page.evaluate(cameraJpegInPage),
      ),
    );
    console.log(
      `4288×2848 JPEG (${(r.jpegBytes / 1e6).toFixed(2)} MB): segmented in ${r.seconds.toFixed(2)} s on the CPU (decode included); wasm heap grew ${r.heapGrowth.toFixed(0)} MiB to ${r.heap.toFixed(0)} MiB; lesion ${(r.foreground * 100).toFixed(1)}% (drawn ${(r.truth * 100).toFixed(1)}%)`,
    );
    assert.deepEqual([r.width, r.height, r.mask, r.doubtful], [4288, 2848, 4288 * 2848, 4288 * 2848]);
    assert.ok(Math.abs(r.foreground - r.truth) < 0.03, `lesion area ${r.foreground} against ${r.truth}`);
  },
);
