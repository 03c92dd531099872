// Sends three requests to another origin: a fetch from the page, an image, and a fetch from a
// module worker. window.done resolves when each has been attempted.
const to = new URLSearchParams(location.search).get('to');
const attempt = (p) =>
  p.then(
    () => 'sent',
    (e) => `failed: ${e?.message ?? e}`,
  );
const image = new Promise((resolve) => {
  const img = new Image();
  img.onload = img.onerror = () => resolve('attempted');
  img.src = `${to}/page-image`;
});
const worker = new Promise((resolve) => {
  const w = new Worker(`leak-worker.js?to=${encodeURIComponent(to)}`, { type: 'module' });
  w.onmessage = (e) => resolve(e.data);
  w.onerror = (e) => resolve(`worker error: ${e.message}`);
});
window.done = Promise.all([attempt(fetch(`${to}/page-fetch`, { mode: 'no-cors' })), image, worker]);
