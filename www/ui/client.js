// The page's side of the worker protocol (see the PROTOCOL comment in worker.js): promises for
// requests, callbacks for progress, AbortSignals for cancelling.

export class ModelClient {
  #worker;
  #nextId = 1;
  #pending = new Map(); // id → { resolve, reject, onProgress }
  #ready;

  /**
   * @param {URL | string} url  the worker script
   * @param {{ onState?: (state: object) => void, onCrash?: (message: string) => void }} hooks
   */
  constructor(url, hooks = {}) {
    this.onState = hooks.onState ?? (() => {});
    this.onCrash = hooks.onCrash ?? (() => {});
    this.#worker = new Worker(url, { type: 'module', name: 'tinyunet-model' });
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.addEventListener('message', (e) => {
        if (e.data?.type === 'ready') resolve();
      });
      // A module worker that fails to load (missing package, syntax error) only gets a bare
      // error event; there is nothing more specific to tell the user.
      this.#worker.addEventListener('error', (e) => {
        const message = e.message || 'the model worker could not be loaded (is pkg/wasm/ built? run ./build.sh pkg)';
        reject(new Error(message));
        this.#failAll(message);
        this.onCrash(message);
      });
      this.#worker.addEventListener('messageerror', () =>
        this.onCrash('a message from the model worker could not be read'),
      );
    });
    this.#worker.addEventListener('message', (e) => this.#onMessage(e.data));
    // A worker that fails to load is reported through onCrash and its requests' rejections; a
    // caller that never waits for `ready()` must not leave an unhandled rejection behind.
    this.#ready.catch(() => {});
  }

  /** Resolves once the worker has loaded the package. */
  ready() {
    return this.#ready;
  }

  /** Stops the worker now; requests still waiting reject. */
  terminate() {
    this.#worker.terminate();
    this.#failAll('the model worker was stopped');
  }

  /** Stops the worker once its last pending request has settled (nothing new is sent to it). */
  retire() {
    this.onState = () => {};
    this.onCrash = () => {};
    if (this.#pending.size === 0) this.#worker.terminate();
    else this.#retiring = true;
  }

  #retiring = false;

  /** Sends a message that gets no reply (see the PROTOCOL comment in worker.js). */
  notify(type, args = {}) {
    this.#worker.postMessage({ type, ...args });
  }

  /**
   * Sends a request. `signal` cancels it (the promise then rejects with an AbortError);
   * ArrayBuffers listed in `transfer` move to the worker.
   */
  request(type, args = {}, { onProgress, signal, transfer = [] } = {}) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new DOMException('cancelled', 'AbortError'));
        return;
      }
      this.#pending.set(id, { resolve, reject, onProgress });
      signal?.addEventListener('abort', () => this.#worker.postMessage({ type: 'cancel', id }), { once: true });
      this.#worker.postMessage({ id, type, ...args }, transfer);
    });
  }

  #onMessage(msg) {
    if (!msg || msg.type === 'ready') return;
    if (msg.type === 'state') {
      this.onState(msg.state);
      return;
    }
    const entry = this.#pending.get(msg.id);
    if (!entry) return;
    if (msg.type === 'progress') {
      entry.onProgress?.(msg);
      return;
    }
    this.#pending.delete(msg.id);
    if (msg.type === 'result') entry.resolve(msg.value);
    else entry.reject(toError(msg.error));
    if (this.#retiring && this.#pending.size === 0) this.#worker.terminate();
  }

  #failAll(message) {
    for (const { reject } of this.#pending.values()) reject(new Error(message));
    this.#pending.clear();
  }
}

function toError({ name, message, kind }) {
  if (name === 'AbortError') return new DOMException(message, 'AbortError');
  const e = new Error(message);
  e.name = name;
  if (kind) e.kind = kind;
  return e;
}

/** True for the rejection of a cancelled request. */
export function isAbort(e) {
  return e?.name === 'AbortError';
}

/**
 * The part of a package error message a person needs: the message starts with the error's
 * `kind` (`input: `, `weights: `…), which is for programs; the rest names the file and the problem.
 */
export function friendly(e) {
  const message = String(e?.message ?? e);
  const prefix = e?.kind ? `${e.kind}: ` : '';
  return prefix && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
