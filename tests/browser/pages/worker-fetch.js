// Fetches each ?fetch=URL in turn; failures (refused, CORS) are results too.
(async () => {
  const results = [];
  for (const url of new URLSearchParams(location.search).getAll('fetch')) {
    try {
      const r = await fetch(url);
      results.push({ url, status: r.status, body: (await r.text()).trim() });
    } catch (e) {
      results.push({ url, error: String(e) });
    }
  }
  postMessage(results);
})();
