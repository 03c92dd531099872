// The threads tests' page: runs checks.js on this (main) thread, `onMain(name, ...args)`, or in a
// module Worker, `inWorker(name, ...args)`, the only place the package may run the threaded build.
import * as checks from './checks.js';

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let next = 0;
const pending = new Map();
worker.onmessage = ({ data: { id, result, error } }) => {
  const [resolve, reject] = pending.get(id);
  pending.delete(id);
  if (error === undefined) resolve(result);
  else reject(new Error(error));
};
worker.onerror = (e) => {
  for (const [, [, reject]] of pending) reject(new Error(`the test worker failed: ${e.message}`));
  pending.clear();
};

window.inWorker = (name, ...args) =>
  new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, [resolve, reject]);
    worker.postMessage({ id, name, args });
  });
window.onMain = (name, ...args) => checks[name](...args);
window.helpersReady = true;
