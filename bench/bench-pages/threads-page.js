// The threaded CPU build runs only in a Worker of a cross-origin isolated page: this page starts
// threads-worker.js and forwards calls to it (`window.threadsBench.call(name, ...args)`).
const worker = new Worker(new URL('./threads-worker.js', import.meta.url), { type: 'module' });
let next = 0;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const { id, result, error } = data;
  pending.get(id)?.[error === undefined ? 0 : 1](error === undefined ? result : new Error(error));
  pending.delete(id);
};
worker.onerror = (e) => {
  for (const [, [, reject]] of pending) reject(new Error(e.message || 'the bench worker failed'));
  pending.clear();
};
window.threadsBench = {
  call: (name, ...args) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, [resolve, reject]);
      worker.postMessage({ id, name, args });
    }),
};
window.threadsBenchReady = true;
