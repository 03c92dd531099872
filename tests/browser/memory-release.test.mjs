// A wasm memory never shrinks, so a CPU segmenter fine-tunes in an instance of its own that is
// dropped when the run ends (pkg/training-instance.js): the segmenter's own memory after a run is
// no larger than before it, a second run trains as on a fresh segmenter, a cancelled or failing
// run leaves the weights as they were, and `useLastTrainedWeights` still finds the last step's.
// On WebGPU the run stays in the segmenter's instance (its activations are GPU buffers), and at
// its end gives the buffers it left unused back to the driver: package.test.mjs's "training in
// the browser" checks that on the run it already trains there (a page of its own here cost a
// second compilation of every training kernel on SwiftShader, about a minute of a CI run).
// No sizes or times of this machine are asserted: only before against after, and weights.
//
// Run: cd tests/browser && node --test --test-concurrency=1 memory-release.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageTestSetup } from './harness.mjs';

const SLOW = 300_000;
const { inPage } = packageTestSetup();

test(
  "after a run the segmenter's memory is no larger than before it; a second run trains as on a fresh segmenter",
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { Segmenter } = window.tinyunet;
      const { skinLesionWeightsUrl } = await import('/pkg/models/skin-lesion.js');
      const first = { epochs: 1, batchSize: 4, size: 64, seed: 3 };
      const second = { epochs: 1, batchSize: 2, size: 64, seed: 8 };
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64, weights: skinLesionWeightsUrl });
      const wasm = await window.glue.cpu.default(); // the instance the segmenter runs in
      const probe = window.blobImage(64, 64, 9);
      // As a page does: warm up (the heap grown to what inference needs), segment, then train. The
      // handoff (the weights, 1 MB, exported and loaded once each way) fits in that heap; on an
      // instance that never warmed up it can grow it once by a few MB.
      await seg.warmUp();
      await seg.segment(probe);
      const before = seg.memoryBytes;
      const sameAsGlue = before === wasm.memory.buffer.byteLength;
      const run1 = await seg.train(window.blobPairs([1, 2, 3, 4], 64), first);
      const afterFirst = seg.memoryBytes;
      await seg.segment(probe);
      const afterInference = seg.memoryBytes;
      const between = await seg.exportWeights();
      const run2 = await seg.train(window.blobPairs([5, 6], 64), second);
      const afterSecond = seg.memoryBytes;
      const weights = await seg.exportWeights();
      const out = await seg.segment(probe, { probabilities: true });
      // The second run on a fresh segmenter from the weights the first run left.
      const fresh = await Segmenter.create({ backend: 'cpu', inputSize: 64, weights: between });
      const freshRun = await fresh.train(window.blobPairs([5, 6], 64), second);
      const freshWeights = await fresh.exportWeights();
      const freshOut = await fresh.segment(probe, { probabilities: true });
      return {
        sameAsGlue,
        before,
        afterFirst,
        afterInference,
        afterSecond,
        finalGlue: wasm.memory.buffer.byteLength,
        released: [run1.memoryReleased, run2.memoryReleased],
        grewApart: run1.memoryBytes > before,
        steps: [run1.stepsDone, run2.stepsDone],
        moved: between.length !== weights.length || between.some((b, i) => b !== weights[i]),
        sameWeights: weights.length === freshWeights.length && weights.every((b, i) => b === freshWeights[i]),
        sameHistory: JSON.stringify(run2.history) === JSON.stringify(freshRun.history),
        outputs: window.maxAbsDiff(out.probabilities, freshOut.probabilities),
      };
    });
    assert.ok(r.sameAsGlue, "memoryBytes is not the byte length of the segmenter's wasm memory");
    assert.deepEqual(r.released, [true, true]);
    // The run's own instance grew past inference's memory: what the segmenter did not keep.
    assert.ok(r.grewApart, 'the training instance did not grow: the test would prove nothing');
    assert.deepEqual(r.steps, [1, 1]);
    for (const key of ['afterFirst', 'afterInference', 'afterSecond', 'finalGlue']) {
      assert.ok(r[key] <= r.before, `${key}: ${r[key]} bytes, more than the ${r.before} before the first run`);
    }
    assert.ok(r.moved, 'the second run did not change the weights');
    assert.ok(r.sameHistory, "the second run's steps differ from the same run on a fresh segmenter");
    assert.ok(r.sameWeights, "the second run's weights differ from the same run on a fresh segmenter");
    assert.equal(r.outputs, 0);
  },
);

test(
  'a cancelled run and a failing run leave the weights as they were, and the segmenter carries on',
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { Segmenter } = window.tinyunet;
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
      const start = await seg.exportWeights();
      const same = async () => {
        const now = await seg.exportWeights();
        return now.length === start.length && now.every((b, i) => b === start[i]);
      };
      // Cancelled while the held-back pairs are scored, before any step: the weights stay.
      const controller = new AbortController();
      const cancelled = await seg.train(window.blobPairs([1, 2], 48), {
        heldOut: window.blobPairs([3], 48),
        epochs: 2,
        batchSize: 1,
        size: 32,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'before') controller.abort();
        },
      });
      const afterCancel = await same();
      // A pair the core refuses (the mask's size is not the image's): before any step.
      const refused = await window.errorOf(() =>
        seg.train(
          [...window.blobPairs([1], 48), { image: window.blobImage(48, 48, 2), mask: window.blobMask(40, 48, 2) }],
          {
            size: 32,
          },
        ),
      );
      const afterRefused = await same();
      // A step that fails inside the training instance (its second step's message is garbled):
      // the run rejects and the segmenter's weights are untouched.
      const RealWorker = window.Worker;
      window.Worker = class extends RealWorker {
        #steps = 0;
        postMessage(message, ...rest) {
          if (message?.type === 'call' && message.op === 'step' && ++this.#steps === 2)
            message = { ...message, op: 'noSuchStep' };
          return super.postMessage(message, ...rest);
        }
      };
      let failed;
      try {
        failed = await window.errorOf(() =>
          seg.train(window.blobPairs([1, 2], 48), { epochs: 2, batchSize: 1, size: 32 }),
        );
      } finally {
        window.Worker = RealWorker;
      }
      const afterFailure = await same();
      // And the segmenter carries on: a run that works.
      const run = await seg.train(window.blobPairs([1, 2], 48), { epochs: 1, batchSize: 1, size: 32 });
      return {
        cancelled: [cancelled.cancelled, cancelled.stepsDone, cancelled.kept, cancelled.memoryReleased],
        afterCancel,
        refused: refused?.message ?? null,
        afterRefused,
        failed: failed?.message ?? null,
        afterFailure,
        run: [run.stepsDone, run.kept, run.memoryReleased],
        changed: !(await same()),
      };
    });
    assert.deepEqual(r.cancelled, [true, 0, 'previous', true]);
    assert.ok(r.afterCancel, 'a run cancelled before any step changed the weights');
    assert.match(r.refused ?? '', /^input: /);
    assert.ok(r.afterRefused, 'a refused run changed the weights');
    assert.ok(r.failed, 'the garbled step did not fail the run');
    assert.ok(r.afterFailure, 'a failed run changed the weights');
    assert.deepEqual(r.run, [2, 'last', true]);
    assert.ok(r.changed, 'the run after the failures did not train');
  },
);

test("useLastTrainedWeights takes the last step's weights of a run that kept others", { timeout: SLOW }, async () => {
  const r = await inPage(async () => {
    const { Segmenter } = window.tinyunet;
    const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
    const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    const none = await seg.useLastTrainedWeights(); // no run yet
    // Judged by a held-back pair at a rate this high, the last epoch falls more than the tolerance
    // below the best scored: the run keeps an earlier epoch's weights or the starting ones.
    const options = { epochs: 3, batchSize: 1, size: 32, learningRate: 0.05, seed: 4 };
    const run = await seg.train(window.blobPairs([1, 2], 48), { ...options, heldOut: window.blobPairs([7], 48) });
    const kept = await seg.exportWeights();
    const switched = await seg.useLastTrainedWeights();
    const last = await seg.exportWeights();
    const again = await seg.useLastTrainedWeights();
    // The same steps with nothing held back end with those last weights, kept.
    const plain = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
    const plainRun = await plain.train(window.blobPairs([1, 2], 48), options);
    const plainWeights = await plain.exportWeights();
    return {
      none,
      kept: run.kept,
      lastAvailable: run.lastAvailable,
      released: run.memoryReleased,
      switched,
      again,
      differs: !equal(kept, last),
      plainKept: plainRun.kept,
      sameAsPlain: equal(last, plainWeights),
    };
  });
  assert.equal(r.none, false);
  assert.equal(r.released, true);
  assert.notEqual(r.kept, 'last');
  assert.equal(r.lastAvailable, true, `the run kept ${r.kept} without other last weights: pick settings where it does`);
  assert.deepEqual([r.switched, r.again], [true, false]);
  assert.ok(r.differs, 'useLastTrainedWeights did not change the weights');
  assert.equal(r.plainKept, 'last');
  assert.ok(r.sameAsPlain, "the last weights differ from the same run's with nothing held back");
});

test(
  'a training Worker that dies mid-run fails the run with a TinyunetError, and the segmenter carries on',
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { Segmenter, TinyunetError } = window.tinyunet;
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
      // The Worker "dies" at its second step: the browser fires `error` on it, and never answers.
      const RealWorker = window.Worker;
      window.Worker = class extends RealWorker {
        #steps = 0;
        postMessage(message, ...rest) {
          if (message?.type === 'call' && message.op === 'step' && ++this.#steps === 2) {
            this.dispatchEvent(new ErrorEvent('error', { message: 'the Worker was lost' }));
            return undefined;
          }
          return super.postMessage(message, ...rest);
        }
      };
      let error;
      try {
        await seg.train(window.blobPairs([1, 2], 48), { epochs: 2, batchSize: 1, size: 32 });
      } catch (e) {
        error = e;
      } finally {
        window.Worker = RealWorker;
      }
      const run = await seg.train(window.blobPairs([1, 2], 48), { epochs: 1, batchSize: 1, size: 32 });
      return {
        tinyunet: error instanceof TinyunetError,
        kind: error?.kind ?? null,
        message: error?.message ?? null,
        run: [run.stepsDone, run.memoryReleased],
      };
    });
    assert.equal(r.tinyunet, true, `not a TinyunetError: ${r.message}`);
    assert.equal(r.kind, 'backend');
    assert.match(r.message, /^backend: the training Worker failed: the Worker was lost/);
    assert.deepEqual(r.run, [2, true]);
  },
);

test(
  'a training Worker slow to start makes that run train in place; the next run tries a Worker again',
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { Segmenter } = window.tinyunet;
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 32 });
      // The first Worker never answers `init`, and its start timeout (60 s) is let run out at once.
      const RealWorker = window.Worker;
      const realSetTimeout = window.setTimeout;
      window.Worker = class extends RealWorker {
        postMessage(message, ...rest) {
          if (message?.type === 'call' && message.op === 'init') return undefined;
          return super.postMessage(message, ...rest);
        }
      };
      window.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, ms === 60_000 ? 0 : ms, ...args);
      let slow;
      try {
        slow = await seg.train(window.blobPairs([1, 2], 48), { epochs: 1, batchSize: 1, size: 32 });
      } finally {
        window.Worker = RealWorker;
        window.setTimeout = realSetTimeout;
      }
      const next = await seg.train(window.blobPairs([1, 2], 48), { epochs: 1, batchSize: 1, size: 32 });
      return { slow: [slow.stepsDone, slow.memoryReleased], next: [next.stepsDone, next.memoryReleased] };
    });
    assert.deepEqual(r.slow, [2, false], 'the run whose Worker did not start did not train in place');
    assert.deepEqual(r.next, [2, true], 'after one slow start, later runs no longer train in a Worker of their own');
  },
);

test(
  'a training instance closed with a pool request still queued starts no pool thread, and its errors are TinyunetErrors',
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { TinyunetError } = window.tinyunet;
      const { TrainingInstance } = await import('/pkg/training-instance.js');
      // A stand-in for the training Worker and the pool threads it asks for, counting who ends.
      class FakeWorker extends EventTarget {
        ended = false;
        postMessage() {}
        terminate() {
          this.ended = true;
        }
      }
      const worker = new FakeWorker();
      const threads = [];
      const instance = new TrainingInstance(worker, () => {
        const t = new FakeWorker();
        threads.push(t);
        return t;
      });
      const pending = instance.call('step').catch((e) => e);
      instance.close();
      // The Worker's `pool` message was already queued when close() ran.
      worker.dispatchEvent(
        new MessageEvent('message', { data: { type: 'pool', module: null, memory: null, threads: 2 } }),
      );
      await new Promise((resolve) => setTimeout(resolve, 0));
      const closed = await pending;
      const after = await instance.call('step').catch((e) => e);
      return {
        ended: worker.ended,
        left: threads.filter((t) => !t.ended).length,
        closed: [closed instanceof TinyunetError, closed?.kind, closed?.message],
        after: [after instanceof TinyunetError, after?.kind],
      };
    });
    assert.equal(r.ended, true);
    assert.equal(r.left, 0, `${r.left} pool thread(s) started after close() and never ended`);
    assert.deepEqual(r.closed, [true, 'backend', 'backend: the training instance was closed']);
    assert.deepEqual(r.after, [true, 'backend']);
  },
);
