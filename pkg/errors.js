// tinyunet's errors: every `Error` the package throws (and every one the wasm core throws) has a
// `kind` — 'input', 'weights', 'config', 'backend' or 'io' — for programs to branch on, and a
// message that starts with the same word and then names the file and the problem, for people.

/** An `Error` of `kind` whose message is `${kind}: ${message}`. */
export function failure(kind, message) {
  return Object.assign(new Error(`${kind}: ${message}`), { kind });
}

/** Anything thrown, as an `Error` (a wasm-bindgen string, say); its `kind` is kept. */
export function asError(e) {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : String(e?.message ?? e));
}
