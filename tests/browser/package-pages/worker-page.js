// Runs the package inside a dedicated module worker and reports what it got back.
// The page's query (`?webgpu`) passes on to the worker, which picks its backend from it.
const worker = new Worker(new URL(`./worker.js${location.search}`, import.meta.url), { type: 'module' });
window.workerResult = new Promise((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => resolve({ error: e.message });
});
