// checks.js in a module Worker, called by page.js.
import * as checks from './checks.js';

self.onmessage = async ({ data: { id, name, args } }) => {
  try {
    postMessage({ id, result: await checks[name](...args) });
  } catch (e) {
    postMessage({ id, error: String(e?.message ?? e) });
  }
};
