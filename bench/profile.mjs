// A CPU profile of tinyunet in headless Chromium: where a training step's (or an inference's) time
// goes, by wasm function. Not a test. Needs a package whose CPU build keeps its function names:
// `wasm-bindgen` output before `wasm-opt` (which drops them), e.g. TINYUNET_PKG_DIR=/tmp/profpkg.
//
//   node bench/profile.mjs [train|infer] [batch] [size]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, evaluateWithTimeout } from '../tests/browser/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const [work = 'train', batch = '2', size = '256'] = process.argv.slice(2);
const PKG = process.env.TINYUNET_PKG_DIR ?? path.join(ROOT, 'pkg');

const server = await startServer({
  root: path.join(HERE, 'bench-pages'),
  mounts: {
    '/pkg/': PKG,
    '/ort/': path.join(HERE, 'node_modules/onnxruntime-web/dist'),
    '/bench-files/': path.join(ROOT, '../shared/bench'),
  },
});
const browser = await launchBrowser({ webgpu: false });
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
  const call = (...args) =>
    evaluateWithTimeout(
      page,
      ([w, b, s]) =>
        w === 'train' ? window.bench.tinyTrain('cpu', b, s, 3, 1) : window.bench.tinyInfer('cpu', b, s, 3, 1),
      args,
      600_000,
    );
  await call(work, Number(batch), Number(size)); // warm-up: compilation and memory growth
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.send('Profiler.start');
  await call(work, Number(batch), Number(size));
  const { profile } = await cdp.send('Profiler.stop');
  const dt = new Map(profile.nodes.map((n) => [n.id, 0]));
  for (let i = 0; i < profile.samples.length; i++)
    dt.set(profile.samples[i], dt.get(profile.samples[i]) + (profile.timeDeltas[i] ?? 0));
  const self = new Map();
  let total = 0;
  for (const n of profile.nodes) {
    const name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop()})`;
    const t = dt.get(n.id);
    total += t;
    self.set(name, (self.get(name) ?? 0) + t);
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40));
  console.log(`${work} batch ${batch} @ ${size}: ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [name, t] of rows) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 150)}`);
  // CALLERS=pattern: who calls the matching functions (three frames up), by time.
  if (process.env.CALLERS) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const short = (n) => (n.callFrame.functionName || '?').replace(/::h[0-9a-f]{16}$/, '').slice(-70);
    const chains = new Map();
    for (const n of profile.nodes) {
      if (!new RegExp(process.env.CALLERS).test(n.callFrame.functionName)) continue;
      const chain = [];
      for (
        let id = parent.get(n.id);
        id !== undefined && chain.length < Number(process.env.DEPTH ?? 4);
        id = parent.get(id)
      )
        chain.push(short(byId.get(id)));
      const key = `${short(n)} <- ${chain.join(' <- ')}`;
      chains.set(key, (chains.get(key) ?? 0) + dt.get(n.id));
    }
    console.log(`\ncallers of /${process.env.CALLERS}/:`);
    for (const [k, t] of [...chains.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25))
      console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
} finally {
  await browser.close();
  await server.close();
}
