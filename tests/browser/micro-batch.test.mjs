// The package's `microBatch` training option reaches the core: with BatchNorm frozen (the
// default) a run in micro-batches of one sample says so (`microBatch` of the result) and takes the
// same steps as the same run in whole batches (loss, Dice and the weights it ends with, to
// rounding), the default is the core's automatic size, and a micro-batch of 0 is refused. The exactness itself is checked natively
// (tests/micro_batch.rs); this checks the wiring.
//
// Run: cd tests/browser && node --test --test-concurrency=1 micro-batch.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageTestSetup } from './harness.mjs';

const SLOW = 300_000;
const { inPage } = packageTestSetup();

test('microBatch: one sample a pass trains as the whole batch does; 0 is refused', { timeout: SLOW }, async () => {
  const r = await inPage(async () => {
    const { Segmenter } = window.tinyunet;
    const samples = window.blobPairs([1, 2, 3, 4], 48);
    const probe = window.blobImage(48, 48, 9);
    const runWith = async (microBatch) => {
      // The shipped weights: trained, so their BatchNorm statistics are frozen by default (a
      // fresh network trains on batch statistics, where a batch always runs whole).
      const { skinLesionWeightsUrl } = await import('/pkg/models/skin-lesion.js');
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32, weights: skinLesionWeightsUrl });
      const run = await seg.train(samples, {
        epochs: 2,
        batchSize: 4,
        learningRate: 1e-3,
        size: 32,
        seed: 5,
        ...(microBatch === undefined ? {} : { microBatch }),
      });
      const out = await seg.segment(probe, { probabilities: true });
      const result = {
        history: run.history,
        microBatch: run.microBatch,
        probabilities: out.probabilities,
        defaults: seg.trainingDefaults,
      };
      seg.dispose();
      return result;
    };
    const whole = await runWith(4);
    const single = await runWith(1);
    // Left out: the core's automatic size, at 32² all 4 samples in one pass.
    const automatic = await runWith(undefined);
    const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
    const refused = await window.errorOf(() => seg.train(samples, { microBatch: 0, size: 32 }));
    return {
      whole: whole.history,
      single: single.history,
      passes: [whole.microBatch, single.microBatch, automatic.microBatch],
      outputs: window.maxAbsDiff(whole.probabilities, single.probabilities),
      defaults: single.defaults,
      refused,
    };
  });
  assert.deepEqual(r.passes, [4, 1, 4]);
  assert.equal(r.whole.length, 2);
  for (const [i, step] of r.single.entries()) {
    assert.ok(
      Math.abs(step.loss - r.whole[i].loss) <= 1e-5 * Math.abs(r.whole[i].loss),
      `step ${i}: loss ${step.loss} vs ${r.whole[i].loss}`,
    );
    assert.ok(Math.abs(step.dice - r.whole[i].dice) <= 1e-5, `step ${i}: Dice ${step.dice} vs ${r.whole[i].dice}`);
  }
  // Weights that moved apart would show in the output; the fixture's eval tolerance.
  assert.ok(r.outputs <= 1e-4, `outputs differ by ${r.outputs}`);
  assert.equal(r.defaults.microBatch, null);
  assert.equal(r.defaults.microBatchPixels, 256 * 256);
  assert.match(r.refused?.message ?? '', /microBatch/);
});
