// Fetching the package's files: each build's `.wasm` and the weights, in any form a caller gives
// them, with their download told to `onProgress` (`LoadProgress` in tinyunet.d.ts) as bytes arrive.

import { failure } from './errors.js';

export const isNode = Boolean(globalThis.process?.versions?.node) && typeof window === 'undefined';

/** Node's `fs/promises`, behind a name bundlers for the browser do not try to resolve. */
function nodeFs() {
  const name = 'node:fs/promises';
  return import(/* @vite-ignore */ /* webpackIgnore: true */ name);
}

/** The bytes behind a `file:` URL in Node (where `fetch` does not read files); `download` told. */
export async function readFileUrl(url, download) {
  const { readFile } = await nodeFs();
  const bytes = new Uint8Array(await readFile(url));
  // A local file arrives at once: `start` and `done`, with its size.
  download?.start(String(url), bytes.length);
  download?.done(bytes.length);
  return bytes;
}

/**
 * Calls a user's progress callback. Its exception must not fail (or half-fail) a download that
 * other segmenters may share, so it is rethrown on its own, where the page sees it as any
 * uncaught error.
 */
function tell(listener, event) {
  try {
    listener(event);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

/**
 * One file's download as `onProgress` reports it (`LoadProgress` in tinyunet.d.ts): `start`, then
 * `progress` as bytes arrive, then `done`. A build's `.wasm` is fetched once per page however many
 * `preload`/`create` calls wait for it, so a listener that joins late is first told where it stands.
 */
export class Download {
  #listeners = new Set();
  #last = null;

  constructor(file, build = null) {
    this.file = file;
    this.build = build;
  }

  /** Adds a listener (nothing for none); one that joins late hears `start` and the latest news. */
  listen(listener) {
    if (!listener) return;
    const last = this.#last;
    if (last) {
      tell(listener, {
        ...last,
        status: 'start',
        loaded: last.status === 'start' ? last.loaded : 0,
        progress: last.total ? 0 : null,
      });
      if (last.status !== 'start') tell(listener, { ...last });
    }
    this.#listeners.add(listener);
  }

  #emit(status, loaded, total) {
    const event = {
      status,
      file: this.file,
      build: this.build,
      url: this.url ?? null,
      loaded,
      total,
      progress: total ? Math.min(100, (100 * loaded) / total) : null,
    };
    this.#last = event;
    for (const listener of this.#listeners) tell(listener, { ...event });
  }

  start(url, total) {
    this.url = url;
    this.total = total;
    this.#emit('start', 0, total);
  }

  progress(loaded) {
    // A Content-Length that the body outgrows was not the body's size (a compressed transfer whose
    // Content-Encoding this origin may not read): the size is unknown from then on.
    if (this.total !== null && loaded > this.total) this.total = null;
    this.#emit('progress', loaded, this.total);
  }

  done(loaded) {
    this.total = loaded;
    this.#emit('done', loaded, loaded);
  }
}

/**
 * The size a response's body will have once read, from Content-Length; null when unknown: no
 * header, or a body compressed in transit (Content-Length then counts the compressed bytes, while
 * the body yields them decompressed).
 */
export function declaredSize(response) {
  const encoding = response.headers.get('Content-Encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return null;
  const length = response.headers.get('Content-Length');
  const n = length === null ? NaN : Number(length);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Reads a body stream to its end, telling `download` as bytes arrive; resolves to its bytes, or
 * to null when `keep` is false (the bytes are only counted).
 */
export async function readCounted(body, download, keep = true) {
  const reader = body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (keep) chunks.push(value);
    loaded += value.byteLength;
    download.progress(loaded);
  }
  download.done(loaded);
  if (!keep) return null;
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/**
 * Fetches a build's `.wasm` for the glue. The glue gets the `Response` itself, so it still
 * compiles while the bytes arrive (`instantiateStreaming`) and the browser can cache the compiled
 * code under the file's URL; the bytes are counted on a clone (a tee of the same download: no
 * second request, and at most the bytes the compiler has not yet taken are held twice).
 */
export async function fetchWasm(url, download) {
  const response = await fetch(url);
  if (!response.ok || !response.body) return response; // the glue reports a bad status
  // Told once the headers are in, so that `start` already has the size.
  download.start(response.url || String(url), declaredSize(response));
  const counting = response.clone();
  readCounted(counting.body, download, false).catch(() => {
    // The glue's read of the same download fails too, and that failure is the one reported.
  });
  return response;
}

/**
 * Compiles a build's `.wasm` from a good `Response` (streaming: compiled while the bytes arrive)
 * or from bytes, so that the compiled module can be instantiated again (a training instance,
 * training-instance.js); a bad `Response` goes to the glue, which reports its status.
 */
export async function compileWasm(source) {
  if (source instanceof Uint8Array) return WebAssembly.compile(source);
  if (!source.ok || typeof WebAssembly.compileStreaming !== 'function') return source;
  try {
    return await WebAssembly.compileStreaming(source);
  } catch (e) {
    // A server that does not say `application/wasm` (streaming refuses the body before reading it).
    if (source.headers.get('Content-Type') !== 'application/wasm' && !source.bodyUsed)
      return WebAssembly.compile(await source.arrayBuffer());
    throw e;
  }
}

/**
 * The bytes of weights in any accepted form (a `Response` must be 2xx; a URL is fetched). A URL
 * fetched or a `Response` read here is told to `onProgress` as file `weights`; bytes and Blobs,
 * already in memory, are not.
 */
export async function weightBytes(source, onProgress) {
  const download = new Download('weights');
  download.listen(onProgress);
  if (typeof source === 'string' || (typeof URL !== 'undefined' && source instanceof URL)) {
    try {
      if (isNode && String(source).startsWith('file:'))
        return await readFileUrl(new URL(source), onProgress && download);
      source = await fetch(source);
    } catch (e) {
      throw failure('weights', `${source} could not be fetched: ${e?.message ?? e}`, e);
    }
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) {
      throw failure(
        'weights',
        `the server answered ${source.status}${source.statusText ? ` ${source.statusText}` : ''} for ${source.url || 'the weights'}`,
      );
    }
    if (!onProgress || !source.body) return new Uint8Array(await source.arrayBuffer());
    download.start(source.url || null, declaredSize(source));
    return readCounted(source.body, download);
  }
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  throw failure('input', 'weights must be an ArrayBuffer, a Uint8Array, a Blob, a Response or a URL');
}

/**
 * The bytes of a weights option that may be a promise (of a `Response`, say); undefined for none
 * when they are `optional`. A failed fetch becomes a `weights:` error like every other problem with
 * the weights. `onProgress` hears of a URL's or a `Response`'s download (see weightBytes).
 */
export async function weightsOf(source, optional = false, onProgress = undefined) {
  let value;
  try {
    value = await source;
  } catch (e) {
    throw failure('weights', `they could not be loaded: ${e?.message ?? e}`, e);
  }
  return value === undefined && optional ? undefined : weightBytes(value, onProgress);
}
