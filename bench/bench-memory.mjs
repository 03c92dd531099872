// The training-memory table of ./build.sh bench (bench.mjs calls `trainingMemory`), or on its own:
//   node bench/bench-memory.mjs
// (BENCH_ITERS timed steps a row, default 5; BENCH_MEMORY_ROUNDS alternations of off and default,
// default 1: the step time is the median over them.)
// Needs the built package (`./build.sh pkg`). For each run, a page of its own, so a fresh wasm
// instance of the CPU build (a wasm memory only grows: one run's peak would hide the next's):
// the segmenter's wasm memory after one inference, the run's peak (the memory of the instance it
// trained in: since runs train in an instance of their own, given back at the end, not the
// segmenter's), the segmenter's memory after the run and after an inference that follows it, and
// the median step time. Each row runs twice: micro-batching off (`microBatch` = the batch: the
// whole batch in one pass, as before micro-batches existed) and at the core's default; the page's
// default fine-tune a third time in the segmenter's own instance (`inPlace`: as before runs had
// an instance of their own, the memory kept after the run).
//
// Then the same runs on the WebGPU build (BENCH_GPU=0 skips them, BENCH_MEMORY_CPU=0 the CPU's;
// BENCH_GPU_MEMORY_ITERS timed steps a row, default 1 after 1 warm-up: SwiftShader takes minutes
// a 256² step; BENCH_GPU_MEMORY_ROWS picks rows, e.g. `2,4,page`), micro-batches
// at the core's default, a page each: the GPU buffers the device's pools (cubecl's) hold after one
// inference, the run's peak (the most held at the end of any unit of work), at the run's end, after
// the run gave back what it left unused, and after an inference that follows it.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, evaluateWithTimeout } from '../tests/browser/harness.mjs';
import { benchServerOptions } from './server.mjs';

const HOUR = 3_600_000;
const SIZE = 256;
// The page's default fine-tune: its defaults (batch 4, augmentation, BatchNorm frozen) at 256²,
// one epoch of 20 pairs of which 4 are held back (scored before and after), as the page holds
// back about a fifth.
const PAGE_RUN = { defaults: true, pairs: 20, heldOut: 4 };

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)}`;
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

/** Prints the table, running each row in a fresh page of `url` (the bench pages) in `browser`. */
export async function trainingMemory(
  browser,
  url,
  iters,
  rounds = 1,
  {
    cpu = process.env.BENCH_MEMORY_CPU !== '0',
    gpu = process.env.BENCH_GPU !== '0',
    gpuIters = Number(process.env.BENCH_GPU_MEMORY_ITERS ?? 1),
    gpuRows = process.env.BENCH_GPU_MEMORY_ROWS?.split(',') ?? ['1', '2', '4', 'page'],
  } = {},
) {
  if (cpu) await cpuMemory(browser, url, iters, rounds);
  if (gpu) await gpuMemory(browser, url, gpuIters, gpuRows);
}

/** The CPU rows: micro-batching off and on, `rounds` times, a fresh wasm instance each. */
async function cpuMemory(browser, url, iters, rounds) {
  const measure = async (run, options) => {
    const page = await browser.newPage();
    try {
      await page.goto(url);
      await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
      return await evaluateWithTimeout(
        page,
        ([s, r, o]) => window.bench.trainMemory(s, r, o),
        [SIZE, run, options],
        HOUR,
      );
    } finally {
      await page.close();
    }
  };
  console.log(`\n### Training memory (CPU build, ${SIZE}², a fresh wasm instance a row)\n`);
  console.log(
    "Wasm memory in MiB: the segmenter's after one inference; the run's peak (the memory of the instance it trained in, at its end: a wasm memory never shrinks); the segmenter's after the run, and after an inference that follows it. Off: `microBatch` = the batch (one pass, as before micro-batches); default: the core's (one 256² image a pass). Released: the run trained in an instance of its own, dropped at its end; in place: in the segmenter's (as before).\n",
  );
  console.log(
    "| run | micro-batch | trained | after inference | run's peak | after the run | after a later inference | step ms |",
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const rows = [
    ...[1, 2, 4].map((batch) => [`batch ${batch}, bench steps (no augmentation)`, { batch, iters, warmup: 1 }, batch]),
    [
      `the page's default fine-tune (batch 4, ${PAGE_RUN.pairs - PAGE_RUN.heldOut} pairs + ${PAGE_RUN.heldOut} held back, 1 epoch)`,
      PAGE_RUN,
      4,
    ],
  ];
  const baseSettings = [
    ['off', { microBatch: undefined }],
    ['default', {}],
  ];
  const inPlace = ['default', { inPlace: true }];
  for (const [label, run, batch] of rows) {
    const settings = run === PAGE_RUN ? [...baseSettings, inPlace] : baseSettings;
    // Off and default alternate, `rounds` times: a busy spell of the shared machine then falls
    // on both. Memory is the same every round (a fresh instance each); the time is the median.
    const results = settings.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, [, options]] of settings.entries()) {
        results[i].push(await measure(run, 'microBatch' in options ? { microBatch: batch } : options));
      }
    }
    for (const [i, [name]] of settings.entries()) {
      const rs = results[i];
      const most = (f) => Math.max(...rs.map(f));
      const times = rs.map((r) => r.ms).sort((a, b) => a - b);
      const spread = rs.length > 1 ? ` (${fmt(times[0])}–${fmt(times.at(-1))})` : '';
      const trained = rs.every((r) => r.released) ? 'released' : 'in place';
      console.log(
        `| ${label} | ${name} | ${trained} | ${mib(most((r) => r.inference))} | ${mib(most((r) => r.peak))} | ${mib(most((r) => r.afterRun))} | ${mib(most((r) => r.after))} | ${fmt(times[times.length >> 1])}${spread} |`,
      );
    }
  }
}

/** The WebGPU rows: the same runs, micro-batches at the core's default, a page each; `only`
 * names the rows to run (batch sizes and `page`: on SwiftShader a 256² step takes minutes). */
async function gpuMemory(browser, url, iters, only) {
  const page = await browser.newPage();
  let adapter;
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
    adapter = await page.evaluate(() => window.bench.gpuAdapter());
  } finally {
    await page.close();
  }
  if (!adapter) {
    console.log('\n(WebGPU training memory: this browser offers no WebGPU adapter)');
    return;
  }
  const name = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ');
  console.log(`\n### Training memory (WebGPU build, ${SIZE}², adapter: ${name}, a fresh page a row)\n`);
  console.log(
    "GPU buffers in MiB that the device's pools (cubecl's) hold: after one inference; the run's peak (the most held at the end of any unit of work: a pool gives a buffer back only after long disuse); at the run's end; after the run gave back what it left unused; after an inference that follows it. Micro-batches at the core's default (one 256² image a pass).\n",
  );
  console.log(
    "| run | after inference | run's peak | at the run's end | after release | after a later inference | step ms |",
  );
  console.log('|---|---|---|---|---|---|---|');
  const rows = [
    ...[1, 2, 4].map((batch) => [
      `${batch}`,
      `batch ${batch}, bench steps (no augmentation)`,
      { batch, iters, warmup: 1 },
    ]),
    [
      'page',
      `the page's default fine-tune (batch 4, ${PAGE_RUN.pairs - PAGE_RUN.heldOut} pairs + ${PAGE_RUN.heldOut} held back, 1 epoch)`,
      PAGE_RUN,
    ],
  ].filter(([key]) => only.includes(key));
  for (const [, label, run] of rows) {
    const gpuPage = await browser.newPage();
    try {
      await gpuPage.goto(url);
      await gpuPage.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
      const r = await evaluateWithTimeout(
        gpuPage,
        ([s, r, o]) => window.bench.trainMemory(s, r, o),
        [SIZE, run, { backend: 'webgpu' }],
        HOUR,
      );
      console.log(
        `| ${label} | ${mib(r.inference)} | ${mib(r.peak)} | ${mib(r.afterRun)} | ${mib(r.afterRelease)} | ${mib(r.after)} | ${fmt(r.ms)} |`,
      );
    } finally {
      await gpuPage.close();
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startServer(benchServerOptions());
  const browser = await launchBrowser();
  try {
    await trainingMemory(
      browser,
      server.url,
      Number(process.env.BENCH_ITERS ?? 5),
      Number(process.env.BENCH_MEMORY_ROUNDS ?? 1),
    );
  } finally {
    await browser.close();
    await server.close();
  }
}
