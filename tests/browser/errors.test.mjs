// The package's errors (issue 32): every error tinyunet throws is a `TinyunetError` (exported by
// `tinyunet` and `tinyunet/cpu`), with a `kind`, a message that starts with it, and the error it
// comes from kept as `cause`; a cancelled call is still the platform's AbortError.
//
// Run: cd tests/browser && node --test --test-concurrency=1 errors.test.mjs
// Needs the built package's CPU module (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, withPage, evaluateWithTimeout } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = process.env.TINYUNET_PKG_DIR ? path.resolve(process.env.TINYUNET_PKG_DIR) : path.join(ROOT, 'pkg');
const SLOW = 300_000;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tinyunet errors test page</title>
<script type="module">
  import * as tinyunet from '/pkg/tinyunet.js';
  import * as cpu from '/pkg/cpu.js';
  window.tinyunet = tinyunet;
  window.cpu = cpu;
  window.helpersReady = true;
</script>`;

let browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu.js')), `${PKG}/wasm/ is missing: run ./build.sh pkg first`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('errors are TinyunetErrors with a kind and a cause; a cancelled call is an AbortError', { timeout: SLOW }, async () => {
  const server = await startServer({
    root: path.join(HERE, 'package-pages'),
    mounts: { '/pkg/': PKG },
    routes: { '/errors.html': { body: PAGE, type: 'text/html' } },
  });
  try {
    const r = await withPage(async ({ page, url }) => {
      await page.goto(`${url}errors.html`);
      await page.waitForFunction(() => window.helpersReady === true);
      return evaluateWithTimeout(page, async () => {
        const { Segmenter, TinyunetError } = window.tinyunet;
        const caught = async (promise) => {
          try { await promise; return null; } catch (e) {
            return {
              isTinyunet: e instanceof TinyunetError,
              isError: e instanceof Error,
              name: e.name,
              kind: e.kind,
              message: e.message,
              cause: e.cause === undefined ? null : { isError: e.cause instanceof Error, message: String(e.cause?.message ?? e.cause) },
            };
          }
        };
        const out = { sameClass: window.cpu.TinyunetError === TinyunetError };
        out.option = await caught(Segmenter.create({ backend: 'cpu', inputSize: 63 }));
        out.weights = await caught(Segmenter.create({ backend: 'cpu', weights: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) }));
        out.missing = await caught(Segmenter.create({ backend: 'cpu', weights: '/no-such-weights.safetensors' }));
        const seg = await Segmenter.create({ backend: 'cpu', inputSize: 64 });
        out.image = await caught(seg.segment({ data: new Uint8ClampedArray(10), width: 4, height: 4 }));
        out.loadWeights = await caught(seg.loadWeights(new Uint8Array(16)));
        const controller = new AbortController();
        controller.abort();
        const pixels = { data: new Uint8ClampedArray(64 * 64 * 4).fill(128), width: 64, height: 64 };
        out.aborted = await caught(seg.train([{ image: pixels, mask: pixels }], { epochs: 1, signal: controller.signal }));
        out.stillWorks = (await seg.segment(pixels)).width;
        out.made = (() => { const e = new TinyunetError('config', 'made here', { cause: 'x' }); return { message: e.message, kind: e.kind, cause: e.cause, name: e.name }; })();
        return out;
      }, null, SLOW);
    }, { browser, server });

    assert.ok(r.sameClass, 'tinyunet and tinyunet/cpu export one class');
    for (const [what, kind] of [['option', 'config'], ['weights', 'weights'], ['missing', 'weights'], ['image', 'input'], ['loadWeights', 'weights']]) {
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
  } finally {
    await server.close();
  }
});
