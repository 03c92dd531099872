// Runs the package inside a dedicated module worker and reports what it got back.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
window.workerResult = new Promise((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => resolve({ error: e.message });
});
