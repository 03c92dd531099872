// A visitor's first and second visit (issue 30): the package tells each file's download progress
// (onProgress), the demo page shows it on a slow connection, the server lets the browser keep the
// files (revalidation: 304s on the next visit), and pkg/README.md's Cache API example really
// makes no request for the weights the second time.
//
// Slow connections are Chromium's own network throttling (CDP Network.emulateNetworkConditions),
// which applies to the page's dedicated Workers too. No assertion is about time.
//
// Run: cd tests/browser && node --test --test-concurrency=1 first-visit.test.mjs
// Needs the built package (`./build.sh pkg`).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, withPage, demoServerOptions, evaluateWithTimeout } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const PKG = path.join(ROOT, 'pkg');
const SLOW = 300_000;
/** A slow connection: 1.5 MB/s down, 40 ms round trips (the 2.4 MB CPU core takes ~1.6 s). */
const THROTTLE = { offline: false, latency: 40, downloadThroughput: 1_500_000, uploadThroughput: 1_500_000 };
const sizeOf = (file) => fs.statSync(file).size;

/** Throttles `page` (and the Workers it starts) through the DevTools protocol. */
async function throttle(context, page, conditions = THROTTLE) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', conditions);
  return cdp;
}

/** One GET with optional headers, straight to the server (no browser cache in between). */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

/**
 * Checks one file's events as `LoadProgress` promises them: `start` with the file's size, then
 * `progress` with `loaded` growing up to the size, then one `done` at the size; returns how many
 * `progress` events there were.
 */
function assertOneDownload(events, what, size) {
  assert.ok(events.length >= 2, `${what}: ${events.length} events: ${JSON.stringify(events)}`);
  const [first, last] = [events[0], events.at(-1)];
  assert.equal(first.status, 'start', `${what}: the first event is ${first.status}`);
  assert.equal(first.loaded, 0, `${what}: start says ${first.loaded} bytes loaded`);
  assert.equal(
    first.total,
    size,
    `${what}: start's total (Content-Length) is ${first.total}, the file has ${size} bytes`,
  );
  assert.equal(last.status, 'done', `${what}: the last event is ${last.status}`);
  assert.equal(last.loaded, size, `${what}: done after ${last.loaded} of ${size} bytes`);
  assert.equal(last.total, size);
  assert.equal(last.progress, 100);
  const middle = events.slice(1, -1);
  assert.ok(
    middle.every((e) => e.status === 'progress'),
    `${what}: statuses ${events.map((e) => e.status)}`,
  );
  let before = 0;
  for (const e of middle) {
    assert.ok(e.loaded > before && e.loaded <= size, `${what}: loaded went from ${before} to ${e.loaded} (of ${size})`);
    assert.equal(e.total, size);
    before = e.loaded;
  }
  return middle.length;
}

describe('the server lets the browser keep files (revalidation)', () => {
  let tmp;
  let server;
  let noStore;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-cache-'));
    fs.writeFileSync(path.join(tmp, 'core.wasm'), 'first build');
    server = await startServer({ root: tmp, routes: { '/made-in-memory': { body: 'x' } } });
    noStore = await startServer({ root: tmp, caching: 'none' });
  });
  after(async () => {
    await server?.close();
    await noStore?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a file comes with no-cache and validators; the same ETag or date gets 304 and no body', async () => {
    const first = await get(`${server.url}core.wasm`);
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-control'], 'no-cache');
    assert.ok(first.headers.etag && first.headers['last-modified'], JSON.stringify(first.headers));
    const byTag = await get(`${server.url}core.wasm`, { 'If-None-Match': first.headers.etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    assert.equal(byTag.headers.etag, first.headers.etag);
    const byDate = await get(`${server.url}core.wasm`, { 'If-Modified-Since': first.headers['last-modified'] });
    assert.equal(byDate.status, 304);
    // If-None-Match wins over If-Modified-Since: another tag means the file changed.
    const otherTag = await get(`${server.url}core.wasm`, {
      'If-None-Match': '"0-0"',
      'If-Modified-Since': first.headers['last-modified'],
    });
    assert.equal(otherTag.status, 200);
    assert.deepEqual(
      server.log.filter((e) => e.path === '/core.wasm').map((e) => e.status),
      [200, 304, 304, 200],
    );
  });

  test('a rebuilt file (within the same second) gets a new ETag and is sent again', async () => {
    const file = path.join(tmp, 'core.wasm');
    const old = await get(`${server.url}core.wasm`);
    fs.writeFileSync(file, 'second build');
    // Same size, a modification time 1 ms later: still another file.
    const stat = fs.statSync(file);
    fs.writeFileSync(file, 'third  build');
    fs.utimesSync(file, stat.atime, new Date(stat.mtimeMs + 1));
    const fresh = await get(`${server.url}core.wasm`, { 'If-None-Match': old.headers.etag });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.toString(), 'third  build');
    assert.notEqual(fresh.headers.etag, old.headers.etag);
  });

  test("caching: 'none' and in-memory routes are no-store, without validators", async () => {
    const none = await get(`${noStore.url}core.wasm`);
    assert.equal(none.headers['cache-control'], 'no-store');
    assert.equal(none.headers.etag, undefined);
    const again = await get(`${noStore.url}core.wasm`, { 'If-None-Match': '*' });
    assert.equal(again.status, 200, 'no-store must never answer 304');
    const route = await get(`${server.url}made-in-memory`);
    assert.equal(route.headers['cache-control'], 'no-store');
    await assert.rejects(startServer({ root: tmp, caching: 'forever' }), /caching must be 'revalidate' or 'none'/);
  });
});

describe('in the browser', () => {
  let browser;
  before(async () => {
    assert.ok(
      fs.existsSync(path.join(PKG, 'wasm/tinyunet_cpu_bg.wasm')),
      'pkg/wasm/ is missing: run ./build.sh pkg first',
    );
    browser = await launchBrowser({ webgpu: false });
  });
  after(async () => {
    await browser?.close();
  });

  test(
    'onProgress: the .wasm and the weights, bytes growing to their size, on a slow connection; compiled while streaming',
    { timeout: SLOW },
    async () => {
      const wasmSize = sizeOf(path.join(PKG, 'wasm/tinyunet_cpu_bg.wasm'));
      const weightsSize = sizeOf(path.join(PKG, 'models/skin-lesion.safetensors'));
      await withPage(
        async ({ context, page, url }) => {
          // What the streaming compiler is given: the fetch's own Response (its URL keys the browser's
          // cache of compiled code), not a copy made in the page. The package compiles the module
          // itself (compileStreaming: the compiled module is kept for the training instance); the
          // glue would use instantiateStreaming: either counts.
          await page.addInitScript(() => {
            window.streamed = [];
            for (const name of ['compileStreaming', 'instantiateStreaming']) {
              const original = WebAssembly[name];
              WebAssembly[name] = async (source, ...rest) => {
                const response = await source;
                window.streamed.push({ url: response.url, type: response.type });
                return original.call(WebAssembly, response, ...rest);
              };
            }
          });
          await page.goto(`${url}progress.html`);
          await throttle(context, page);
          const result = await evaluateWithTimeout(
            page,
            async () => {
              const { Segmenter, preload } = await import('/pkg/tinyunet.js');
              const early = [];
              const late = [];
              const created = [];
              // preload starts the .wasm; a create made meanwhile joins that one download.
              const preloading = preload({ backend: 'cpu', threads: 1, onProgress: (p) => early.push(p) });
              const segmenter = await Segmenter.create({
                backend: 'cpu',
                threads: 1,
                weights: '/pkg/models/skin-lesion.safetensors',
                onProgress: (p) => created.push(p),
              });
              await preloading;
              // Once loaded, a later create is told start and done for the .wasm, no download.
              await Segmenter.create({ backend: 'cpu', threads: 1, onProgress: (p) => late.push(p) });
              const notAFunction = await Segmenter.create({ onProgress: 'yes' }).then(
                () => null,
                (e) => e.message,
              );
              return {
                early,
                created,
                late,
                notAFunction,
                backend: segmenter.backend,
                model: segmenter.model.name,
                streamed: window.streamed,
              };
            },
            undefined,
            SLOW,
          );
          assert.equal(result.backend, 'cpu');
          assert.equal(result.model, 'skin-lesion');
          const of = (events, file) => events.filter((e) => e.file === file);
          assert.ok(
            result.early.every(
              (e) => e.file === 'wasm' && e.build === 'cpu' && e.url.endsWith('/pkg/wasm/tinyunet_cpu_bg.wasm'),
            ),
            JSON.stringify(result.early[0]),
          );
          // Throttled, the .wasm arrives in many pieces: several progress events, not one jump.
          assert.ok(
            assertOneDownload(result.early, 'preload: wasm', wasmSize) >= 3,
            `few progress events: ${result.early.length}`,
          );
          assertOneDownload(of(result.created, 'wasm'), 'create: wasm', wasmSize);
          assert.ok(assertOneDownload(of(result.created, 'weights'), 'create: weights', weightsSize) >= 2);
          assert.ok(
            of(result.created, 'weights').every(
              (e) => e.build === null && e.url.endsWith('/pkg/models/skin-lesion.safetensors'),
            ),
          );
          assert.deepEqual(
            result.late.map((e) => [e.file, e.status, e.loaded]),
            [
              ['wasm', 'start', 0],
              ['wasm', 'done', wasmSize],
            ],
          );
          assert.match(result.notAFunction ?? '', /^config: onProgress must be a function/);
          // One download of the .wasm, compiled as it streamed, from the server's own response.
          assert.deepEqual(result.streamed, [{ url: `${url}pkg/wasm/tinyunet_cpu_bg.wasm`, type: 'basic' }]);
        },
        { browser, server: { root: path.join(HERE, 'package-pages'), mounts: { '/pkg/': PKG } } },
      );
    },
  );

  test(
    'the demo page shows "Downloading the model… x of y MB" while it loads on a slow connection, then hides it',
    { timeout: SLOW },
    async () => {
      await withPage(
        async ({ context, page, url, server, console: log }) => {
          // Every text the progress line shows, as it changes.
          await page.addInitScript(() => {
            const texts = (window.progressTexts = []);
            new MutationObserver(() => {
              const line = document.getElementById('model-progress');
              if (line && !line.hidden && texts.at(-1) !== line.textContent) texts.push(line.textContent);
            }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
          });
          await throttle(context, page);
          await page.goto(url);
          await page.waitForFunction(() => document.body.dataset.model === 'ready', undefined, { timeout: SLOW });
          const texts = await page.evaluate(() => window.progressTexts);
          const figures = texts
            .map((t) => t.match(/^Downloading the model… (\d+\.\d) of (\d+\.\d) MB$/))
            .filter(Boolean)
            .map((m) => [Number(m[1]), Number(m[2])]);
          assert.ok(figures.length >= 5, `the progress line showed: ${JSON.stringify(texts)}`);
          // The bytes only grow, up to the total of the files the model needed.
          for (let i = 1; i < figures.length; i++) {
            assert.ok(
              figures[i][0] >= figures[i - 1][0] && figures[i][1] >= figures[i - 1][1],
              `went back: ${JSON.stringify(figures)}`,
            );
          }
          const downloaded = server.log.filter((e) => e.status === 200 && /\.wasm$|\.packed\.gz$/.test(e.path));
          assert.equal(downloaded.length, 2, `files: ${JSON.stringify(downloaded)}`);
          const total = downloaded.reduce(
            (sum, e) => sum + sizeOf(path.join(e.path.startsWith('/pkg/') ? ROOT : path.join(ROOT, 'www'), e.path)),
            0,
          );
          assert.deepEqual(
            figures.at(-1),
            [Number((total / 1e6).toFixed(1)), Number((total / 1e6).toFixed(1))],
            `texts: ${JSON.stringify(texts)}`,
          );
          // Once ready, the line is gone.
          assert.equal(await page.locator('#model-progress').isHidden(), true);
          assert.deepEqual(log.errors, [], log.format());
        },
        { browser, server: demoServerOptions() },
      );
    },
  );

  test(
    'a second visit revalidates: 304s for the .wasm and the weights, nothing downloaded again',
    { timeout: SLOW },
    async () => {
      await withPage(
        async ({ context, page, url, server, console: log }) => {
          await page.goto(url);
          await page.waitForFunction(() => document.body.dataset.model === 'ready', undefined, { timeout: SLOW });
          const firstVisit = server.log.length;
          const big = (entries) => entries.filter((e) => /\.wasm$|\.packed\.gz$/.test(e.path));
          assert.deepEqual(
            big(server.log).map((e) => e.status),
            [200, 200],
            JSON.stringify(big(server.log)),
          );
          // The visitor comes back: a new tab of the same browser profile.
          await page.close();
          const again = await context.newPage();
          await again.goto(url);
          await again.waitForFunction(() => document.body.dataset.model === 'ready', undefined, { timeout: SLOW });
          const second = server.log.slice(firstVisit);
          assert.deepEqual(
            big(second).map((e) => e.status),
            [304, 304],
            JSON.stringify(big(second)),
          );
          const resent = second.filter((e) => e.status === 200);
          assert.deepEqual(resent, [], `sent again on the second visit: ${JSON.stringify(resent)}`);
          assert.deepEqual(log.errors, [], log.format());
        },
        { browser, server: demoServerOptions() },
      );
    },
  );

  test(
    "pkg/README.md's Cache API example: the second load makes no request for the weights",
    { timeout: SLOW },
    async () => {
      const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
      const example = readme.match(/### Caching the weights[\s\S]*?```js\n([\s\S]*?)```/)?.[1];
      assert.ok(example, 'pkg/README.md has no ```js example under "### Caching the weights"');
      const server = await startServer({
        root: path.join(HERE, 'package-pages'),
        mounts: { '/pkg/': PKG },
        routes: { '/readme-cache-example.js': { body: example, type: 'text/javascript' } },
      });
      try {
        await withPage(
          async ({ page, requests, console: log }) => {
            const weights = (entries) =>
              entries.filter((e) => (e.path ?? new URL(e.url).pathname) === '/pkg/models/skin-lesion.safetensors');
            await page.goto(`${server.url}cache-weights.html`);
            await page.waitForFunction(() => window.cacheExample, undefined, { timeout: SLOW });
            assert.deepEqual(await page.evaluate(() => window.cacheExample), {
              backend: 'cpu',
              model: 'skin-lesion',
              parameters: 481105,
            });
            assert.equal(weights(server.log).length, 1, 'the first load fetched the weights once');
            assert.equal(await page.evaluate(() => caches.has('my-app-weights-v1')), true);
            const [logMark, requestMark] = [server.log.length, requests.requests.length];
            await page.reload();
            await page.waitForFunction(() => window.cacheExample, undefined, { timeout: SLOW });
            assert.deepEqual(await page.evaluate(() => window.cacheExample), {
              backend: 'cpu',
              model: 'skin-lesion',
              parameters: 481105,
            });
            // Not even a revalidation: neither the server nor the browser saw a request for them.
            assert.deepEqual(weights(server.log.slice(logMark)), []);
            assert.deepEqual(weights(requests.requests.slice(requestMark)), []);
            // The page did load again (the check above is not vacuous).
            assert.ok(server.log.slice(logMark).some((e) => e.path === '/readme-cache-example.js'));
            assert.deepEqual(log.errors, [], log.format());
          },
          { browser, server },
        );
      } finally {
        await server.close();
      }
    },
  );
});
