// The threaded CPU build (`cpu-threads`, issue 15): which build the package runs where, and that
// the threaded build's outputs are the 1-thread build's. The threaded build runs only in a Web
// Worker of a cross-origin isolated page (pkg/threads.js); anywhere else the 1-thread build runs
// and `threadsReason` says why. No timings here: `./build.sh bench` prints the speed-up.
//
// Run: cd tests/browser && node --test --test-concurrency=1 threads.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer,
  launchBrowser,
  onHelpersPage,
  evaluateWithTimeout,
  withPage,
  DEMO_CSP,
  demoServerOptions,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = path.join(ROOT, 'pkg');
const SLOW = 600_000;

let browser;
let isolated; // COOP/COEP and the demo's CSP, so the pool's Workers are checked against it too
let plain; // neither

before(async () => {
  assert.ok(
    fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu-threads.js')),
    'pkg/wasm/ has no threaded build: run ./build.sh pkg first',
  );
  const site = {
    root: path.join(HERE, 'threads-pages'),
    mounts: {
      '/pkg/': PKG,
      '/package-pages/': path.join(HERE, 'package-pages'),
      '/dicom/': path.join(ROOT, 'tests/fixtures/dicom'),
    },
  };
  isolated = await startServer({ ...site, crossOriginIsolated: true, csp: DEMO_CSP });
  plain = await startServer(site);
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
});

/** `name(...args)` of checks.js in a Worker (`where: 'worker'`) or on the main thread of `server`'s page. */
function check(server, where, name, ...args) {
  return onHelpersPage(browser, server, (page, log) =>
    evaluateWithTimeout(
      page,
      ([w, n, a]) => (w === 'worker' ? window.inWorker(n, ...a) : window.onMain(n, ...a)),
      [where, name, args],
      SLOW,
    ).then((result) => {
      assert.doesNotMatch(log.format(), /Content.Security.Policy|Refused to/i, 'the CSP refused something');
      return result;
    }),
  );
}

test(
  'in a Worker of an isolated page the threaded build runs, on as many threads as the browser reports cores',
  { timeout: SLOW },
  async () => {
    const ctx = await check(isolated, 'worker', 'context');
    assert.deepEqual(ctx.crossOriginIsolated, true);
    assert.ok(ctx.cores > 1, `the browser reports ${ctx.cores} core(s): this test needs at least 2`);
    const threads = Math.min(ctx.cores, 8);
    const r = await check(isolated, 'worker', 'describe');
    assert.deepEqual(r, {
      backend: 'cpu',
      build: 'cpu-threads',
      threads,
      width: 80,
      height: 60,
      threadsReason: `${threads} threads (Web Workers): the browser reports ${ctx.cores} cores${ctx.cores > 8 ? ' (the default takes at most 8)' : ''}`,
    });
  },
);

test(
  'a DICOM CT slice under the lung-CT model gets the same 3-class mask from the threaded build as from the 1-thread one',
  { timeout: SLOW },
  async () => {
    const r = await check(isolated, 'worker', 'dicom');
    assert.deepEqual(r.builds, ['cpu', 'cpu-threads']);
    assert.ok(r.threads[1] > 1, `threads: ${r.threads}`);
    assert.equal(r.model, 'lung-ct');
    // CT_small.dcm is 128×128: segmented at its own size by both.
    assert.deepEqual(r.sizes, [
      [128, 128],
      [128, 128],
    ]);
    assert.deepEqual(r.classes, [3, 3]);
    assert.deepEqual(r.windows, [
      { center: -600, width: 1500 },
      { center: -600, width: 1500 },
    ]);
    assert.ok(r.marked > 0, 'nothing marked: equal blank masks would prove little');
    assert.ok(r.masksEqual, 'the masks differ');
    console.log(`CT_small.dcm under the lung-CT model: ${r.marked} of 16384 pixels marked, the same on both builds`);
  },
);

test(
  "threaded and 1-thread builds agree: a 256² inference's probabilities and a training step within 1e-5",
  { timeout: SLOW },
  async () => {
    const r = await check(isolated, 'worker', 'compare', 256, 64);
    assert.deepEqual(r.builds, ['cpu', 'cpu-threads']);
    assert.ok(r.threads[1] > 1, `threads: ${r.threads}`);
    assert.equal(r.probabilities, 256 * 256);
    assert.ok(r.probabilityDiff <= 1e-5, `probabilities differ by ${r.probabilityDiff}`);
    assert.ok(r.masksEqual, 'the masks differ');
    assert.ok(
      r.foreground > 0.05 && r.foreground < 0.95,
      `foreground ${r.foreground}: a blank mask would prove little`,
    );
    assert.deepEqual(r.steps, [1, 1]);
    const [a, b] = r.losses;
    assert.ok(Number.isFinite(a) && Math.abs(a - b) <= 1e-5 * Math.abs(a), `losses ${a} and ${b}`);
    assert.ok(r.tensors > 100, `${r.tensors} tensors compared`);
    assert.ok(r.weightChange > 1e-6, `the step moved no weight (${r.weightChange})`);
    assert.ok(r.weightDiff <= 1e-5, `weights after the step differ by ${r.weightDiff}`);
    console.log(
      `threads ${r.threads[1]}: probabilities differ by ${r.probabilityDiff.toExponential(2)}, loss by ${Math.abs(a - b).toExponential(2)}, weights by ${r.weightDiff.toExponential(2)} (the step moved them by up to ${r.weightChange.toExponential(2)})`,
    );
  },
);

test(
  'the threads option: explicit sizes, the pool fixed once started, 1 thread on request',
  { timeout: SLOW },
  async () => {
    // One page: its pool starts with 3 threads (more than the cores: allowed), and stays so.
    const r = await onHelpersPage(browser, isolated, (page) =>
      evaluateWithTimeout(
        page,
        async () => [
          await window.inWorker('describe', { threads: 3 }),
          await window.inWorker('describe', { threads: 2 }),
          await window.inWorker('describe', { threads: 1 }),
          await window.inWorker('preloaded', { threads: 2 }),
          await window.inWorker('preloaded', { threads: 1 }),
        ],
        undefined,
        SLOW,
      ),
    );
    assert.deepEqual(
      r.slice(0, 3).map((d) => [d.build, d.threads, d.threadsReason]),
      [
        ['cpu-threads', 3, '3 threads (Web Workers): 3 threads were asked for'],
        [
          'cpu-threads',
          3,
          "3 threads (Web Workers): the page's pool was started with 3 by an earlier segmenter, and its size is fixed",
        ],
        ['cpu', 1, '1 thread: 1 thread was asked for'],
      ],
    );
    assert.deepEqual(r.slice(3), ['cpu-threads', 'cpu']);
  },
);

test("on an isolated page's main thread the 1-thread build runs, and says why", { timeout: SLOW }, async () => {
  const r = await check(isolated, 'main', 'describe');
  assert.deepEqual([r.build, r.threads, r.width], ['cpu', 1, 80]);
  assert.equal(
    r.threadsReason,
    "1 thread: it runs on the page's main thread, which may not wait for other threads (Atomics.wait): create it in a Web Worker for threads",
  );
});

test(
  'without cross-origin isolation the 1-thread build runs, in a Worker too, and says why',
  { timeout: SLOW },
  async () => {
    for (const where of ['worker', 'main']) {
      const r = await check(plain, where, 'describe', { threads: 2 });
      assert.deepEqual([r.build, r.threads, r.width, r.height], ['cpu', 1, 80, 60], where);
      assert.equal(
        r.threadsReason,
        '1 thread: the page is not cross-origin isolated (it needs the COOP and COEP headers), so WebAssembly threads cannot share memory',
        where,
      );
    }
  },
);

test('a bad threads value is a config error, from create and from preload', { timeout: SLOW }, async () => {
  const r = await check(isolated, 'worker', 'badThreads');
  for (const e of r) {
    assert.deepEqual([e.isError, e.kind], [true, 'config'], JSON.stringify(e));
    const shown = e.threads === '2' ? '"2"' : e.threads;
    assert.equal(e.message, `config: threads must be an integer from 1 to 16, got ${shown}`, JSON.stringify(e));
  }
  assert.equal(r.length, 14);
});

test('the demo page segments a photo with and without cross-origin isolation', { timeout: SLOW }, async () => {
  for (const crossOriginIsolated of [true, false]) {
    await withPage(
      async ({ page, url }) => {
        await page.goto(url);
        await page.waitForFunction(() => document.body?.dataset.model === 'ready', undefined, { timeout: 120_000 });
        assert.equal(await page.evaluate(() => window.crossOriginIsolated), crossOriginIsolated);
        // The page says how many threads the CPU build runs on, and why (the package's reason).
        const cores = await page.evaluate(() => navigator.hardwareConcurrency);
        const threaded = crossOriginIsolated && cores > 1;
        const badge = page.locator('#backend-badge');
        assert.equal(await badge.innerText(), 'CPU');
        assert.equal(await badge.getAttribute('data-threads'), String(threaded ? Math.min(cores, 8) : 1));
        const shown = page.locator('#backend-threads');
        assert.equal(await shown.isVisible(), threaded);
        if (threaded) {
          assert.equal(await shown.innerText(), `${Math.min(cores, 8)} threads`);
          assert.match(await shown.getAttribute('title'), /threads \(Web Workers\): the browser reports \d+ cores/);
        } else {
          assert.match(await badge.getAttribute('title'), /1 thread: the page is not cross-origin isolated/);
        }
        await page.click('button[aria-label="Segment Real photo 1"]');
        await page.waitForSelector('.card[data-name="isic-0010018.jpg"][data-state="done"]', { timeout: SLOW });
      },
      { browser, server: { ...demoServerOptions({ pkg: PKG }), crossOriginIsolated }, timeout: SLOW },
    );
  }
});

test(
  "a Vite app's Worker runs the threaded build from the bundle, which carries the pool's worker",
  { timeout: SLOW },
  async () => {
    const { build } = await import('vite');
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-vite-threads-'));
    try {
      await build({
        root: path.join(HERE, 'vite-threads-app'),
        configFile: path.join(HERE, 'vite-threads-app/vite.config.js'),
        build: { outDir, emptyOutDir: true },
      });
      const files = fs.readdirSync(outDir, { recursive: true }).map(String);
      for (const pattern of [/thread-worker.*\.js$/, /tinyunet_cpu-threads_bg.*\.wasm$/, /tinyunet_cpu_bg.*\.wasm$/]) {
        assert.ok(
          files.some((f) => pattern.test(f)),
          `nothing like ${pattern} among ${files}`,
        );
      }
      const app = await startServer({ root: outDir, crossOriginIsolated: true, csp: DEMO_CSP });
      try {
        await withPage(
          async ({ page, url, console: log }) => {
            await page.goto(url);
            // Well inside the test's own limit (a run takes seconds), so that a hang, seen once in
            // a full suite run (2026-12-06), fails with the page's console instead of a bare timeout.
            const r = await evaluateWithTimeout(page, () => window.viteResult, undefined, SLOW / 4).catch((e) => {
              throw new Error(`${e.message}; the page's console:\n${log.format()}`);
            });
            const cores = await page.evaluate(() => navigator.hardwareConcurrency);
            assert.deepEqual(r, {
              build: 'cpu-threads',
              threads: Math.min(cores, 8),
              reason: `${Math.min(cores, 8)} threads (Web Workers): the browser reports ${cores} cores${cores > 8 ? ' (the default takes at most 8)' : ''}`,
              width: 64,
              height: 48,
            });
            assert.doesNotMatch(log.format(), /Refused to/i, 'the CSP refused something');
          },
          { browser, server: app, timeout: SLOW },
        );
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  },
);
