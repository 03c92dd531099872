// Tests of the browser-test harness itself, and of the facts about this
// machine's Chromium that the tinyunet tests rely on (WebGPU adapter in
// page and worker, cross-origin isolation, request recording).
//
// Run: cd tests/browser && node --test --test-concurrency=1

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer,
  launchBrowser,
  recordRequests,
  collectConsole,
  withPage,
  evaluateWithTimeout,
  startRecordingProxy,
  isAllowedUrl,
  mimeType,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGES = path.join(HERE, 'pages');

/**
 * GET/HEAD with the path sent exactly as written: `fetch` and `new URL`
 * would normalise `../` away before it reached the server.
 * @returns {Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }>}
 */
function rawRequest(origin, rawPath, method = 'GET') {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startServer', () => {
  /** @type {string} */
  let tmp;
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let isolated;

  before(async () => {
    // root/ is served at /, pkg/ at /pkg/; secret.txt sits beside both and
    // must never be reachable.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyunet-harness-'));
    const root = path.join(tmp, 'root');
    const pkg = path.join(tmp, 'pkg');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    fs.mkdirSync(pkg);
    fs.writeFileSync(path.join(tmp, 'secret.txt'), 'SECRET');
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><p>root index');
    fs.writeFileSync(path.join(root, 'sub', 'index.html'), '<!doctype html><p>sub index');
    for (const ext of [
      'wasm',
      'js',
      'mjs',
      'json',
      'html',
      'css',
      'png',
      'jpg',
      'svg',
      'safetensors',
      'bin',
      'unknownext',
    ]) {
      fs.writeFileSync(path.join(root, `file.${ext}`), `content of ${ext}`);
    }
    fs.writeFileSync(path.join(root, 'pkg-shadowed.txt'), 'from root');
    fs.writeFileSync(path.join(pkg, 'tinyunet_bg.wasm'), 'wasm from pkg');
    server = await startServer({ root, mounts: { '/pkg/': pkg }, csp: "default-src 'self'" });
    isolated = await startServer({ root, crossOriginIsolated: true });
  });

  after(async () => {
    await server?.close();
    await isolated?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('binds to 127.0.0.1 on an ephemeral port', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(server.origin + '/', server.url);
    assert.ok(server.port > 0);
  });

  test('serves each file type with its MIME type', async () => {
    const expected = {
      wasm: 'application/wasm',
      js: 'text/javascript; charset=utf-8',
      mjs: 'text/javascript; charset=utf-8',
      json: 'application/json; charset=utf-8',
      html: 'text/html; charset=utf-8',
      css: 'text/css; charset=utf-8',
      png: 'image/png',
      jpg: 'image/jpeg',
      svg: 'image/svg+xml',
      safetensors: 'application/octet-stream',
      bin: 'application/octet-stream',
      unknownext: 'application/octet-stream',
    };
    for (const [ext, type] of Object.entries(expected)) {
      const r = await rawRequest(server.origin, `/file.${ext}`);
      assert.equal(r.status, 200, `GET /file.${ext}: status`);
      assert.equal(r.headers['content-type'], type, `GET /file.${ext}: Content-Type`);
      assert.equal(r.body, `content of ${ext}`, `GET /file.${ext}: body`);
    }
    assert.equal(mimeType('model.SAFETENSORS'), 'application/octet-stream');
  });

  test('sends files for revalidation (no-cache + ETag), the rest no-store, CSP, and no isolation headers unless asked', async () => {
    const r = await rawRequest(server.origin, '/file.js');
    // Files are kept by the browser and revalidated (first-visit.test.mjs tests the 304s).
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(r.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal((await rawRequest(server.origin, '/nope.js')).headers['cache-control'], 'no-store');
    assert.equal(r.headers['content-security-policy'], "default-src 'self'");
    assert.equal(r.headers['cross-origin-opener-policy'], undefined, 'COOP sent without crossOriginIsolated');
    assert.equal(r.headers['cross-origin-embedder-policy'], undefined, 'COEP sent without crossOriginIsolated');
  });

  test('crossOriginIsolated adds COOP/COEP to every response', async () => {
    for (const p of ['/', '/file.js', '/file.wasm', '/missing']) {
      const r = await rawRequest(isolated.origin, p);
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', `COOP on ${p}`);
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', `COEP on ${p}`);
    }
  });

  test('serves index.html for folders and redirects a folder without its slash', async () => {
    assert.match((await rawRequest(server.origin, '/')).body, /root index/);
    assert.match((await rawRequest(server.origin, '/sub/')).body, /sub index/);
    const r = await rawRequest(server.origin, '/sub');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/sub/');
  });

  test('mounts a second folder under a URL prefix', async () => {
    const r = await rawRequest(server.origin, '/pkg/tinyunet_bg.wasm');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'wasm from pkg');
    assert.equal(r.headers['content-type'], 'application/wasm');
    // The prefix belongs to the mount: root's files are not visible under it.
    assert.equal((await rawRequest(server.origin, '/pkg/pkg-shadowed.txt')).status, 404);
    assert.equal((await rawRequest(server.origin, '/pkg-shadowed.txt')).status, 200);
  });

  test('refuses paths that leave the served folder', async () => {
    const attempts = [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/sub/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/pkg/../secret.txt',
      '/pkg/%2e%2e/%2e%2e/secret.txt',
      '/pkg/%2e%2e/root/index.html',
    ];
    for (const p of attempts) {
      const r = await rawRequest(server.origin, p);
      assert.equal(r.status, 403, `GET ${p} should be refused with 403, got ${r.status}: ${r.body}`);
      assert.doesNotMatch(r.body, /SECRET/, `GET ${p} leaked the file`);
    }
    // `..` that stays inside the folder is fine.
    assert.equal((await rawRequest(server.origin, '/sub/../file.txt')).status, 404);
    assert.equal((await rawRequest(server.origin, '/sub/../file.css')).status, 200);
  });

  test('404 for missing files, 204 for a missing favicon, 405 for POST, HEAD has no body', async () => {
    assert.equal((await rawRequest(server.origin, '/nope.js')).status, 404);
    assert.equal((await rawRequest(server.origin, '/favicon.ico')).status, 204);
    assert.equal((await rawRequest(server.origin, '/file.js', 'POST')).status, 405);
    const head = await rawRequest(server.origin, '/file.wasm', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String('content of wasm'.length));
  });

  test('logs what it served', () => {
    assert.ok(
      server.log.some((e) => e.path === '/pkg/tinyunet_bg.wasm' && e.status === 200),
      JSON.stringify(server.log),
    );
    assert.ok(server.log.some((e) => e.path === '/../secret.txt' && e.status === 403));
  });

  test('refuses a non-loopback host', async () => {
    await assert.rejects(startServer({ root: tmp, host: '0.0.0.0' }), /loopback/);
  });
});

describe('WebGPU in headless Chromium', () => {
  const KEY = [
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeInvocationsPerWorkgroup',
  ];

  /** Prints a probe report (see pages/webgpu-probe.js) as test diagnostics. */
  function printReport(t, where, r) {
    t.diagnostic(`${where}: adapter.info ${JSON.stringify(r.adapterInfo)}`);
    t.diagnostic(`${where}: features ${r.features?.join(', ')}`);
    for (const k of KEY) {
      t.diagnostic(
        `${where}: ${k}: adapter ${r.adapterLimits?.[k]}, device default ${r.deviceDefault?.limits?.[k]}, ` +
          `requiredLimits=adapter.limits ${r.deviceAdapterLimitsObject?.limits?.[k]}, requiredLimits=copy ${r.deviceAllLimits?.limits?.[k]}`,
      );
    }
  }

  /** What must hold in the page and in the worker alike. */
  function checkReport(where, r) {
    const dump = `\n${where} report: ${JSON.stringify(r, null, 1)}`;
    assert.equal(r.hasNavigatorGpu, true, `${where}: navigator.gpu is missing${dump}`);
    assert.equal(r.adapter, true, `${where}: navigator.gpu.requestAdapter() returned null${dump}`);
    for (const k of KEY) {
      assert.ok(
        Number.isFinite(r.adapterLimits[k]) && r.adapterLimits[k] > 0,
        `${where}: adapter limit ${k} missing${dump}`,
      );
    }
    for (const variant of ['deviceDefault', 'deviceAdapterLimitsObject', 'deviceAllLimits']) {
      assert.equal(r[variant].ok, true, `${where}: requestDevice (${variant}) failed: ${r[variant].error}${dump}`);
      assert.equal(
        r[variant].kernel,
        'ok',
        `${where}: compute kernel on the ${variant} device: ${r[variant].kernel}${dump}`,
      );
    }
    // Asking for everything the adapter has must give exactly that.
    for (const [k, v] of Object.entries(r.adapterLimits)) {
      assert.equal(r.deviceAllLimits.limits[k], v, `${where}: device did not get the requested ${k}${dump}`);
    }
  }

  test('the page and a dedicated worker get an adapter and a working device', { timeout: 120_000 }, async (t) => {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(url + 'webgpu.html');
        const inPage = await evaluateWithTimeout(page, () => window.probeWebGPU(), undefined, 60_000);
        printReport(t, 'page', inPage);
        checkReport('page', inPage);
        const inWorker = await evaluateWithTimeout(page, () => window.probeInWorker(), undefined, 60_000);
        printReport(t, 'worker', inWorker);
        checkReport('worker', inWorker);
        assert.deepEqual(inWorker.adapterLimits, inPage.adapterLimits, 'worker and page adapters differ');
        assert.deepEqual(log.errors, [], `uncaught errors:\n${log.format()}`);
      },
      { server: { root: PAGES } },
    );
  });

  test('webgpu: false leaves navigator.gpu but gives no adapter (CPU-fallback path)', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, url }) => {
        await page.goto(url + 'webgpu.html');
        const r = await evaluateWithTimeout(page, () => window.probeWebGPU(), undefined, 30_000);
        assert.equal(r.hasNavigatorGpu, true, 'navigator.gpu should still exist');
        assert.equal(
          r.adapter,
          false,
          `expected requestAdapter() to give null without --enable-unsafe-webgpu, got ${JSON.stringify(r.adapterInfo)}`,
        );
        const w = await evaluateWithTimeout(page, () => window.probeInWorker(), undefined, 30_000);
        assert.equal(w.adapter, false, 'worker got an adapter without --enable-unsafe-webgpu');
      },
      { server: { root: PAGES }, launch: { webgpu: false } },
    );
  });
});

describe('cross-origin isolation', () => {
  test('COOP/COEP make page and worker crossOriginIsolated with SharedArrayBuffer', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, url }) => {
        await page.goto(url + 'isolation.html');
        const r = await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
        const want = { crossOriginIsolated: true, sharedArrayBuffer: true, sharedMemory: true };
        assert.deepEqual(r.page, want, `page: ${JSON.stringify(r.page)}`);
        assert.deepEqual(r.worker, want, `worker: ${JSON.stringify(r.worker)}`);
      },
      { server: { root: PAGES, crossOriginIsolated: true }, launch: { webgpu: false } },
    );
  });

  test('without COOP/COEP there is no SharedArrayBuffer', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, url }) => {
        await page.goto(url + 'isolation.html');
        const r = await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
        for (const where of ['page', 'worker']) {
          assert.equal(r[where].crossOriginIsolated, false, `${where}: ${JSON.stringify(r[where])}`);
          assert.equal(r[where].sharedArrayBuffer, false, `${where}: ${JSON.stringify(r[where])}`);
          assert.notEqual(
            r[where].sharedMemory,
            true,
            `${where}: shared wasm memory should fail: ${JSON.stringify(r[where])}`,
          );
        }
      },
      { server: { root: PAGES }, launch: { webgpu: false } },
    );
  });
});

describe('request recording', () => {
  /** A second origin (other host and port) that notes what reaches it. */
  let foreign;
  before(async () => {
    foreign = await startServer({ host: '127.0.0.2', routes: { '/x': { body: 'foreign\n', type: 'text/plain' } } });
  });
  after(async () => {
    await foreign?.close();
  });

  test('recordRequests sees an off-origin fetch made by a dedicated worker', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, server, requests }) => {
        const off = foreign.origin + '/x';
        const target = `${server.url}worker-fetch.html?fetch=data.txt&fetch=${encodeURIComponent(off)}`;
        await page.goto(target);
        const results = await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
        assert.equal(results[0].body, 'same-origin data', `same-origin fetch: ${JSON.stringify(results[0])}`);
        // No CORS header, so the worker sees a failure, but the request was made.
        assert.ok(
          foreign.log.some((e) => e.path === '/x'),
          'the foreign server never got the request',
        );
        // worker-fetch.html itself fetches nothing, so these came from the worker.
        const offOrigin = requests.offOrigin(server.origin);
        assert.deepEqual(
          offOrigin.map((r) => [r.url, r.resourceType]),
          [[off, 'fetch']],
          `expected exactly the worker's off-origin fetch; recorded:\n${JSON.stringify(requests.requests, null, 1)}`,
        );
        assert.ok(
          requests.requests.some((r) => r.url === server.url + 'data.txt' && r.resourceType === 'fetch'),
          "the worker's same-origin fetch was not recorded",
        );
      },
      { server: { root: PAGES }, launch: { webgpu: false } },
    );
  });

  test('recordRequests reports nothing off-origin when the page stays on its origin', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, server, requests }) => {
        await page.goto(`${server.url}worker-fetch.html?fetch=data.txt&fetch=worker-fetch.js`);
        const results = await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
        assert.deepEqual(
          results.map((r) => r.status),
          [200, 200],
          JSON.stringify(results),
        );
        assert.deepEqual(requests.offOrigin(server.origin), [], JSON.stringify(requests.requests, null, 1));
        // Not vacuous: the recorder did see the page, the worker script and both worker fetches.
        const seen = requests.urls();
        for (const p of ['worker-fetch.html', 'worker-fetch.js', 'data.txt']) {
          assert.ok(
            seen.some((u) => u.startsWith(server.url + p)),
            `${p} not recorded; saw ${seen.join(', ')}`,
          );
        }
        assert.equal(
          requests.requests.filter((r) => r.resourceType === 'fetch').length,
          2,
          JSON.stringify(requests.requests, null, 1),
        );
      },
      { server: { root: PAGES }, launch: { webgpu: false } },
    );
  });

  test('isAllowedUrl treats data:/blob: as local and ws: as its http origin', () => {
    const o = 'http://127.0.0.1:8000';
    assert.equal(isAllowedUrl('http://127.0.0.1:8000/a.wasm', o), true);
    assert.equal(isAllowedUrl('data:text/plain,hi', o), true);
    assert.equal(isAllowedUrl('blob:http://127.0.0.1:8000/123', o), true);
    assert.equal(isAllowedUrl('ws://127.0.0.1:8000/live', o), true);
    assert.equal(isAllowedUrl('http://127.0.0.1:8001/a', o), false);
    assert.equal(isAllowedUrl('http://localhost:8000/a', o), false);
    assert.equal(isAllowedUrl('https://cdn.example.com/x.js', [o, 'http://127.0.0.2:1']), false);
  });

  test(
    'through the recording proxy, Chromium itself sends nothing off-origin (WebGPU page)',
    { timeout: 60_000 },
    async () => {
      // Guards BASE_ARGS: without the component-updater/GAIA flags Chromium
      // 156 contacts update.googleapis.com and accounts.google.com at start-up,
      // which would make every "no request leaves the origin" check fail.
      const proxy = await startRecordingProxy();
      try {
        await withPage(
          async ({ page, server }) => {
            await page.goto(server.url + 'webgpu.html');
            await evaluateWithTimeout(page, () => window.probeInWorker(), undefined, 30_000);
            // Start-up chatter comes within a few seconds of launch.
            await page.waitForTimeout(3000);
            assert.deepEqual(
              proxy.offOrigin(server.origin),
              [],
              `off-origin traffic:\n${JSON.stringify(proxy.entries, null, 1)}`,
            );
            assert.ok(
              proxy.entries.some((e) => e.url === server.url + 'webgpu-worker.js'),
              `proxy saw no page traffic: ${JSON.stringify(proxy.entries)}`,
            );
          },
          { server: { root: PAGES }, launch: { proxy } },
        );
      } finally {
        await proxy.close();
      }
    },
  );

  test(
    'through the recording proxy, a page with form fields sends nothing off-origin either',
    { timeout: 60_000 },
    async () => {
      // Guards the --autofill-server-url flag: without it Chromium asks
      // content-autofill.googleapis.com about every page with text or number fields.
      const proxy = await startRecordingProxy();
      try {
        await withPage(
          async ({ page, server }) => {
            await page.goto(server.url + 'form.html');
            await page.locator('input[type="text"]').fill('x');
            await page.waitForTimeout(3000);
            assert.deepEqual(
              proxy.offOrigin(server.origin),
              [],
              `off-origin traffic:\n${JSON.stringify(proxy.entries, null, 1)}`,
            );
          },
          { server: { root: PAGES }, launch: { webgpu: false, proxy } },
        );
      } finally {
        await proxy.close();
      }
    },
  );

  test(
    'the recording proxy also sees SharedWorker fetches and never leaves loopback',
    { timeout: 60_000 },
    async (t) => {
      const proxy = await startRecordingProxy();
      try {
        await withPage(
          async ({ page, server, requests }) => {
            const off = foreign.origin + '/x';
            const nowhere = 'http://example.invalid/never';
            await page.goto(
              `${server.url}shared-worker-fetch.html?fetch=data.txt&fetch=${encodeURIComponent(off)}&fetch=${encodeURIComponent(nowhere)}`,
            );
            const results = await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
            assert.equal(results[0].status, 200, JSON.stringify(results));
            const offOrigin = proxy.offOrigin(server.origin).map((e) => e.url);
            assert.deepEqual(offOrigin, [off, nowhere], `proxy entries:\n${JSON.stringify(proxy.entries, null, 1)}`);
            // Forwarded to the loopback server; example.invalid was answered by
            // the proxy itself (no DNS lookup, no connection).
            assert.ok(
              foreign.log.some((e) => e.path === '/x'),
              'proxy did not forward to the loopback server',
            );
            // Playwright does not attach to SharedWorkers; report, don't assert,
            // so a Playwright that learns to will not fail this test.
            const pw = requests.offOrigin(server.origin).map((r) => r.url);
            t.diagnostic(
              `recordRequests saw ${pw.length} of the SharedWorker's 2 off-origin requests: ${pw.join(', ') || 'none'}`,
            );
          },
          { server: { root: PAGES }, launch: { webgpu: false, proxy } },
        );
      } finally {
        await proxy.close();
      }
    },
  );
});

describe('console collection and withPage', () => {
  test('collectConsole gets page and worker messages and uncaught errors from both', { timeout: 60_000 }, async () => {
    await withPage(
      async ({ page, url, console: log }) => {
        await page.goto(url + 'console.html');
        await evaluateWithTimeout(page, () => window.done, undefined, 30_000);
        // Both throws are in setTimeout(0); give them a moment to arrive.
        await page.waitForFunction(() => true);
        const deadline = Date.now() + 10_000;
        while (log.errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const texts = log.messages.map((m) => `${m.source}|${m.type}|${m.text}`);
        assert.ok(texts.includes('page|log|hello from the page'), texts.join('\n'));
        assert.ok(texts.includes(`worker ${url}console-worker.js|warning|hello from the worker`), texts.join('\n'));
        const errors = log.errors.map((e) => e.message).sort();
        assert.deepEqual(errors, ['page boom', 'worker boom'], log.format());
        assert.deepEqual(
          log.problems().map((m) => m.text),
          ['hello from the worker'],
        );
        assert.match(log.format(), /UNCAUGHT: .*worker boom/);
      },
      { server: { root: PAGES }, launch: { webgpu: false } },
    );
  });

  test('withPage adds the console to a failure and closes what it opened', { timeout: 60_000 }, async () => {
    let browser;
    let serverUrl;
    await assert.rejects(
      withPage(
        async (env) => {
          browser = env.browser;
          serverUrl = env.url;
          await env.page.goto(env.url + 'console.html');
          await evaluateWithTimeout(env.page, () => window.done, undefined, 30_000);
          throw new Error('deliberate failure');
        },
        { server: { root: PAGES }, launch: { webgpu: false } },
      ),
      (e) => {
        assert.match(e.message, /^deliberate failure\n--- browser console ---\n/);
        assert.match(e.message, /hello from the page/);
        return true;
      },
    );
    assert.equal(browser.isConnected(), false, 'browser still open after withPage');
    await assert.rejects(
      rawRequest(new URL(serverUrl).origin, '/'),
      /ECONNREFUSED/,
      'server still listening after withPage',
    );
  });

  test('withPage leaves a browser and server it was given open', { timeout: 60_000 }, async () => {
    const browser = await launchBrowser({ webgpu: false });
    const server = await startServer({ root: PAGES });
    try {
      await withPage(
        async ({ page, url }) => {
          await page.goto(url + 'data.txt');
        },
        { browser, server },
      );
      assert.equal(browser.isConnected(), true);
      assert.equal((await rawRequest(server.origin, '/data.txt')).status, 200);
      assert.equal(browser.contexts().length, 0, 'withPage left its context open');
    } finally {
      await browser.close();
      await server.close();
    }
  });

  test(
    'evaluateWithTimeout fails instead of hanging on a promise that never settles',
    { timeout: 60_000 },
    async () => {
      await withPage(
        async ({ page }) => {
          await assert.rejects(
            evaluateWithTimeout(page, () => new Promise(() => {}), undefined, 500),
            /did not settle within 500 ms/,
          );
        },
        { launch: { webgpu: false } },
      );
    },
  );
});

describe('using the pieces without withPage', () => {
  test('launchBrowser + recordRequests + collectConsole on a plain context', { timeout: 60_000 }, async () => {
    const server = await startServer({ root: PAGES });
    const browser = await launchBrowser({ webgpu: false });
    try {
      const context = await browser.newContext();
      const rec = recordRequests(context);
      const page = await context.newPage();
      const log = collectConsole(page);
      await page.goto(server.url + 'worker-fetch.html?fetch=data.txt');
      await evaluateWithTimeout(page, () => window.done);
      rec.stop();
      log.stop();
      assert.deepEqual(rec.offOrigin(server.origin), []);
      assert.equal(log.errors.length, 0, log.format());
      await context.close();
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
