// The demo's web server, and the one static server the browser tests use too.
//
//   node www/serve.mjs [--port N]      (what `./build.sh demo` runs; prints the URL)
//
// URL layout (the page relies on it):
//   /            → www/   (index.html, app.js, worker.js, ui/, samples/, models/)
//   /pkg/        → pkg/   (the npm package exactly as a user gets it: tinyunet.js, image.js, wasm/)
// The worker imports the package as `../pkg/tinyunet.js`. From `/worker.js` that is `/pkg/tinyunet.js`
// here, and it is the same file when the repository root is served by any other static server
// (`/www/worker.js` → `/pkg/tinyunet.js`), so the page works both ways.
//
// Every response carries the page's Content-Security-Policy (workers take theirs from their own
// script's response, so it is not enough on the HTML), and COOP/COEP so the page is
// cross-origin isolated (wasm threads need SharedArrayBuffer; the page works without them too).
// Only 127.0.0.1 is ever bound: the demo is for the person at this machine.
//
// Caching: files are sent with `Cache-Control: no-cache` and validators (ETag, Last-Modified), so
// a second visit revalidates each file and gets `304 Not Modified` instead of the bytes, and the
// browser's cache of compiled WebAssembly (kept with the HTTP cache entry) can serve. Not hashed
// names with `immutable`: the package and the page keep their published names (the worker imports
// `../pkg/tinyunet.js`, the package finds `wasm/tinyunet_cpu_bg.wasm` beside it), and a rebuild
// must show on the next reload, never after a cache lifetime; one round trip per file on loopback
// is the price. Routes answered from memory (tests) stay `no-store`.
//
// tests/browser/harness.mjs re-exports `startServer` from here, so tests and demo serve the same
// way; this file must not import anything from tests/.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The page may load only its own files: no fonts, analytics or CDNs, and nothing it could send
 * data to. `wasm-unsafe-eval` lets the model's WebAssembly compile; `blob:`/`data:` images are
 * the user's own pictures and masks, made in the page.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Headers every demo response gets besides CSP and COOP/COEP. */
export const DEMO_HEADERS = Object.freeze({
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
});

/**
 * `startServer` options for the demo: the URL layout above, CSP, isolation headers.
 * @param {{ www?: string, pkg?: string }} [dirs]  Override the folders (tests use the defaults).
 */
export function demoServerOptions(dirs = {}) {
  return {
    root: dirs.www ?? HERE,
    mounts: { '/pkg/': dirs.pkg ?? path.join(HERE, '..', 'pkg') },
    crossOriginIsolated: true,
    csp: CSP,
    headers: { ...DEMO_HEADERS },
  };
}

/** MIME types by lower-case extension; anything else is octet-stream. */
export const MIME_TYPES = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  // `instantiateStreaming` refuses anything but exactly application/wasm.
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
});

/** @param {string} file */
export function mimeType(file) {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * One response the server gave, kept so tests can assert what was fetched.
 * @typedef {{ method: string, path: string, status: number }} ServedEntry
 */

/**
 * A route answered from memory instead of the disk. Either a function that
 * writes the response itself, or a fixed body.
 * @typedef {((req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>)
 *   | { body?: string | Buffer, type?: string, status?: number, headers?: Record<string, string> }} Route
 */

/**
 * @typedef {object} StaticServer
 * @property {string} url     Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`.
 * @property {string} origin  `http://127.0.0.1:41234` (what `location.origin` is in the page).
 * @property {number} port
 * @property {ServedEntry[]} log  Every request answered, in order.
 * @property {() => Promise<void>} close  Stops listening and drops keep-alive sockets.
 */

/**
 * Starts a static file server on 127.0.0.1 with an ephemeral port.
 *
 * Several folders can be served at once: `mounts` maps a URL prefix to a
 * folder, and the longest matching prefix wins, so
 * `{ root: 'www', mounts: { '/pkg/': 'pkg/wasm' } }` serves `/pkg/x.wasm`
 * from `pkg/wasm/x.wasm` and everything else from `www/`. Relative folders
 * are resolved against the current working directory. A folder URL serves
 * its `index.html`. A missing `/favicon.ico` is answered 204, not 404, so
 * pages do not log an error for it.
 *
 * Requests that resolve outside their folder (`../`, `%2e%2e/`, `..%2f`,
 * `\`) get 403, without touching the disk. Symlinks inside a folder are
 * followed on purpose (a checkout may link `www/pkg` to the built package).
 *
 * @param {object} [opts]
 * @param {string} [opts.root]  Folder served at `/`.
 * @param {Record<string, string>} [opts.mounts]  URL prefix (`'/pkg/'`) → folder.
 * @param {Record<string, Route>} [opts.routes]  Exact path → in-memory response; checked before the disk.
 * @param {boolean} [opts.crossOriginIsolated=false]  Send COOP `same-origin` + COEP
 *   `require-corp` (+ CORP `same-origin`) on every response, which makes the page
 *   `crossOriginIsolated` and so gives it `SharedArrayBuffer` (wasm threads need it).
 * @param {string} [opts.csp]  Content-Security-Policy sent on every response
 *   (workers take their CSP from their own script's response, so not only on HTML).
 * @param {Record<string, string>} [opts.headers]  Extra headers on every response.
 * @param {'revalidate' | 'none'} [opts.caching='revalidate']  Files from the disk: `revalidate`
 *   sends `Cache-Control: no-cache` with an ETag and Last-Modified and answers a matching
 *   `If-None-Match` / `If-Modified-Since` with 304 (the browser keeps the file and re-asks every
 *   time); `none` sends `no-store` (every visit downloads everything again).
 * @param {string} [opts.host='127.0.0.1']  Any 127.x.y.z address (e.g. to make a second origin).
 * @param {number} [opts.port=0]  Port to listen on; 0 picks a free one.
 * @returns {Promise<StaticServer>}
 */
export async function startServer(opts = {}) {
  const {
    root,
    mounts = {},
    routes = {},
    crossOriginIsolated = false,
    csp,
    headers = {},
    caching = 'revalidate',
  } = opts;
  if (!['revalidate', 'none'].includes(caching)) {
    throw new Error(`startServer: caching must be 'revalidate' or 'none', got ${JSON.stringify(caching)}`);
  }
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`startServer: host must be a 127.x.y.z loopback address, got ${host}`);
  }
  /** @type {[string, string][]} prefix → absolute folder, longest prefix first */
  const table = Object.entries(mounts).map(([prefix, dir]) => {
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
      throw new Error(`startServer: mount prefix must start and end with '/', got ${JSON.stringify(prefix)}`);
    }
    return [prefix, path.resolve(dir)];
  });
  if (root !== undefined) table.push(['/', path.resolve(root)]);
  table.sort((a, b) => b[0].length - a[0].length);
  if (table.length === 0 && Object.keys(routes).length === 0) {
    throw new Error('startServer: give root, mounts or routes');
  }

  const common = { 'Cache-Control': 'no-store', ...headers };
  if (crossOriginIsolated) {
    common['Cross-Origin-Opener-Policy'] = 'same-origin';
    common['Cross-Origin-Embedder-Policy'] = 'require-corp';
    // Not required for same-origin loads, but lets another local origin
    // (a second startServer) be embedded by an isolated page if a test wants.
    common['Cross-Origin-Resource-Policy'] = 'cross-origin';
  }
  if (csp) common['Content-Security-Policy'] = csp;

  /** @type {ServedEntry[]} */
  const log = [];

  const server = http.createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const rawPath = (req.url ?? '/').split('?')[0].split('#')[0];
    const send = (status, body = '', type = 'text/plain; charset=utf-8', extra = {}) => {
      log.push({ method, path: rawPath, status });
      res.writeHead(status, { ...common, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
      res.end(method === 'HEAD' ? undefined : body);
    };
    // Chromium asks for /favicon.ico on every page; a 404 there would be a
    // console error in every test that checks for a clean console.
    const notFound = () => (rawPath === '/favicon.ico' ? send(204) : send(404, `not found: ${rawPath}\n`));
    try {
      const route = routes[rawPath];
      if (typeof route === 'function') {
        for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
        res.on('finish', () => log.push({ method, path: rawPath, status: res.statusCode }));
        await route(req, res);
        return;
      }
      if (route) {
        return send(route.status ?? 200, route.body ?? '', route.type ?? mimeType(rawPath), route.headers);
      }
      if (method !== 'GET' && method !== 'HEAD')
        return send(405, 'method not allowed\n', undefined, { Allow: 'GET, HEAD' });

      let decoded;
      try {
        decoded = decodeURIComponent(rawPath);
      } catch {
        return send(400, 'bad path encoding\n');
      }
      if (decoded.includes('\0')) return send(400, 'bad path\n');
      const mount = table.find(([prefix]) => decoded.startsWith(prefix) || decoded + '/' === prefix);
      if (!mount) return notFound();
      const [prefix, dir] = mount;
      // Treat `\` as a separator too, then check the resolved path is still
      // inside the folder: a plain string check on the URL is not enough
      // once %2e%2e and friends are decoded.
      const rest = decoded.slice(prefix.length).replaceAll('\\', '/');
      let file = path.resolve(dir, rest);
      if (file !== dir && !file.startsWith(dir + path.sep)) {
        return send(403, 'forbidden: path leaves the served folder\n');
      }
      let stat;
      try {
        stat = await fs.promises.stat(file);
        if (stat.isDirectory()) {
          if (!decoded.endsWith('/')) {
            // Redirect so relative URLs inside index.html resolve correctly.
            return send(301, '', undefined, { Location: rawPath + '/' });
          }
          file = path.join(file, 'index.html');
          stat = await fs.promises.stat(file);
        }
      } catch {
        return notFound();
      }
      if (!stat.isFile()) return notFound();
      const validators = caching === 'revalidate' ? fileValidators(stat) : {};
      if (caching === 'revalidate' && notModified(req, validators)) {
        log.push({ method, path: rawPath, status: 304 });
        res.writeHead(304, { ...common, ...validators });
        return res.end();
      }
      log.push({ method, path: rawPath, status: 200 });
      res.writeHead(200, { ...common, ...validators, 'Content-Type': mimeType(file), 'Content-Length': stat.size });
      if (method === 'HEAD') return res.end();
      fs.createReadStream(file)
        .on('error', (e) => res.destroy(e))
        .pipe(res);
    } catch (e) {
      if (!res.headersSent) send(500, `server error: ${e?.message ?? e}\n`);
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve(undefined));
  });
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  const origin = `http://${host}:${port}`;
  return {
    url: origin + '/',
    origin,
    port,
    log,
    close: () => closeServer(server),
  };
}

/**
 * A file's validators for revalidation: an ETag from its size and modification time (to the
 * microsecond, so a rebuild within the same second still changes it), Last-Modified, and
 * `no-cache` (store it, but ask before every use).
 * @param {fs.Stats} stat
 */
export function fileValidators(stat) {
  return {
    'Cache-Control': 'no-cache',
    ETag: `"${stat.size.toString(16)}-${Math.round(stat.mtimeMs * 1000).toString(16)}"`,
    'Last-Modified': new Date(stat.mtimeMs).toUTCString(),
  };
}

/**
 * Whether the browser's copy is current: its `If-None-Match` names the ETag, or (without
 * `If-None-Match`, which takes precedence) `If-Modified-Since` is not before the file's time.
 */
function notModified(req, validators) {
  const match = req.headers['if-none-match'];
  if (match !== undefined) {
    return match.trim() === '*' || match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === validators.ETag);
  }
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return Number.isFinite(since) && Date.parse(validators['Last-Modified']) <= since;
}

/** Close a node server without waiting for Chromium's idle keep-alive sockets. */
function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve(undefined));
    server.closeAllConnections();
  });
}

/** Parses `--port N` / `--port=N` (or $PORT); undefined when not given. */
function requestedPort(argv) {
  for (let i = 0; i < argv.length; i++) {
    const m = /^--port(?:=(.*))?$/.exec(argv[i]);
    if (m) return Number(m[1] ?? argv[i + 1]);
  }
  return process.env.PORT ? Number(process.env.PORT) : undefined;
}

/**
 * The same port on every run keeps the page's origin, and so its IndexedDB (the user's trained
 * weights), across restarts; if it is taken, the next few are tried, then any free one.
 */
export const DEFAULT_PORT = 8123;

async function main() {
  const asked = requestedPort(process.argv.slice(2));
  if (asked !== undefined && !(Number.isInteger(asked) && asked >= 0 && asked < 65536)) {
    console.error(`serve: --port must be an integer from 0 to 65535, got ${asked}`);
    process.exit(2);
  }
  const candidates = asked !== undefined ? [asked] : [...Array.from({ length: 10 }, (_, i) => DEFAULT_PORT + i), 0];
  const options = demoServerOptions();
  if (!fs.existsSync(path.join(options.mounts['/pkg/'], 'wasm'))) {
    console.warn('serve: pkg/wasm/ is missing; run `./build.sh pkg` (or `./build.sh demo`) first');
  }
  let server;
  for (const port of candidates) {
    try {
      server = await startServer({ ...options, port });
      break;
    } catch (e) {
      if (e?.code !== 'EADDRINUSE' || port === candidates.at(-1)) throw e;
    }
  }
  console.log(`tinyunet demo: ${server.url}`);
  console.log('(serving www/ at / and pkg/ at /pkg/ on 127.0.0.1 only; Ctrl+C to stop)');
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(`serve: ${e?.message ?? e}`);
    process.exit(1);
  });
}
