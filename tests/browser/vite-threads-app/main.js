// A Vite app that runs tinyunet in a module Worker, as the threaded build needs: the bundle must
// carry the pool's thread-worker.js and the threaded build, and they must run from it.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
window.viteResult = new Promise((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => resolve({ error: e.message || 'the worker failed' });
});
