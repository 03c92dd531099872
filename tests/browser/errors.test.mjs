// The package's errors (issue 32): every error tinyunet throws is a `TinyunetError` (exported by
// `tinyunet` and `tinyunet/cpu`), with a `kind`, a message that starts with it, and the error it
// comes from kept as `cause`; a cancelled call is still the platform's AbortError.
//
// Run: cd tests/browser && node --test --test-concurrency=1 errors.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageTestSetup } from './harness.mjs';

const SLOW = 300_000;
const { inPage } = packageTestSetup();

test(
  'errors are TinyunetErrors with a kind and a cause; a cancelled call is an AbortError',
  { timeout: SLOW },
  async () => {
    const r = await inPage(async () => {
      const { Segmenter, TinyunetError } = window.tinyunet;
      const caught = async (promise) => {
        try {
          await promise;
          return null;
        } catch (e) {
          return {
            isTinyunet: e instanceof TinyunetError,
            isError: e instanceof Error,
            name: e.name,
            kind: e.kind,
            message: e.message,
            cause:
              e.cause === undefined
                ? null
                : { isError: e.cause instanceof Error, message: String(e.cause?.message ?? e.cause) },
          };
        }
      };
      const out = { sameClass: (await import('/pkg/cpu.js')).TinyunetError === TinyunetError };
      out.option = await caught(Segmenter.create({ backend: 'cpu', inputSize: 63 }));
      out.weights = await caught(
        Segmenter.create({ backend: 'cpu', weights: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }),
      );
      out.missing = await caught(Segmenter.create({ backend: 'cpu', weights: '/no-such-weights.safetensors' }));
      const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
      out.image = await caught(seg.segment({ data: new Uint8ClampedArray(10), width: 4, height: 4 }));
      out.loadWeights = await caught(seg.loadWeights(new Uint8Array(16)));
      const controller = new AbortController();
      controller.abort();
      const pixels = { data: new Uint8ClampedArray(64 * 64 * 4).fill(128), width: 64, height: 64 };
      out.aborted = await caught(
        seg.train([{ image: pixels, mask: pixels }], { epochs: 1, signal: controller.signal }),
      );
      out.stillWorks = (await seg.segment(pixels)).width;
      out.made = (() => {
        const e = new TinyunetError('config', 'made here', { cause: 'x' });
        return { message: e.message, kind: e.kind, cause: e.cause, name: e.name };
      })();
      return out;
    });

    assert.ok(r.sameClass, 'tinyunet and tinyunet/cpu export one class');
    for (const [what, kind] of [
      ['option', 'config'],
      ['weights', 'weights'],
      ['missing', 'weights'],
      ['image', 'input'],
      ['loadWeights', 'weights'],
    ]) {
      const e = r[what];
      assert.ok(e, `${what}: nothing was thrown`);
      assert.ok(e.isTinyunet && e.isError, `${what}: ${e.name}: ${e.message}`);
      assert.equal(e.name, 'TinyunetError', what);
      assert.equal(e.kind, kind, `${what}: ${e.message}`);
      assert.ok(e.message.startsWith(`${kind}: `), `${what}: ${e.message}`);
      assert.ok(!e.message.startsWith(`${kind}: ${kind}: `), `${what}: the kind twice: ${e.message}`);
    }
    // The core's errors keep what they came from (a 404 or a bad argument comes from nothing else).
    for (const what of ['weights', 'loadWeights']) {
      assert.ok(r[what].cause, `${what}: no cause kept (${r[what].message})`);
    }
    assert.equal(r.aborted?.name, 'AbortError');
    assert.equal(r.aborted.isTinyunet, false);
    assert.equal(r.stillWorks, 64);
    assert.deepEqual(r.made, { message: 'config: made here', kind: 'config', cause: 'x', name: 'TinyunetError' });
  },
);
