// Shared helpers for tinyunet's headless-Chromium tests.
//
// Everything here talks to 127.0.0.0/8 only: the machine (and CI) has no
// network beyond package registries, and tests must never send traffic
// anywhere else. Browsers come from Debian's `chromium` package because
// Playwright's own browser downloads cannot be fetched here.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

/**
 * The Chromium binary. Debian's `/usr/bin/chromium` is a shell wrapper that
 * adds `--enable-remote-extensions`, an empty `--load-extension=` and Google
 * API keys from /etc/chromium.d, and prints a shell error about /dev/shm on
 * this machine; the binary it execs, /usr/lib/chromium/chromium, is used
 * directly when present so only our flags apply. Override with CHROMIUM_PATH.
 */
export const CHROMIUM_PATH =
  process.env.CHROMIUM_PATH ||
  ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => fs.existsSync(p)) ||
  '/usr/bin/chromium';

/**
 * Flags every launch gets. `--no-sandbox` because CI runs as root (the
 * sandbox refuses to start as root). The rest stop Chromium from phoning
 * home: on this closed network those connections fail, and they would show
 * up in a network recording (see startRecordingProxy). Even with
 * `--disable-component-update` and `--disable-background-networking`,
 * Chromium 156 still POSTs an on-demand component update check to
 * update.googleapis.com and opens connections to accounts.google.com at
 * start-up; pointing the component updater and GAIA at port 9 on loopback
 * (a port Chromium refuses to connect to) silences both without a single
 * packet. Any page with a text or number field also makes Chromium ask
 * content-autofill.googleapis.com for field-type predictions (a hash of the
 * form's structure, whatever the page's `autocomplete` says); pointing the
 * autofill server at the same dead port stops that too. None of this is the
 * page's traffic, but a proxy recording (rightly) cannot tell.
 * `--disable-features` is not used: Playwright passes its own, and a
 * second one replaces it rather than adding to it.
 */
export const BASE_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-pings',
  '--disable-domain-reliability',
  '--component-updater=url-source=http://127.0.0.1:9/',
  '--gaia-url=http://127.0.0.1:9/',
  '--autofill-server-url=http://127.0.0.1:9/',
]);

/**
 * The only flag needed for WebGPU on this GPU-less machine. Chromium then
 * hands out its SwiftShader (CPU Vulkan) adapter, `isFallbackAdapter: true`,
 * in pages and in workers. Without it `requestAdapter()` resolves to null
 * (navigator.gpu still exists). Playwright itself already passes
 * `--enable-unsafe-swiftshader`; that is not what matters here (WebGPU
 * works with it stripped), and `--enable-features=Vulkan`,
 * `--use-angle=swiftshader`, `--use-webgpu-adapter=swiftshader` change
 * nothing, so they are left out.
 */
export const WEBGPU_ARGS = Object.freeze(['--enable-unsafe-webgpu']);

// The static server lives with the demo (www/serve.mjs) so that `./build.sh demo` and the tests
// serve files the same way; see startServer there for its options.
import { startServer } from '../../www/serve.mjs';

export { startServer };
export { MIME_TYPES, mimeType, CSP as DEMO_CSP, demoServerOptions } from '../../www/serve.mjs';

/** @typedef {import('../../www/serve.mjs').StaticServer} StaticServer */

/**
 * The folder beside the clone that holds the real images (`<repo>/../shared`),
 * or TINYUNET_SHARED_DIR when set: the override lets a machine that has the
 * data run the tests as a clone without it would (`TINYUNET_SHARED_DIR=/nonexistent`).
 */
export const SHARED_DIR = process.env.TINYUNET_SHARED_DIR
  ? path.resolve(process.env.TINYUNET_SHARED_DIR)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');

/**
 * Sets of `../shared/data` (real patient images under research-use terms, so
 * not in the repository) that a test file needs. node:test has a skip but no
 * way to skip from inside a file's set-up, so the file asks here at its top:
 *
 *   const CT = sharedData('medseg-covid-ct');
 *   test('…', { skip: CT.skip }, async () => { … CT.read('medseg-covid-ct/images/medseg_000.jpg') … });
 *
 * `skip` is false when every set is there, else the reason, naming each
 * missing folder. Under TINYUNET_REQUIRE_SHARED=1 (as `./build.sh test`, and so
 * CI, sets) a missing set throws instead, failing the file: CI cannot pass by
 * skipping.
 *
 * @param {...string} sets  Folder names under `../shared/data`.
 * @returns {{ skip: string | false, path: (rel: string) => string, read: (rel: string) => Buffer | null }}
 *   `path` and `read` take a path under `../shared/data`; `read` gives null
 *   when skipping, so a file's top-level reads do not throw before its tests skip.
 */
export function sharedData(...sets) {
  const data = path.join(SHARED_DIR, 'data');
  const missing = sets.map((set) => path.join(data, set)).filter((dir) => !fs.existsSync(dir));
  const skip =
    missing.length > 0 &&
    `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing (real images, not in the repository: see CONTRIBUTING.md)`;
  if (skip && process.env.TINYUNET_REQUIRE_SHARED === '1') throw new Error(`TINYUNET_REQUIRE_SHARED=1 but ${skip}`);
  return {
    skip,
    path: (rel) => path.join(data, rel),
    read: (rel) => (skip ? null : fs.readFileSync(path.join(data, rel))),
  };
}

/**
 * Launches Debian's Chromium headless through playwright-core.
 *
 * @param {object} [opts]
 * @param {boolean} [opts.webgpu=true]  `true`: WebGPU on (SwiftShader adapter here).
 *   `false`: no WebGPU flag, so on this machine `navigator.gpu` exists but
 *   `requestAdapter()` resolves to null, as in a browser whose GPU is
 *   block-listed (a machine with an allow-listed GPU may still give one).
 *   No switch makes `navigator.gpu` itself undefined in this Chromium
 *   (`--disable-features=WebGPU`, `--disable-blink-features=WebGPU`,
 *   `--disable-webgpu` were tried); for that, delete it in an init script.
 * @param {boolean} [opts.headless=true]
 * @param {string[]} [opts.args]  Extra Chromium switches.
 * @param {{ server: string }} [opts.proxy]  Send every request through this proxy,
 *   loopback included; use with {@link startRecordingProxy}.
 * @param {number} [opts.timeout=30000]  Launch timeout in ms.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(opts = {}) {
  const { webgpu = true, headless = true, args = [], proxy, timeout = 30_000 } = opts;
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `launchBrowser: no Chromium at ${CHROMIUM_PATH}; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  const all = [...BASE_ARGS];
  if (webgpu) all.push(...WEBGPU_ARGS);
  if (proxy) {
    // `<-loopback>` removes Chromium's built-in bypass for localhost/127.*,
    // so requests to our own server go through the proxy too.
    all.push(`--proxy-server=${proxy.server}`, '--proxy-bypass-list=<-loopback>');
  }
  all.push(...args);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless, args: all, timeout });
}

/**
 * One request seen by {@link recordRequests}.
 * `source` is `page` for the page, its frames and its dedicated workers
 * (Playwright attributes worker requests to the frame that started the worker).
 * @typedef {{ url: string, method: string, resourceType: string, source: 'page' | 'service-worker' | 'websocket', failure?: string }} RecordedRequest
 */

/**
 * Records the URL of every request a browser context makes, through
 * Playwright's own network events: pages, iframes, dedicated workers
 * (nested, module and blob: ones too), service workers, WebSockets,
 * beacons, images. Start it before `page.goto`.
 *
 * Not seen: SharedWorker requests (Playwright does not attach to shared
 * workers) and requests the renderer blocks before they reach the network
 * (CSP, mixed content: those show up as console errors instead). For a
 * record of everything the browser's network stack sends, use
 * {@link startRecordingProxy} as well.
 *
 * @param {import('playwright-core').BrowserContext} context
 * @returns {{ requests: RecordedRequest[], urls: () => string[], offOrigin: (allowed: string | string[]) => RecordedRequest[], stop: () => void }}
 */
export function recordRequests(context) {
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Map<import('playwright-core').Request, RecordedRequest>} */
  const byRequest = new Map();
  const onRequest = (req) => {
    // Playwright files a dedicated worker's requests under the frame that
    // started it, so they cannot be told apart from the page's own.
    const source = req.serviceWorker() ? 'service-worker' : 'page';
    const entry = { url: req.url(), method: req.method(), resourceType: req.resourceType(), source };
    byRequest.set(req, entry);
    requests.push(entry);
  };
  const onFailed = (req) => {
    const entry = byRequest.get(req);
    if (entry) entry.failure = req.failure()?.errorText ?? 'failed';
  };
  // WebSockets are not `request` events; they are per page.
  const onWebSocket = (ws) =>
    requests.push({ url: ws.url(), method: 'GET', resourceType: 'websocket', source: 'websocket' });
  const watchPage = (page) => page.on('websocket', onWebSocket);
  context.on('request', onRequest);
  context.on('requestfailed', onFailed);
  context.on('page', watchPage);
  context.pages().forEach(watchPage);
  return {
    requests,
    urls: () => requests.map((r) => r.url),
    offOrigin: (allowed) => requests.filter((r) => !isAllowedUrl(r.url, allowed)),
    stop() {
      context.off('request', onRequest);
      context.off('requestfailed', onFailed);
      context.off('page', watchPage);
      for (const p of context.pages()) p.off('websocket', onWebSocket);
    },
  };
}

/**
 * True for URLs that stay inside the browser (data:, blob:, about:) or whose
 * origin is one of `allowed`. `ws://host` counts as the origin `http://host`.
 * @param {string} url
 * @param {string | string[]} allowed  Origins such as `server.origin`.
 */
export function isAllowedUrl(url, allowed) {
  const list = (Array.isArray(allowed) ? allowed : [allowed]).map((o) => new URL(o).origin);
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (['data:', 'blob:', 'about:', 'chrome-error:'].includes(u.protocol)) return true;
  if (u.protocol === 'ws:') u.protocol = 'http:';
  if (u.protocol === 'wss:') u.protocol = 'https:';
  return list.includes(u.origin);
}

/**
 * @typedef {{ method: string, url: string }} ProxyEntry
 * @typedef {{ server: string, entries: ProxyEntry[], offOrigin: (allowed: string | string[]) => ProxyEntry[], close: () => Promise<void> }} RecordingProxy
 */

/**
 * An HTTP proxy on 127.0.0.1 that records every request Chromium's network
 * stack makes, from any page, frame or worker of any kind (SharedWorkers
 * included), before CSP-free code can hide it. Pass it as
 * `launchBrowser({ proxy })`; it applies to the whole browser.
 *
 * Requests to loopback hosts (127.x, localhost) are forwarded so pages work.
 * Anything else is answered 502 without opening a connection, so a test can
 * never send traffic off the machine. `https:`/`wss:` show up as
 * `CONNECT host:port` (the proxy cannot see the path inside TLS).
 *
 * @returns {Promise<RecordingProxy>}
 */
export async function startRecordingProxy() {
  /** @type {ProxyEntry[]} */
  const entries = [];
  const isLoopback = (hostname) =>
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname === 'localhost' || hostname === '[::1]';
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    entries.push({ method: req.method ?? 'GET', url });
    let target;
    try {
      target = new URL(url);
    } catch {
      res.writeHead(400).end('proxy: expected an absolute URL\n');
      return;
    }
    if (!isLoopback(target.hostname)) {
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('proxy: refusing a non-loopback host\n');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const upstream = http.request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || 80,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${e.message}\n`);
    });
    req.pipe(upstream);
  });
  // https:// and ws:// through an HTTP proxy arrive as CONNECT tunnels.
  server.on('connect', (req, client, head) => {
    const authority = req.url ?? '';
    entries.push({ method: 'CONNECT', url: authority });
    const i = authority.lastIndexOf(':');
    const hostname = authority.slice(0, i);
    const port = Number(authority.slice(i + 1));
    if (!isLoopback(hostname)) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const up = net.connect(port, hostname.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  return {
    server: `http://127.0.0.1:${port}`,
    entries,
    offOrigin(allowed) {
      const list = (Array.isArray(allowed) ? allowed : [allowed]).map((o) => new URL(o));
      return entries.filter((e) => {
        if (e.method === 'CONNECT') return !list.some((o) => o.host === e.url);
        return !isAllowedUrl(e.url, allowed);
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}

/**
 * @typedef {{ source: string, type: string, text: string, location?: string }} ConsoleEntry
 * @typedef {{ source: string, message: string, stack?: string }} PageError
 * @typedef {object} ConsoleLog
 * @property {ConsoleEntry[]} messages  console.* calls from the page and its dedicated workers,
 *   plus Chromium's own messages (CSP refusals, failed loads).
 * @property {PageError[]} errors  Uncaught exceptions and unhandled rejections in the page
 *   or any of its dedicated workers, and renderer crashes.
 * @property {() => ConsoleEntry[]} problems  Messages of type error or warning.
 * @property {() => string} format  Everything, one line each, for a failure message.
 * @property {() => void} stop
 */

/**
 * Collects console output and uncaught errors of a page and of every
 * dedicated worker it starts (nested ones too). Playwright delivers worker
 * console calls on the page, tagged with the worker, and reports uncaught
 * exceptions and unhandled rejections from workers as page errors, so one
 * set of page listeners sees everything. Call it before `page.goto` so
 * nothing early is lost.
 *
 * @param {import('playwright-core').Page} page
 * @returns {ConsoleLog}
 */
export function collectConsole(page) {
  /** @type {ConsoleEntry[]} */
  const messages = [];
  /** @type {PageError[]} */
  const errors = [];
  const onConsole = (msg) => {
    const loc = msg.location();
    const worker = msg.worker();
    messages.push({
      source: worker ? `worker ${worker.url()}` : 'page',
      type: msg.type(),
      text: msg.text(),
      location:
        loc && loc.url ? `${loc.url}:${loc.line ?? loc.lineNumber}:${loc.column ?? loc.columnNumber}` : undefined,
    });
  };
  // Worker errors arrive here too; the stack names the worker's script.
  const onPageError = (err) => errors.push({ source: 'page', message: err.message, stack: err.stack });
  const onCrash = () => errors.push({ source: 'page', message: 'renderer crashed' });
  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  page.on('crash', onCrash);
  return {
    messages,
    errors,
    problems: () => messages.filter((m) => m.type === 'error' || m.type === 'warning'),
    format() {
      const lines = messages.map((m) => `[${m.source}] ${m.type}: ${m.text}${m.location ? `  (${m.location})` : ''}`);
      for (const e of errors) lines.push(`[${e.source}] UNCAUGHT: ${e.stack || e.message}`);
      return lines.length ? lines.join('\n') : '(no console output)';
    },
    stop() {
      page.off('console', onConsole);
      page.off('pageerror', onPageError);
      page.off('crash', onCrash);
    },
  };
}

/**
 * @typedef {object} PageEnv
 * @property {import('playwright-core').Browser} browser
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 * @property {StaticServer | undefined} server  The server withPage started (or was given).
 * @property {string | undefined} url  `server.url`, for `page.goto(url + 'x.html')`.
 * @property {ConsoleLog} console
 * @property {ReturnType<typeof recordRequests>} requests
 */

/**
 * Runs `fn` with a fresh context and page, a console collector and a request
 * recorder, then closes everything it opened, even when `fn` throws. When
 * `fn` throws, the page's console and errors are appended to the error
 * message, since that is usually where the real cause is.
 *
 * @template T
 * @param {(env: PageEnv) => Promise<T>} fn
 * @param {object} [opts]
 * @param {Parameters<typeof startServer>[0] | StaticServer} [opts.server]  Options for a server
 *   to start (and stop afterwards), or a running one to use (left running).
 * @param {import('playwright-core').Browser} [opts.browser]  Reuse this browser (left open);
 *   otherwise one is launched with `opts.launch` and closed afterwards.
 * @param {Parameters<typeof launchBrowser>[0]} [opts.launch]
 * @param {import('playwright-core').BrowserContextOptions} [opts.contextOptions]
 * @param {number} [opts.timeout=60000]  Default timeout for page actions and evaluate, in ms.
 * @returns {Promise<T>}
 */
export async function withPage(fn, opts = {}) {
  const cleanups = [];
  let consoleLog;
  try {
    let server;
    if (opts.server && 'close' in opts.server && 'url' in opts.server)
      server = /** @type {StaticServer} */ (opts.server);
    else if (opts.server) {
      server = await startServer(opts.server);
      cleanups.push(() => server.close());
    }
    let browser = opts.browser;
    if (!browser) {
      browser = await launchBrowser(opts.launch);
      const b = browser;
      cleanups.push(() => b.close());
    }
    const context = await browser.newContext(opts.contextOptions);
    cleanups.push(() => context.close());
    context.setDefaultTimeout(opts.timeout ?? 60_000);
    const requests = recordRequests(context);
    const page = await context.newPage();
    consoleLog = collectConsole(page);
    return await fn({ browser, context, page, server, url: server?.url, console: consoleLog, requests });
  } catch (e) {
    if (consoleLog && e instanceof Error) {
      e.message += `\n--- browser console ---\n${consoleLog.format()}`;
    }
    throw e;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Closing is best effort; the original error matters more.
      }
    }
  }
}

/**
 * A fresh page on a test site whose page sets `window.helpersReady` (tests/browser/package-pages):
 * `fn` gets the page and its console log once the helpers are loaded; the log is added to any
 * failure's message, and the page's context is closed afterwards.
 *
 * @template T
 * @param {import('playwright-core').Browser} browser
 * @param {StaticServer} server
 * @param {(page: import('playwright-core').Page, log: ConsoleLog) => Promise<T>} fn
 * @returns {Promise<T>}
 */
export function onHelpersPage(browser, server, fn) {
  return withPage(
    async ({ page, console: log }) => {
      await page.goto(server.url);
      await page.waitForFunction(() => window.helpersReady === true);
      return fn(page, log);
    },
    { browser, server },
  );
}

/**
 * A fresh `tinyunet-LABEL-screens-*` folder in the system temp dir and a function that saves a
 * screenshot of `target` (a page or a locator) there as `NAME.png`, tells the test (`t`) where,
 * and returns the path; the folder's screenshots are listed when the file's tests end, so that a
 * person can look at them. `options` go to every `screenshot` call (`{ fullPage: true }`, say).
 *
 * @param {string} label
 * @param {object} [options]
 */
export function screenshotFolder(label, options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tinyunet-${label}-screens-`));
  const shots = [];
  after(() => {
    if (shots.length) console.log(`\n${label} screenshots (${dir}):\n${shots.map((s) => `  ${s}`).join('\n')}`);
  });
  return async (target, name, t) => {
    const file = path.join(dir, `${name}.png`);
    await target.screenshot({ path: file, ...options });
    shots.push(file);
    t?.diagnostic(`screenshot: ${file}`);
    return file;
  };
}

/** The built npm package's folder: `TINYUNET_PKG_DIR`, else the repository's `pkg/`. */
export const PKG_DIR = process.env.TINYUNET_PKG_DIR
  ? path.resolve(process.env.TINYUNET_PKG_DIR)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pkg');

/**
 * The set-up most package test files share, registered with node:test's `before`/`after`: checks
 * that the built package has `files` (failing with the command that builds it), serves
 * `package-pages/` with the package at `/pkg/` and the extra `routes`, and launches Chromium, once
 * for the file. `inPage(fn, arg)` runs `fn` on the helpers page (`window.tinyunet` and the test
 * pictures ready) within `ms`.
 *
 * @param {{ files?: string[], routes?: Record<string, { body: string | Buffer, type: string }>, ms?: number }} [opts]
 */
export function packageTestSetup({ files = ['wasm/tinyunet_cpu.js'], routes, ms = 300_000 } = {}) {
  const state = { browser: null, server: null };
  before(async () => {
    for (const file of files) {
      assert.ok(fs.existsSync(path.join(PKG_DIR, file)), `${PKG_DIR}/${file} is missing: run ./build.sh pkg first`);
    }
    state.server = await startServer({
      root: path.join(path.dirname(fileURLToPath(import.meta.url)), 'package-pages'),
      mounts: { '/pkg/': PKG_DIR },
      routes,
    });
    state.browser = await launchBrowser();
  });
  after(async () => {
    await state.browser?.close();
    await state.server?.close();
  });
  return {
    get browser() {
      return state.browser;
    },
    get server() {
      return state.server;
    },
    inPage: (fn, arg) => onHelpersPage(state.browser, state.server, (page) => evaluateWithTimeout(page, fn, arg, ms)),
  };
}

/**
 * Runs in a page (pass it to `page.evaluate`): a 12-megapixel (4288×2848) JPEG as a camera or
 * dermatoscope writes it, a dark ellipse of lesion on skin, as base64, with the lesion's share of
 * the image.
 *
 * @returns {Promise<{ base64: string, width: number, height: number, lesionShare: number }>}
 */
export async function cameraJpegInPage() {
  const [w, h] = [4288, 2848];
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'rgb(214, 168, 140)';
  ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = 'rgb(92, 58, 44)';
  ctx.beginPath();
  ctx.ellipse(w * 0.48, h * 0.52, w * 0.14, h * 0.18, 0.4, 0, Math.PI * 2);
  ctx.fill();
  const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 })).arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return { base64: btoa(binary), width: w, height: h, lesionShare: Math.PI * 0.14 * 0.18 };
}

/**
 * A PNG's header and its inflated image data (one filter byte per row, then the row), with every
 * chunk's CRC checked: what the tests' mask readers build on.
 *
 * @param {Buffer} buffer
 * @returns {{ width: number, height: number, bitDepth: number, colourType: number, raw: Buffer }}
 */
export function inflatePng(buffer) {
  if (buffer.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error('not a PNG');
  let offset = 8;
  const header = {};
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const data = buffer.subarray(offset + 8, offset + 8 + length);
    if (buffer.readUInt32BE(offset + 8 + length) !== zlib.crc32(buffer.subarray(offset + 4, offset + 8 + length)))
      throw new Error(`bad CRC in ${type}`);
    if (type === 'IHDR')
      Object.assign(header, {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bitDepth: data[8],
        colourType: data[9],
      });
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  return { ...header, raw: zlib.inflateSync(Buffer.concat(idat)) };
}

/**
 * Runs in a page served with the package at /pkg/ (pass it to `page.evaluate`): untrained weights
 * of a network with `classes` classes, made by the package, as base64 safetensors.
 *
 * @param {number} classes
 * @returns {Promise<string>}
 */
export async function newWeightsInPage(classes) {
  const { Segmenter } = await import('/pkg/tinyunet.js');
  const bytes = await (await Segmenter.create({ backend: 'cpu', classes, inputSize: 64 })).exportWeights();
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Evaluates `fn` in the page and fails with a readable message if it does
 * not settle within `ms`. Playwright's `page.evaluate` has no timeout of its
 * own, so a hung promise in the page would otherwise hang the test.
 *
 * @template R, A
 * @param {import('playwright-core').Page} page
 * @param {(arg: A) => R | Promise<R>} fn
 * @param {A} [arg]
 * @param {number} [ms=60000]
 * @returns {Promise<R>}
 */
export async function evaluateWithTimeout(page, fn, arg, ms = 60_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`page.evaluate did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([page.evaluate(fn, arg), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function pngChunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * A PNG whose header claims `width`×`height` (8-bit RGB, or `colourType` 6 for RGBA), followed by
 * whatever `idat` is: the tool for PNGs a canvas cannot make (huge claims, garbage data).
 */
export function pngWith(width, height, idat, colourType = 2) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An RGBA PNG of exactly these pixels (unpremultiplied, as the format stores them). */
export function rgbaPng(width, height, rgba) {
  const rows = [];
  for (let y = 0; y < height; y++)
    rows.push(Buffer.from([0]), Buffer.from(rgba.subarray(y * width * 4, (y + 1) * width * 4)));
  return pngWith(width, height, zlib.deflateSync(Buffer.concat(rows)), 6);
}
