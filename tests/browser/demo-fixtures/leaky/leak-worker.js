// The worker half of the leaky page.
const to = new URLSearchParams(location.search).get('to');
fetch(`${to}/worker-fetch`, { mode: 'no-cors' }).then(
  () => postMessage('sent'),
  (e) => postMessage(`failed: ${e?.message ?? e}`),
);
