// ./build.sh bench: tinyunet against onnxruntime-web and a TensorFlow.js TinyU-Net
// (bench-pages/tfjs-tinyunet.js) in one headless-Chromium session, plus the native figures from
// `tinyunet bench`. Prints Markdown tables (the README shows the latest).
// Figures, not tests: the machine is shared and noisy, so read the ratios within one run.
//
// Environment: BENCH_ITERS (default 5), BENCH_GPU=0 to skip the (very slow) SwiftShader WebGPU rows,
// BENCH_NATIVE=0 to skip the native figures (and the CLI they need), BENCH_THREAD_ROUNDS (default 3)
// alternations of the 1-thread and threaded CPU builds,
// BENCH_STARTUP_RUNS (default 3) page loads per start-up figure (and first/second visit pairs),
// BENCH_ONLY_VISITS=1 to print only the first/second visit figure, BENCH_CHROMIUM_ARGS (below),
// BENCH_MEMORY_ROUNDS (default 1) alternations of each training-memory row (bench-memory.mjs,
// which also runs alone),
// TINYUNET_BIN for the native CLI to time (default target/release/tinyunet).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  startServer,
  launchBrowser,
  evaluateWithTimeout,
  demoServerOptions,
  withPage,
  CHROMIUM_PATH,
  BASE_ARGS,
} from '../tests/browser/harness.mjs';
import { benchServerOptions } from './server.mjs';
import { trainingMemory } from './bench-memory.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const ITERS = Number(process.env.BENCH_ITERS ?? 5);
const GPU = process.env.BENCH_GPU !== '0';
const HOUR = 3_600_000;
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 3);

/**
 * Marks the demo page's start-up in the page itself (ms since navigation start): `ready` when the
 * model is, `click` when Real photo 1 is clicked (`pause` ms after ready), `mask` when its mask is
 * done. Playwright's own clicks and waits added 0.1–0.5 s of harness latency.
 */
function markStartup(pause) {
  const marks = (window.startupMarks = {});
  new MutationObserver(() => {
    if (!marks.ready && document.body?.dataset.model === 'ready') {
      marks.ready = performance.now();
      setTimeout(() => {
        marks.click = performance.now();
        // The first sample, a real photo: what a visitor clicks first.
        document.querySelector('button[aria-label="Segment Real photo 1"]').click();
      }, pause);
    }
    if (!marks.mask && document.querySelector('.card[data-name="isic-0010018.jpg"][data-state="done"]'))
      marks.mask = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true });
}

/**
 * First and second visit to the demo page (CPU, served as `./build.sh demo` serves it, with
 * `caching`): a fresh browser profile on disk loads the page to its first mask, the browser is
 * closed, then started again on the same profile (its HTTP cache and compiled-code cache) and
 * loads it again; `slow`: both on a 1.5 MB/s, 40 ms connection (Chromium's throttling, which
 * the page's Workers get too). Resolves to `{ first, second }`, each `{ mask, ready, fresh, revalidated }`:
 * ms from navigation to the first mask and to ready, and the files the server sent (200) and
 * confirmed unchanged (304) during that visit.
 */
async function visitTwice(caching, slow) {
  const demo = await startServer({ ...demoServerOptions({ pkg: path.join(ROOT, 'pkg') }), caching });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-bench-profile-'));
  const visit = async () => {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...BASE_ARGS],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.addInitScript(markStartup, 0);
      if (slow) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', {
          offline: false,
          latency: 40,
          downloadThroughput: 1_500_000,
          uploadThroughput: 1_500_000,
        });
      }
      const from = demo.log.length;
      await page.goto(demo.url);
      await page.waitForFunction(() => window.startupMarks.mask, undefined, { timeout: 120_000, polling: 50 });
      const marks = await page.evaluate(() => window.startupMarks);
      // The warm-up and the first mask have run the core a while: time for the browser to write
      // its compiled code next to the cached .wasm before the visitor leaves.
      await page.waitForTimeout(3000);
      const served = demo.log.slice(from);
      return {
        mask: marks.mask,
        ready: marks.ready,
        fresh: served.filter((e) => e.status === 200).length,
        revalidated: served.filter((e) => e.status === 304).length,
      };
    } finally {
      await context.close();
    }
  };
  try {
    return { first: await visit(), second: await visit() };
  } finally {
    await demo.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Prints the first/second visit figures: the demo server's revalidation against no-store, on
 * loopback and on a slow connection.
 */
async function benchVisits() {
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const range = (xs) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  for (const [caching, slow] of [
    ['revalidate', false],
    ['none', false],
    ['revalidate', true],
    ['none', true],
  ]) {
    const runs = [];
    for (let i = 0; i < STARTUP_RUNS; i++) runs.push(await visitTwice(caching, slow));
    const first = runs.map((r) => r.first.mask);
    const second = runs.map((r) => r.second.mask);
    const how =
      caching === 'revalidate'
        ? 'Cache-Control: no-cache + ETag, as www/serve.mjs serves it'
        : 'Cache-Control: no-store, as the demo server did before';
    const files = (v) => `${v.fresh} files sent, ${v.revalidated} answered 304`;
    const link = slow ? 'a 1.5 MB/s connection (throttled)' : 'loopback';
    console.log(
      `\nFirst visit / second visit time to first mask (demo page, CPU, ${link}, ${how}; a fresh browser profile, then the same profile after a browser restart; median of ${runs.length}, range): ` +
        `**${fmt(med(first))} ms / ${fmt(med(second))} ms** (${range(first)} / ${range(second)}); ready ${fmt(med(runs.map((r) => r.first.ready)))} / ${fmt(med(runs.map((r) => r.second.ready)))} ms; ` +
        `second visit: ${files(runs[0].second)}.`,
    );
  }
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

if (process.env.BENCH_ONLY_VISITS === '1') {
  await benchVisits();
  process.exit(0);
}

const server = await startServer(benchServerOptions());
// BENCH_CHROMIUM_ARGS: extra flags, e.g. for a real GPU under headless Linux Chromium
// (`--enable-features=Vulkan --use-angle=vulkan --use-vulkan=native`).
const EXTRA_ARGS = (process.env.BENCH_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean);
const browser = await launchBrowser({ webgpu: true, args: EXTRA_ARGS });
try {
  const page = await browser.newPage();
  // WebGPU validation errors do not reject a run: the invalid pipeline is skipped and a result of
  // garbage comes back in good time. Count them, so that such a figure is not reported as a time.
  const gpuErrors = { count: 0, first: '' };
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    if (/WebGPU validation error/.test(m.text())) {
      if (gpuErrors.count++ === 0) gpuErrors.first = m.text().split('\n')[0];
    } else if (m.type() === 'error') {
      console.error(`[page] ${m.text()}`);
    }
  });
  await page.goto(server.url);
  await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
  const call = (name, ...args) => evaluateWithTimeout(page, ([n, a]) => window.bench[n](...a), [name, args], HOUR);

  // A call that may fail on one backend without aborting the bench: its figure, or a
  // "fails: …" cell; a run that raised WebGPU validation errors (in the console, or on the
  // device as the page counts them) is "invalid: …", not a time.
  const failed = (e) =>
    `fails: ${String(e.message ?? e)
      .split('\n')[0]
      .slice(0, 80)}`;
  const checked = async (what, run) => {
    gpuErrors.count = 0;
    let result;
    try {
      result = await run();
    } catch (e) {
      return failed(e);
    }
    const pageErrors = result.gpuErrors ?? 0;
    const errors = Math.max(gpuErrors.count, pageErrors);
    if (errors > 0) {
      console.error(
        `${what}: ${errors} WebGPU validation errors, the first: ${gpuErrors.first || result.firstGpuError}`,
      );
      return `invalid: ${errors} WebGPU validation errors (see above)`;
    }
    return result;
  };
  // tfjs: its ms, with a warning in the cell if tensors were left behind (memory would grow).
  const tfjsRun = async (backend, iters, warmup) => {
    const r = await checked(`tfjs ${backend}`, () => call('tfjs256', backend, iters, warmup));
    if (typeof r === 'string') return r;
    if (r.leaked !== 0) console.error(`tfjs ${backend}: ${r.leaked} tensors left behind`);
    return r.leaked === 0 ? r.ms : `${fmt(r.ms)} (leaks ${r.leaked} tensors)`;
  };
  const cell = (ms) => (typeof ms === 'number' ? fmt(ms) : ms);
  // Speed-up of tinyunet: the other's time over ours (above 1: tinyunet is faster).
  const ratio = (other, tiny) => (typeof other === 'number' ? `${(other / tiny).toFixed(2)}×` : '');
  // A table row of the 9 columns, the missing ones left empty.
  const row = (...cells) => console.log(`| ${Array.from({ length: 9 }, (_, i) => cells[i] ?? '').join(' | ')} |`);

  console.log(
    `\n### In the browser (headless Chromium ${browser.version()}, this machine, ${new Date().toISOString().slice(0, 10)})\n`,
  );
  console.log(
    "Speed-up: the other library's ms over tinyunet's on the same network (above 1×: tinyunet is faster). tfjs runs a TinyU-Net written with tfjs-core ops (bench-pages/tfjs-tinyunet.js: same layers, random weights, bilinear in place of bicubic upsampling).\n",
  );
  console.log(
    '| backend | work | batch | size | tinyunet ms | onnxruntime-web ms | speed-up vs onnxruntime-web | tfjs ms | speed-up vs tfjs |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  const ortCpu = await call('ort256', 'wasm', ITERS, 1);
  const tfjsCpu = await tfjsRun('wasm', ITERS, 1);
  const cpu = await call('tinyInfer', 'cpu', 1, 256, ITERS, 1);
  row(
    'CPU (wasm, 1 thread, SIMD)',
    'inference',
    1,
    256,
    fmt(cpu),
    fmt(ortCpu),
    ratio(ortCpu, cpu),
    cell(tfjsCpu),
    ratio(tfjsCpu, cpu),
  );
  for (const [batch, size] of [
    [2, 256],
    [8, 128],
  ]) {
    const infer = await call('tinyInfer', 'cpu', batch, size, ITERS, 1);
    const train = await call('tinyTrain', 'cpu', batch, size, ITERS, 1);
    row('CPU', 'inference', batch, size, fmt(infer));
    row(
      'CPU',
      `training step (${(train.ms / infer).toFixed(2)}× inference; wasm memory ${mib(train.memory)})`,
      batch,
      size,
      fmt(train.ms),
    );
  }
  const adapter = GPU ? await call('gpuAdapter') : null;
  if (GPU && !adapter) row('WebGPU', '(this browser offers no WebGPU adapter)');
  if (adapter) {
    // SwiftShader (a CPU pretending to be a GPU) takes tens of seconds a run: one run, and training
    // at 64². A real GPU gets the CPU's iterations, warm-up and training sizes.
    const software = /swiftshader/i.test(`${adapter.vendor} ${adapter.architecture} ${adapter.description}`);
    const label = software
      ? 'WebGPU (SwiftShader)'
      : `WebGPU (${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ')})`;
    const [iters, warmup] = software ? [1, 1] : [ITERS, 3];
    const ortGpu = await checked('onnxruntime-web WebGPU', () => call('ort256', 'webgpu', iters, warmup));
    const tfjsGpu = await tfjsRun('webgpu', iters, warmup);
    gpuErrors.count = 0;
    const gpu = await call('tinyInfer', 'webgpu', 1, 256, iters, warmup);
    if (gpuErrors.count > 0)
      throw new Error(`tinyunet on WebGPU raised ${gpuErrors.count} validation errors: ${gpuErrors.first}`);
    row(label, 'inference', 1, 256, fmt(gpu), cell(ortGpu), ratio(ortGpu, gpu), cell(tfjsGpu), ratio(tfjsGpu, gpu));
    for (const [batch, size] of software
      ? [[2, 64]]
      : [
          [2, 256],
          [8, 128],
        ]) {
      const train = await call('tinyTrain', 'webgpu', batch, size, iters, warmup);
      row(label, 'training step', batch, size, fmt(train.ms));
    }
  }
  const memory = await call('memoryFlat', 1000);
  console.log(
    `\n1,000 inferences in a row (CPU, 64 px): wasm memory ${mib(memory.before)} before, ${mib(memory.after)} after.`,
  );
  // Training memory: micro-batching off and on, each run in a fresh wasm instance (bench-memory.mjs).
  await trainingMemory(browser, server.url, ITERS, Number(process.env.BENCH_MEMORY_ROUNDS ?? 1));

  // The threaded CPU build against the 1-thread one, side by side in one Worker of a cross-origin
  // isolated page (the only place the package runs it), each through the package: `threads: 1`
  // or the default (the cores the browser reports). Alternating, so that a busy spell of the
  // shared machine does not fall on one build only.
  const isolated = await startServer({
    root: path.join(HERE, 'bench-pages'),
    mounts: { '/pkg/': path.join(ROOT, 'pkg') },
    crossOriginIsolated: true,
  });
  try {
    const threadsPage = await browser.newPage();
    await threadsPage.goto(`${isolated.url}threads.html`);
    await threadsPage.waitForFunction(() => window.threadsBenchReady === true, undefined, { timeout: 120_000 });
    const inWorker = (name, ...args) =>
      evaluateWithTimeout(threadsPage, ([n, a]) => window.threadsBench.call(n, ...a), [name, args], HOUR);
    const cores = await threadsPage.evaluate(() => navigator.hardwareConcurrency);
    console.log(
      `\n### 1 thread against the threaded CPU build (a Web Worker of a cross-origin isolated page; the browser reports ${cores} cores)\n`,
    );
    console.log(
      `| work | batch | size | 1 thread ms (range of ${Number(process.env.BENCH_THREAD_ROUNDS ?? 3)} rounds) | threaded ms (range) | threads | speed-up |`,
    );
    console.log('|---|---|---|---|---|---|---|');
    // ROUNDS alternations of the two builds (each a median of ITERS runs); the row gives the
    // median of the rounds: on this shared machine one build's run can land on a busy spell.
    const rounds = Number(process.env.BENCH_THREAD_ROUNDS ?? 3);
    const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    for (const [work, batch, size] of [
      ['inference', 1, 256],
      ['training step', 2, 256],
    ]) {
      const run = (threads) =>
        work === 'inference'
          ? inWorker('infer', threads, size, ITERS, 1)
          : inWorker('train', threads, batch, size, ITERS, 1);
      const ones = [],
        manys = [];
      let many;
      for (let round = 0; round < rounds; round++) {
        const one = await run(1);
        many = await run(undefined);
        if (one.build !== 'cpu') throw new Error(`threads: 1 ran the ${one.build} build`);
        if (many.build !== 'cpu-threads') console.error(`the default ran the ${many.build} build: ${many.reason}`);
        ones.push(one.ms);
        manys.push(many.ms);
      }
      const [one, threaded] = [med(ones), med(manys)];
      const spread = (xs) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
      console.log(
        `| ${work} | ${batch} | ${size} | ${fmt(one)} (${spread(ones)}) | ${fmt(threaded)} (${spread(manys)}) | ${many.threads} (${many.build}) | **${(one / threaded).toFixed(2)}×** |`,
      );
    }
  } finally {
    await isolated.close();
  }
} finally {
  await browser.close();
  await server.close();
}

// Start-up as a visitor sees it: the demo page, CPU only (no WebGPU flag), from navigation to the
// first mask of a bundled sample at the default 256×256 working size, each time in a fresh browser
// (no code cache): clicking the moment the page is ready, or a second later, which leaves the
// worker's warm-up time to finish. The page clicks and times itself (markStartup). Three runs of each.
for (const pause of [0, 1000]) {
  const runs = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const demo = await startServer(demoServerOptions({ pkg: path.join(ROOT, 'pkg') }));
    const cpuBrowser = await launchBrowser({ webgpu: false });
    try {
      const page = await cpuBrowser.newPage();
      await page.addInitScript(markStartup, pause);
      await page.goto(demo.url);
      await page.waitForFunction(() => window.startupMarks.mask, undefined, { timeout: 120_000, polling: 50 });
      runs.push(await page.evaluate(() => window.startupMarks));
    } finally {
      await cpuBrowser.close();
      await demo.close();
    }
  }
  const median = (f) => runs.map(f).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const range = (f) => `${fmt(Math.min(...runs.map(f)))}–${fmt(Math.max(...runs.map(f)))}`;
  const ready = `${fmt(median((m) => m.ready))} ms after navigation (${range((m) => m.ready)})`;
  const fromClick = `${fmt(median((m) => m.mask - m.click))} ms after the click (${range((m) => m.mask - m.click)})`;
  const fromStart = `${fmt(median((m) => m.mask))} ms after navigation (${range((m) => m.mask)})`;
  console.log(
    `\nStart-up (demo page, CPU, click ${pause} ms after ready; median of ${runs.length}, range): ready ${ready}; first mask ${fromClick}, ${fromStart}.`,
  );
}
// A visitor's second visit against the first (issue 30): what caching saves.
await benchVisits();

const weights = fs.readFileSync(path.join(ROOT, 'www/models/skin-lesion.safetensors'));
const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
const mb = (n) => (n / 1e6).toFixed(2);

// What a visitor downloads before the first mask: every response the demo page (and its Workers)
// fetched from load to the first mask of Real photo 1, each as a server with gzip -9 would send
// it; the sample photo itself is counted apart (page content, not the product). Served with
// COOP/COEP (the page's threaded CPU build) and without (the 1-thread build).
for (const isolated of [false, true]) {
  await withPage(
    async ({ context, page, url }) => {
      const bodies = [];
      context.on('response', (r) =>
        bodies.push(
          r.finished().then(async () => ({ url: r.url(), body: await r.body().catch(() => Buffer.alloc(0)) })),
        ),
      );
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.model === 'ready', undefined, { timeout: 120_000 });
      await page.click('button[aria-label="Segment Real photo 1"]');
      await page.waitForSelector('.card[data-name="isic-0010018.jpg"][data-state="done"]', { timeout: 120_000 });
      // blob: and data: URLs are the page's own (thumbnails, masks), not downloads.
      const files = (await Promise.all(bodies)).filter((f) => /^https?:/.test(f.url));
      const code = files.filter((f) => !/\.(jpe?g|png)$/i.test(new URL(f.url).pathname));
      const raw = code.reduce((s, f) => s + f.body.length, 0);
      const zipped = code.reduce((s, f) => s + gz(f.body), 0);
      const wasm = code.find((f) => f.url.endsWith('.wasm'));
      console.log(
        `\nThe demo page ${isolated ? 'with' : 'without'} cross-origin isolation (${wasm ? path.basename(new URL(wasm.url).pathname) : 'no .wasm'}), navigation to first mask: ${code.length} files (HTML, CSS, JS, .wasm, demo weights) ${mb(raw)} MB raw, **${mb(zipped)} MB gzip**; the sample photos not counted.`,
      );
    },
    {
      server: { ...demoServerOptions({ pkg: path.join(ROOT, 'pkg') }), crossOriginIsolated: isolated },
      launch: { webgpu: false },
    },
  );
}
const packed = fs.readFileSync(path.join(ROOT, 'www/models/skin-lesion.packed.gz'));
console.log(
  `\nDownload (gzip -9): skin-lesion weights ${mb(weights.length)} MB raw, ${mb(gz(weights))} MB gzip (the package's safetensors); the demo page's packed copy (www/models/skin-lesion.packed.gz) ${mb(packed.length)} MB.`,
);
for (const build of ['cpu', 'cpu-threads', 'webgpu']) {
  const wasm = fs.readFileSync(path.join(ROOT, `pkg/wasm/tinyunet_${build}_bg.wasm`));
  console.log(
    `- ${build} build: .wasm ${mb(wasm.length)} MB raw, ${mb(gz(wasm))} MB gzip; with the demo weights ${mb(gz(wasm) + gz(weights))} MB gzip.`,
  );
}

if (process.env.BENCH_NATIVE === '0') process.exit(0);
console.log('\n### Native (`tinyunet bench`)\n');
// TINYUNET_BIN: another build of the CLI (e.g. target/debug/tinyunet, whose dev profile is optimised).
const cli = process.env.TINYUNET_BIN
  ? path.resolve(process.env.TINYUNET_BIN)
  : path.join(ROOT, 'target/release/tinyunet');
const backends = GPU ? ['--backend', 'cpu', '--backend', 'wgpu'] : ['--backend', 'cpu'];
console.log(execFileSync(cli, ['bench', '--iters', String(ITERS), ...backends], { encoding: 'utf8' }));
