// SharedWorker: on connect, fetch each ?fetch=URL and post the results.
onconnect = async (event) => {
  const port = event.ports[0];
  const results = [];
  for (const url of new URLSearchParams(location.search).getAll('fetch')) {
    try {
      const r = await fetch(url);
      results.push({ url, status: r.status });
    } catch (e) {
      results.push({ url, error: String(e) });
    }
  }
  port.postMessage(results);
};
