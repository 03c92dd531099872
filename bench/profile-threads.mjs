// Where the threaded CPU build's time goes, per pool thread, and what runs on one thread while
// the other waits (the serial part that keeps it from scaling). Not a test. Chromium's tracing
// samples every Worker (CDP's Profiler only the page), so this traces a 256² inference (or a
// training step) in a Worker of a cross-origin isolated page (bench-pages/threads.html).
// Needs a package whose wasm keeps its function names: `wasm-bindgen` output before `wasm-opt`,
// e.g. for both CPU builds into /tmp/profpkg/wasm (with pkg/*.js beside), then
// TINYUNET_PKG_DIR=/tmp/profpkg. Sampling slows every thread (more so with both busy): read the
// shares, not the times.
//
//   node bench/profile-threads.mjs [infer|train] [threads]     (threads: 1 runs the 1-thread build)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, evaluateWithTimeout } from '../tests/browser/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = process.env.TINYUNET_PKG_DIR ?? path.resolve(HERE, '../pkg');
const [work = 'infer', threadsArg] = process.argv.slice(2);
const threads = threadsArg === undefined ? undefined : Number(threadsArg);
const TOP = Number(process.env.TOP ?? 15);
const IDLE = /Condvar>::wait|\(idle\)|wait_until_cold|\(program\)/;
const short = (s) =>
  (s || '?')
    .replace(/::h[0-9a-f]{16}$/, '')
    .replace(/\[[0-9a-f]{16}\]/g, '')
    .slice(-100);

/** Per traced thread: its samples in time order, `{ time, name, caller }`. */
function threadTimelines(trace) {
  const profiles = new Map();
  for (const e of trace.traceEvents ?? trace) {
    const key = `${e.pid}:${e.id}`;
    if (e.name === 'Profile')
      profiles.set(key, { start: e.args.data.startTime, nodes: new Map(), samples: [], deltas: [] });
    if (e.name !== 'ProfileChunk' || !profiles.has(key)) continue;
    const p = profiles.get(key);
    const { cpuProfile, timeDeltas } = e.args.data;
    for (const n of cpuProfile?.nodes ?? []) p.nodes.set(n.id, n);
    p.samples.push(...(cpuProfile?.samples ?? []));
    p.deltas.push(...(timeDeltas ?? []));
  }
  return [...profiles.values()].map((p) => {
    let time = p.start;
    return p.samples.map((id, i) => {
      time += p.deltas[i] ?? 0;
      const node = p.nodes.get(id);
      return {
        time,
        name: short(node?.callFrame?.functionName),
        caller: short(p.nodes.get(node?.parent)?.callFrame?.functionName),
      };
    });
  });
}

const busy = (timeline) => timeline.filter((s) => !IDLE.test(s.name)).length;

const browser = await launchBrowser({ webgpu: false });
const server = await startServer({
  root: path.join(HERE, 'bench-pages'),
  mounts: { '/pkg/': PKG },
  crossOriginIsolated: true,
});
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}threads.html`);
  await page.waitForFunction(() => window.threadsBenchReady === true, undefined, { timeout: 120_000 });
  const inWorker = (name, ...args) =>
    evaluateWithTimeout(page, ([n, a]) => window.threadsBench.call(n, ...a), [name, args], 3_600_000);
  const call = () =>
    work === 'train' ? inWorker('train', threads, 2, 256, 2, 0) : inWorker('infer', threads, 256, 5, 0);
  await call(); // warm-up: compilation, the pool, memory growth
  await browser.startTracing(page, { categories: ['disabled-by-default-v8.cpu_profiler', 'v8.execute', '__metadata'] });
  const result = await call();
  const trace = JSON.parse(await browser.stopTracing());
  console.log(
    `${work}: ${result.ms.toFixed(0)} ms a run while traced, build ${result.build}, ${result.threads} threads`,
  );
  const timelines = threadTimelines(trace)
    .filter((t) => busy(t) > 100)
    .sort((a, b) => busy(b) - busy(a));
  for (const [i, timeline] of timelines.entries()) {
    const self = new Map();
    let total = 0;
    for (let j = 1; j < timeline.length; j++) {
      const dt = timeline[j].time - timeline[j - 1].time;
      total += dt;
      self.set(timeline[j].name, (self.get(timeline[j].name) ?? 0) + dt);
    }
    console.log(`\nthread ${i + 1}: ${(total / 1000).toFixed(0)} ms sampled`);
    for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP))
      console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
  if (timelines.length >= 2) {
    // Busy samples of one of the two busiest threads taken while the other idled.
    const idleAt = (timeline, time) => {
      let lo = 0;
      let hi = timeline.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (timeline[mid].time < time) lo = mid + 1;
        else hi = mid;
      }
      return IDLE.test(timeline[lo].name);
    };
    const [a, b] = timelines;
    const serial = new Map();
    let all = 0;
    let alone = 0;
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      for (let j = 1; j < x.length; j++) {
        if (IDLE.test(x[j].name)) continue;
        const dt = x[j].time - x[j - 1].time;
        all += dt;
        if (!idleAt(y, x[j].time)) continue;
        alone += dt;
        const key = `${x[j].name.slice(-60)}  <-  ${x[j].caller.slice(-60)}`;
        serial.set(key, (serial.get(key) ?? 0) + dt);
      }
    }
    console.log(
      `\nbusy ${(all / 1000).toFixed(0)} ms, of which ${(alone / 1000).toFixed(0)} ms (${((100 * alone) / all).toFixed(0)} %) while the other thread waited:`,
    );
    for (const [name, t] of [...serial].sort((p, q) => q[1] - p[1]).slice(0, TOP))
      console.log(`${(t / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  }
} finally {
  await browser.close();
  await server.close();
}
