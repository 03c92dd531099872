// One thread of the threaded CPU build's pool (pkg/threads.js starts one Worker per thread): it
// instantiates the module on the memory it is sent, says so, and becomes a rayon pool thread for
// good: `runPoolThread` waits until the pool is built and never returns while the page lives.
import init, { runPoolThread } from './wasm/tinyunet_cpu-threads.js';

self.addEventListener('message', function onMessage({ data }) {
  if (data?.type !== 'tinyunet-thread-init') return;
  self.removeEventListener('message', onMessage);
  init({ module_or_path: data.module, memory: data.memory }).then(
    () => {
      postMessage({ type: 'tinyunet-thread-ready' });
      runPoolThread();
    },
    (e) =>
      postMessage({
        type: 'tinyunet-thread-failed',
        message: `the pool thread could not instantiate the module: ${e?.message ?? e}`,
      }),
  );
});
