// tinyunet's errors: every error the package throws (and every one the wasm core throws, once it
// reaches the caller) is a `TinyunetError` with a `kind` — 'input', 'weights', 'config', 'backend'
// or 'io' — for programs to branch on, and a message that starts with the same word and then names
// the file and the problem, for people. Where one error comes from another (a failed fetch, the
// GPU lost), the other is kept as `cause`. A cancelled call rejects with the platform's
// `DOMException` named `AbortError` instead, as `fetch` does.

const KINDS = ['input', 'weights', 'config', 'backend', 'io'];

/** An error of tinyunet's: `kind` says which, the message starts with it. */
export class TinyunetError extends Error {
  /**
   * @param {'input'|'weights'|'config'|'backend'|'io'} kind
   * @param {string} message what went wrong, without the kind (it is prefixed)
   * @param {{ cause?: unknown }} [options] the error this one comes from
   */
  constructor(kind, message, options) {
    super(`${kind}: ${message}`, options);
    this.name = 'TinyunetError';
    this.kind = kind;
  }
}

/** A `TinyunetError` of `kind`; `cause`, when given, is the error it comes from. */
export function failure(kind, message, cause) {
  return new TinyunetError(kind, message, cause === undefined ? undefined : { cause });
}

/**
 * Anything thrown, as an error to hand to the caller: the core's errors (plain `Error`s with a
 * `kind`, from wasm-bindgen) become `TinyunetError`s with the same message, keeping the original
 * as `cause`; other errors (an `AbortError`, a `WebAssembly.RuntimeError`) stay as they are; a
 * thrown string or value becomes an `Error` whose `cause` is that value.
 */
export function asError(e) {
  if (e instanceof TinyunetError) return e;
  if (e instanceof Error && KINDS.includes(e.kind)) {
    const prefix = `${e.kind}: `;
    const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return failure(e.kind, message, e);
  }
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : String(e?.message ?? e), { cause: e });
}
